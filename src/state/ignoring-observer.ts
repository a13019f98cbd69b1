import type { TaskEvent } from '../protocol/events.js';
import type { Attempt } from './attempts.js';
import type { LostReason, TaskObserver } from './observer.js';
import type { TaskRecord } from './task-table.js';

/**
 * A TaskObserver that ignores everything: detectors extend it and override what they watch, and
 * the fan-out fills its unused places with one.
 */
export class IgnoringObserver implements TaskObserver {
  taskSent(_task: TaskRecord, _event: TaskEvent): void {}
  taskReceived(_task: TaskRecord, _event: TaskEvent): void {}
  taskStarted(_task: TaskRecord, _event: TaskEvent, _queueWait: number | undefined, _attempt: Attempt): void {}
  taskSucceeded(_task: TaskRecord, _event: TaskEvent, _runtime: number | undefined, _attempt: Attempt): void {}
  taskFailed(_task: TaskRecord, _event: TaskEvent, _exception: string, _runtime: number | undefined, _attempt: Attempt): void {}
  taskRetried(_task: TaskRecord, _event: TaskEvent, _exception: string, _runtime: number | undefined, _attempt: Attempt): void {}
  taskRejected(_task: TaskRecord, _event: TaskEvent, _attempt: Attempt): void {}
  taskRevoked(_task: TaskRecord, _event: TaskEvent, _attempt: Attempt): void {}
  taskCancelled(_task: TaskRecord, _event: TaskEvent, _attempt: Attempt): void {}
  taskLost(_task: TaskRecord, _reason: LostReason, _now: number, _attempt: Attempt): void {}
  taskForgotten(_task: TaskRecord): void {}
}
