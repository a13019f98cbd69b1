import type { TaskRecord } from './task-table.js';

// When each attempt of a task was queued, keyed by the `retries` its task-sent and task-received
// carry. Timestamps alone cannot tell attempts apart: with the prefork pool the worker stamps
// task-started when the pool reports the job accepted, which for a fast task can come after the
// same task's retry was already published and received (retries+1), so "events after the previous
// start" misses the retry's queue time. A task keeps the last few such events: a retry can be at
// most one attempt ahead of the start being counted, so four entries (sent and received of two
// attempts) always hold the one needed.

const ENTRIES = 4;
const WIDTH = 3; // code (retries * 2 + kind), timestamp, eta or NaN

export const SENT = 0;
export const RECEIVED = 1;

export function noteQueued(task: TaskRecord, kind: typeof SENT | typeof RECEIVED, retries: number | undefined, timestamp: number, eta: number | undefined): void {
  if (retries === undefined) return;
  const q = (task.queued ??= []);
  if (q.length >= ENTRIES * WIDTH) q.splice(0, WIDTH);
  q.push(retries * 2 + kind, timestamp, eta ?? NaN);
}

export interface AttemptQueueTimes {
  sent: number | undefined;
  received: number | undefined;
  eta: number | undefined;
}

/** The newest sent and received times (and ETA) recorded for the attempt with this `retries`. */
export function queueTimesOf(task: TaskRecord, retries: number): AttemptQueueTimes | undefined {
  const q = task.queued;
  if (q === undefined) return undefined;
  let found: AttemptQueueTimes | undefined;
  for (let i = 0; i < q.length; i += WIDTH) {
    const code = q[i]!;
    if (code !== retries * 2 + SENT && code !== retries * 2 + RECEIVED) continue;
    found ??= { sent: undefined, received: undefined, eta: undefined };
    if (code % 2 === SENT) found.sent = q[i + 1];
    else found.received = q[i + 1];
    if (!Number.isNaN(q[i + 2]!)) found.eta = q[i + 2];
  }
  return found;
}
