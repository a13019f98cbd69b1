import type { LostReason } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import type { Report } from './findings.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { TaskSet } from '../state/per-task.js';
import { CounterFamily } from '../metrics/store/counter.js';
import type { DetectorOutput } from './output.js';
import { boundedPerBroker } from './output.js';

/**
 * Tasks the state machine declared lost (their worker died with them received or started, or
 * they were forgotten unfinished) become `task-lost` findings. A task declared lost that later
 * reports a final event anyway (the worker was alive but unheard, e.g. a network partition) is
 * counted under that outcome as usual and stays counted as lost; the late report is logged once,
 * so the two counters can be reconciled by hand.
 */
export class LostTaskDetector extends IgnoringObserver {
  /** Tasks whose late report was logged. */
  private readonly reported = new TaskSet();

  constructor(private readonly report: Report) {
    super();
  }

  override taskLost(task: TaskRecord, reason: LostReason): void {
    this.report({ kind: 'task-lost', name: task.name ?? 'unknown', queue: task.queue, uuid: task.uuid, worker: task.worker, reason });
  }

  override taskSucceeded(task: TaskRecord): void {
    this.finishedAfterLoss(task);
  }

  override taskFailed(task: TaskRecord): void {
    this.finishedAfterLoss(task);
  }

  override taskForgotten(task: TaskRecord): void {
    this.reported.forget(task);
  }

  private finishedAfterLoss(task: TaskRecord): void {
    if (task.lostAt === undefined || this.reported.has(task)) return;
    this.reported.add(task);
    this.report({ kind: 'lost-task-reported', name: task.name ?? 'unknown', uuid: task.uuid, worker: task.worker, state: task.state });
  }
}

/** celery_task_lost_total, and the log lines of a lost task and of its late report. */
export const lostTaskOutput: DetectorOutput = {
  define: ({ host, options, b, registers }) => {
    const lost = new CounterFamily({
      name: 'celery_task_lost_total',
      help: 'Tasks that will get no final event: their worker died with them received or started (reason="worker-lost"), or they were forgotten unfinished (reason="evicted").',
      labelNames: ['name', 'queue_name', 'reason', ...b],
      registers,
    });
    const of = boundedPerBroker({ host, options }, ['name', 'queue_name', 'reason'], ([name, queue, reason], extra) =>
      lost.cell({ name: name!, queue_name: queue!, reason: reason!, ...extra }),
    );
    return {
      'task-lost': (broker, f) => of(broker).get([f.name, f.queue ?? options.defaultQueueName, f.reason], 'celery_task_lost_total').inc(),
    };
  },
  logLines: {
    'task-lost': (_logger, limited, broker, f) =>
      limited.warn(
        `task-lost:${broker}:${f.reason}`,
        { broker, task: f.name, uuid: f.uuid, worker: f.worker, reason: f.reason },
        f.reason === 'worker-lost'
          ? 'task lost: its worker stopped sending heartbeats while the task was received or running, and no final event came'
          : 'task forgotten unfinished to bound memory (--task-ttl / --max-tracked-tasks); counted as lost',
      ),
    'lost-task-reported': (_logger, limited, broker, f) =>
      limited.warn(
        `lost-task-reported:${broker}`,
        { broker, task: f.name, uuid: f.uuid, worker: f.worker, state: f.state },
        'a task declared lost reported a final event after all (its worker was alive but unheard, or the task was redelivered); it stays counted as lost and is counted under its outcome too',
      ),
  },
};
