import type { TaskEvent } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import type { Report } from './findings.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';

/**
 * The same task id started again with no retry in between: the broker redelivered a message
 * whose first execution had not been acknowledged (Redis `visibility_timeout` expired under a
 * long acks_late task, or the worker that had it was lost). The state machine decides what is a
 * repeat (machine.ts isRepeatedStart); this turns each into a finding naming both workers.
 */
export class DuplicateExecutionDetector extends IgnoringObserver {
  constructor(private readonly report: Report) {
    super();
  }

  override taskStarted(task: TaskRecord, event: TaskEvent): void {
    if (task.duplicateOf === undefined) return;
    this.report({
      kind: 'duplicate-execution',
      name: task.name ?? 'unknown',
      queue: task.queue,
      uuid: task.uuid,
      firstWorker: task.duplicateOf,
      secondWorker: event.hostname,
    });
  }
}
