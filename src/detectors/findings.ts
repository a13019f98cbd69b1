import type { LostReason } from '../state/observer.js';
import type { TaskState } from '../state/task-table.js';

/** Final outcomes a task's attempts are counted against (celery_task_attempts{outcome}). */
export type AttemptOutcome = 'succeeded' | 'failed' | 'rejected' | 'revoked' | 'lost';

/**
 * What the event-driven detectors found, handed to the sinks (a counter, a log line). Detectors
 * decide; the output of their module (outputs.ts) records: no detector class touches prom-client or the logger.
 */
export type Finding =
  | { readonly kind: 'task-lost'; readonly name: string; readonly queue: string | undefined; readonly uuid: string; readonly worker: string | undefined; readonly reason: LostReason }
  | { readonly kind: 'lost-task-reported'; readonly name: string; readonly uuid: string; readonly worker: string | undefined; readonly state: TaskState | undefined }
  | { readonly kind: 'duplicate-execution'; readonly name: string; readonly queue: string | undefined; readonly uuid: string; readonly firstWorker: string; readonly secondWorker: string }
  | { readonly kind: 'attempts'; readonly name: string; readonly outcome: AttemptOutcome; readonly attempts: number }
  | { readonly kind: 'task-events-off'; readonly hostname: string; readonly processed: number | undefined };

export type Report = (finding: Finding) => void;
