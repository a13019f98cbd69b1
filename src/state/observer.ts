import type { TaskEvent } from '../protocol/events.js';
import type { Attempt } from './attempts.js';
import type { TaskRecord } from './task-table.js';

/**
 * What the state machine tells its sinks. Each method is called once per event that made the
 * transition, after the record was updated, with the record as it stands then. Sinks must not
 * mutate the record: what they remember per task they keep in tables of their own (per-task.ts).
 *
 * `attempt` is the attempt the machine decided the event belongs to (attempts.ts): which retry
 * and delivery it is, when it started, and whether it had already ended. It is valid for the call
 * only: an observer copies what it keeps. One that does not care about attempts leaves it out.
 */
export interface TaskObserver {
  taskSent(task: TaskRecord, event: TaskEvent): void;
  taskReceived(task: TaskRecord, event: TaskEvent): void;
  /** `queueWait`: seconds from when it was queued (or its ETA) to now, when known. */
  taskStarted(task: TaskRecord, event: TaskEvent, queueWait: number | undefined, attempt: Attempt): void;
  /** `runtime`: seconds of this attempt, when known. */
  taskSucceeded(task: TaskRecord, event: TaskEvent, runtime: number | undefined, attempt: Attempt): void;
  taskFailed(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined, attempt: Attempt): void;
  taskRetried(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined, attempt: Attempt): void;
  taskRejected(task: TaskRecord, event: TaskEvent, attempt: Attempt): void;
  taskRevoked(task: TaskRecord, event: TaskEvent, attempt: Attempt): void;
  taskCancelled(task: TaskRecord, event: TaskEvent, attempt: Attempt): void;
  /**
   * The task will get no final event: its worker went down while it was received or running
   * (`worker-lost`), or it was forgotten unfinished to bound memory (`evicted`). Emitted by the
   * state machine's housekeeping (`tick`), with no event. `attempt` is the attempt that ends;
   * `inferredStart` with no `receivedAt` means none ran.
   */
  taskLost(task: TaskRecord, reason: LostReason, now: number, attempt: Attempt): void;
  /**
   * The state forgot the record (evicted, after `taskLost` if it was unfinished): what a sink
   * keeps under its `key` (per-task.ts) must go, as the key will name another task.
   */
  taskForgotten(task: TaskRecord): void;
}

export type LostReason = 'worker-lost' | 'evicted';
