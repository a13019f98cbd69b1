import type { TaskEvent } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import type { Report } from './findings.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { CounterFamily } from '../metrics/store/counter.js';
import type { DetectorOutput } from './output.js';
import { boundedPerBroker } from './output.js';

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

/** celery_task_duplicate_executions_total, and the log line naming both workers. */
export const duplicateExecutionOutput: DetectorOutput = {
  define: ({ host, options, b, registers }) => {
    const duplicates = new CounterFamily({
      name: 'celery_task_duplicate_executions_total',
      help: 'Task ids started again with no retry in between (broker redelivery after visibility_timeout or a lost worker).',
      labelNames: ['name', 'queue_name', ...b],
      registers,
    });
    const of = boundedPerBroker({ host, options }, ['name', 'queue_name'], ([name, queue], extra) => duplicates.cell({ name: name!, queue_name: queue!, ...extra }));
    return {
      'duplicate-execution': (broker, f) => of(broker).get([f.name, f.queue ?? options.defaultQueueName], 'celery_task_duplicate_executions_total').inc(),
    };
  },
  logLines: {
    'duplicate-execution': (_logger, limited, broker, f) =>
      limited.warn(
        `duplicate-execution:${broker}`,
        { broker, task: f.name, uuid: f.uuid, firstWorker: f.firstWorker, secondWorker: f.secondWorker },
        'duplicate execution: the task started again with no retry in between (broker redelivery after visibility_timeout or a lost worker)',
      ),
  },
};
