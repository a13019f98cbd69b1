import type { TaskRecord, TaskTable } from './task-table.js';

// What happens to a worker's tasks when the worker goes away, and how a second execution of the
// same task is recognised. Part of the pure state machine (machine.ts): no I/O, clock passed in.

/**
 * The worker is dead (silent past its timeout): tasks it had received or started will get no
 * final event from it. Each is declared lost once, and returned for the machine to tell its
 * observers; the state keeps the timestamp of its last event, so only a newer event (a
 * redelivery, or the worker reporting after all) moves it again, and the worker merely coming
 * back resurrects nothing. A scan of the unfinished tasks, once per dead worker: rare enough not
 * to keep a per-worker index on the event path.
 */
export function loseTasksOf(tasks: TaskTable, hostname: string, now: number): TaskRecord[] {
  const lost: TaskRecord[] = [];
  for (const task of tasks.unfinishedTasks()) {
    if (task.worker === hostname && (task.state === 'RECEIVED' || task.state === 'STARTED')) lost.push(task);
  }
  for (const task of lost) {
    task.state = 'LOST';
    task.lostAt = now;
    tasks.touch(task, now);
  }
  return lost;
}

/**
 * On worker-offline, tasks it had received but not started go back to the queue: a clean
 * shutdown and a consumer restart both drop reserved requests unacked (celery/worker/consumer
 * on_close), so the broker redelivers them. Started ones are left to the silence timeout.
 */
export function requeueReserved(tasks: TaskTable, hostname: string): void {
  for (const task of tasks.unfinishedTasks()) {
    if (task.worker === hostname && task.state === 'RECEIVED') task.state = 'PENDING';
  }
}

/**
 * A start is a repeat when the task already started and no retry came in between: a retry
 * re-sends the task with `retries` + 1 (seen on its task-sent/received), and its task-retried
 * may arrive after the next start because workers buffer task events, so both are checked. A
 * requeue (Reject(requeue=True), task-cancelled) resets `startRetries` to -1: not a repeat.
 */
export function isRepeatedStart(task: TaskRecord): boolean {
  if (task.attempts === 0 || task.startRetries < 0) return false;
  if (task.retries > task.startRetries) return false;
  return !(task.retriedAt !== undefined && task.startedAt !== undefined && task.retriedAt >= task.startedAt);
}
