import type { TaskEvent } from '../protocol/events.js';
import { isRejectFailure } from '../state/machine.js';
import type { LostReason } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import type { AttemptOutcome, Report } from './findings.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { TaskSet } from '../state/per-task.js';
import { HistogramFamily } from '../metrics/store/histogram.js';
import type { DetectorOutput } from './output.js';
import { boundedPerBroker } from './output.js';

/**
 * How many attempts each task took before its final outcome, so "succeeded on the fifth try" is
 * visible next to plain successes. Attempts are Celery's own count, `retries` + 1, as carried by
 * the last attempt's task-sent/received: redeliveries of one attempt are not attempts (they are
 * duplicate executions), and the count is right even if earlier attempts were before we started.
 * Each task is counted once, at its first final outcome, and only if it ever started.
 */
export class HiddenRetryDetector extends IgnoringObserver {
  /** Tasks already counted (at their first final outcome). */
  private readonly counted = new TaskSet();

  constructor(private readonly report: Report) {
    super();
  }

  override taskSucceeded(task: TaskRecord): void {
    this.outcome(task, 'succeeded');
  }

  override taskFailed(task: TaskRecord, _event: TaskEvent, exception: string): void {
    this.outcome(task, isRejectFailure(exception) ? 'rejected' : 'failed');
  }

  override taskRejected(task: TaskRecord): void {
    if (task.state === 'REJECTED') this.outcome(task, 'rejected');
  }

  override taskRevoked(task: TaskRecord): void {
    this.outcome(task, 'revoked');
  }

  override taskLost(task: TaskRecord, reason: LostReason): void {
    if (reason === 'worker-lost') this.outcome(task, 'lost');
  }

  override taskForgotten(task: TaskRecord): void {
    this.counted.forget(task);
  }

  private outcome(task: TaskRecord, outcome: AttemptOutcome): void {
    if (task.attempts === 0 || this.counted.has(task)) return;
    this.counted.add(task);
    this.report({ kind: 'attempts', name: task.name ?? 'unknown', outcome, attempts: task.retries + 1 });
  }
}

/** Attempts buckets: 1 is a plain run; the tail catches max_retries in the tens. */
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50];

/** celery_task_attempts; no log line (metrics only). */
export const hiddenRetryOutput: DetectorOutput = {
  define: ({ host, options, b, registers }) => {
    const attempts = new HistogramFamily({
      name: 'celery_task_attempts',
      help: 'Attempts (retries + 1) each task took before its final outcome.',
      labelNames: ['name', 'outcome', ...b],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    const of = boundedPerBroker({ host, options }, ['name', 'outcome'], ([name, outcome], extra) => attempts.cell({ name: name!, outcome: outcome!, ...extra }));
    return { attempts: (broker, f) => of(broker).get([f.name, f.outcome], 'celery_task_attempts').observe(f.attempts) };
  },
};
