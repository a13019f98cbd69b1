import type { TaskEvent } from '../protocol/events.js';
import type { Attempt } from './attempts.js';
import type { LostReason, TaskObserver } from './observer.js';
import { IgnoringObserver } from './ignoring-observer.js';
import type { TaskRecord } from './task-table.js';

/**
 * Fans one stream of transitions out to several observers, in order.
 *
 * Each observer sits in a field of its own and is called from a call site of its own, so every
 * call site sees one observer class: monomorphic, inlined by the optimiser. A loop over a list
 * (`for (const o of list) o.taskSent(t, e)`) was one call site seeing the metrics, detectors,
 * queues and spans observers in turn, and cost ~5 % of the in-process benchmark's samples in the
 * fan-out alone (bench/inproc.ts). A daemon has at most four observers per broker; more nest.
 */
export function combineObservers(observers: readonly TaskObserver[]): TaskObserver {
  const [a, b, c, d, ...rest] = observers;
  if (a !== undefined && b === undefined) return a;
  // Missing places are filled with an observer that does nothing: an empty call the optimiser
  // inlines away, cheaper to keep than a class per count.
  const last = rest.length === 0 ? d : combineObservers([d!, ...rest]);
  return new FanOut(a ?? NO_OBSERVER, b ?? NO_OBSERVER, c ?? NO_OBSERVER, last ?? NO_OBSERVER);
}

const NO_OBSERVER: TaskObserver = new IgnoringObserver();

class FanOut implements TaskObserver {
  constructor(
    private readonly a: TaskObserver,
    private readonly b: TaskObserver,
    private readonly c: TaskObserver,
    private readonly d: TaskObserver,
  ) {}

  taskSent(t: TaskRecord, e: TaskEvent): void {
    this.a.taskSent(t, e);
    this.b.taskSent(t, e);
    this.c.taskSent(t, e);
    this.d.taskSent(t, e);
  }
  taskReceived(t: TaskRecord, e: TaskEvent): void {
    this.a.taskReceived(t, e);
    this.b.taskReceived(t, e);
    this.c.taskReceived(t, e);
    this.d.taskReceived(t, e);
  }
  taskStarted(t: TaskRecord, e: TaskEvent, w: number | undefined, a: Attempt): void {
    this.a.taskStarted(t, e, w, a);
    this.b.taskStarted(t, e, w, a);
    this.c.taskStarted(t, e, w, a);
    this.d.taskStarted(t, e, w, a);
  }
  taskSucceeded(t: TaskRecord, e: TaskEvent, r: number | undefined, a: Attempt): void {
    this.a.taskSucceeded(t, e, r, a);
    this.b.taskSucceeded(t, e, r, a);
    this.c.taskSucceeded(t, e, r, a);
    this.d.taskSucceeded(t, e, r, a);
  }
  taskFailed(t: TaskRecord, e: TaskEvent, x: string, r: number | undefined, a: Attempt): void {
    this.a.taskFailed(t, e, x, r, a);
    this.b.taskFailed(t, e, x, r, a);
    this.c.taskFailed(t, e, x, r, a);
    this.d.taskFailed(t, e, x, r, a);
  }
  taskRetried(t: TaskRecord, e: TaskEvent, x: string, r: number | undefined, a: Attempt): void {
    this.a.taskRetried(t, e, x, r, a);
    this.b.taskRetried(t, e, x, r, a);
    this.c.taskRetried(t, e, x, r, a);
    this.d.taskRetried(t, e, x, r, a);
  }
  taskRejected(t: TaskRecord, e: TaskEvent, a: Attempt): void {
    this.a.taskRejected(t, e, a);
    this.b.taskRejected(t, e, a);
    this.c.taskRejected(t, e, a);
    this.d.taskRejected(t, e, a);
  }
  taskRevoked(t: TaskRecord, e: TaskEvent, a: Attempt): void {
    this.a.taskRevoked(t, e, a);
    this.b.taskRevoked(t, e, a);
    this.c.taskRevoked(t, e, a);
    this.d.taskRevoked(t, e, a);
  }
  taskCancelled(t: TaskRecord, e: TaskEvent, a: Attempt): void {
    this.a.taskCancelled(t, e, a);
    this.b.taskCancelled(t, e, a);
    this.c.taskCancelled(t, e, a);
    this.d.taskCancelled(t, e, a);
  }
  taskLost(t: TaskRecord, r: LostReason, n: number, a: Attempt): void {
    this.a.taskLost(t, r, n, a);
    this.b.taskLost(t, r, n, a);
    this.c.taskLost(t, r, n, a);
    this.d.taskLost(t, r, n, a);
  }
  taskForgotten(t: TaskRecord): void {
    this.a.taskForgotten(t);
    this.b.taskForgotten(t);
    this.c.taskForgotten(t);
    this.d.taskForgotten(t);
  }
}
