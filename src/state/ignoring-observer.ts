import type { TaskEvent } from '../protocol/events.js';
import type { LostReason, TaskObserver } from './observer.js';
import type { TaskRecord } from './task-table.js';

/**
 * A TaskObserver that ignores everything: detectors extend it and override what they watch, and
 * the fan-out fills its unused places with one.
 */
export class IgnoringObserver implements TaskObserver {
  taskSent(_task: TaskRecord, _event: TaskEvent): void {}
  taskReceived(_task: TaskRecord, _event: TaskEvent): void {}
  taskStarted(_task: TaskRecord, _event: TaskEvent, _queueWait: number | undefined): void {}
  taskSucceeded(_task: TaskRecord, _event: TaskEvent, _runtime: number | undefined): void {}
  taskFailed(_task: TaskRecord, _event: TaskEvent, _exception: string, _runtime: number | undefined): void {}
  taskRetried(_task: TaskRecord, _event: TaskEvent, _exception: string, _runtime: number | undefined): void {}
  taskRejected(_task: TaskRecord, _event: TaskEvent): void {}
  taskRevoked(_task: TaskRecord, _event: TaskEvent): void {}
  taskCancelled(_task: TaskRecord, _event: TaskEvent): void {}
  taskLost(_task: TaskRecord, _reason: LostReason, _now: number): void {}
  taskForgotten(_task: TaskRecord): void {}
}
