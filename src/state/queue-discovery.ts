import type { TaskObserver } from './observer.js';
import type { TaskRecord } from './task-table.js';

/** A bound on distinct queue names per broker, so hostile or buggy task-sent events cannot grow series without end. */
export const MAX_QUEUES = 1000;

/**
 * The queues whose depth is reported for one broker: those named with --queues, those seen in
 * task-sent events (the only event that carries the queue), and those the broker names itself.
 * Names are never removed, so a queue that empties keeps reporting 0 instead of vanishing.
 */
export class QueueDiscovery implements TaskObserver {
  private readonly known = new Set<string>();
  private overflowed = false;

  constructor(
    initial: readonly string[],
    private readonly onOverflow: (name: string) => void = () => undefined,
  ) {
    for (const q of initial) this.add(q);
  }

  add(name: string): void {
    if (this.known.has(name) || name === '') return;
    if (this.known.size >= MAX_QUEUES) {
      if (!this.overflowed) this.onOverflow(name);
      this.overflowed = true;
      return;
    }
    this.known.add(name);
  }

  names(): string[] {
    return [...this.known];
  }

  taskSent(task: TaskRecord): void {
    if (task.queue !== undefined) this.add(task.queue);
  }

  taskReceived(): void {}
  taskStarted(): void {}
  taskSucceeded(): void {}
  taskFailed(): void {}
  taskRetried(): void {}
  taskRejected(): void {}
  taskRevoked(): void {}
  taskCancelled(): void {}
  taskLost(): void {}
  taskForgotten(): void {}
}
