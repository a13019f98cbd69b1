import type { LostReason } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import type { Report } from './findings.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { LATE_REPORT_SEEN } from './marks.js';

/**
 * Tasks the state machine declared lost (their worker died with them received or started, or
 * they were forgotten unfinished) become `task-lost` findings. A task declared lost that later
 * reports a final event anyway (the worker was alive but unheard, e.g. a network partition) is
 * counted under that outcome as usual and stays counted as lost; the late report is logged once,
 * so the two counters can be reconciled by hand.
 */
export class LostTaskDetector extends IgnoringObserver {
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

  private finishedAfterLoss(task: TaskRecord): void {
    if (task.lostAt === undefined || (task.marks & LATE_REPORT_SEEN) !== 0) return;
    task.marks |= LATE_REPORT_SEEN;
    this.report({ kind: 'lost-task-reported', name: task.name ?? 'unknown', uuid: task.uuid, worker: task.worker, state: task.state });
  }
}
