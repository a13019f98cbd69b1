import { LOG_START, LOG_WIDTH, logCode } from './task-record.js';
import type { TaskRecord } from './task-record.js';

// When each attempt of a task was queued, read from its event log (task-record.ts), where sent
// and received events are kept with the `retries` they carry. Timestamps alone cannot tell
// attempts apart: with the prefork pool the worker stamps task-started when the pool reports the
// job accepted, which for a fast task can come after the same task's retry was already published
// and received (retries+1), so "events after the previous start" misses the retry's queue time.
// The log keeps a task's last 16 events: a retry can be at most one attempt ahead of the start
// being counted, so the entries needed are always there.

interface AttemptQueueTimes {
  sent: number | undefined;
  received: number | undefined;
  eta: number | undefined;
}

/** The newest sent and received times (and ETA) recorded for the attempt with this `retries`. */
function queueTimesOf(task: TaskRecord, retries: number): AttemptQueueTimes | undefined {
  const n = task.s;
  const end = task.end;
  const sentCode = logCode('task-sent', retries);
  const receivedCode = logCode('task-received', retries);
  let found: AttemptQueueTimes | undefined;
  for (let i = task.o + LOG_START; i < end && n[i] === n[i]; i += LOG_WIDTH) {
    const code = n[i]!;
    if (code !== sentCode && code !== receivedCode) continue;
    found ??= { sent: undefined, received: undefined, eta: undefined };
    if (code === sentCode) found.sent = n[i + 1];
    else found.received = n[i + 1];
    if (!Number.isNaN(n[i + 2]!)) found.eta = n[i + 2];
  }
  return found;
}

/**
 * Seconds from when this attempt was queued to when it started. The attempt's task-sent (or,
 * without sent events, its task-received) is the one after the previous attempt started; a
 * retry's task-sent is published before its task-retried, so the retry time cannot be used.
 * With an ETA the wait counts from the ETA: time before it is scheduled, not waiting.
 */
export function queueWaitOf(task: TaskRecord, startedAt: number): number | undefined {
  // The attempt's own sent/received, by `retries` (one start per attempt unless redelivered).
  const own = queueTimesOf(task, task.attempts);
  if (own !== undefined) {
    let queuedAt = (own.sent ?? own.received)!;
    if (own.eta !== undefined && own.eta > queuedAt) queuedAt = own.eta;
    if (startedAt - queuedAt >= 0) return startedAt - queuedAt;
    if (own.received !== undefined && startedAt - own.received >= 0) return startedAt - own.received;
  }
  // Without `retries` on the events (or after a redelivery): what came after the previous start.
  const previousStart = task.startedAt ?? -Infinity;
  const sent = task.sentAt !== undefined && task.sentAt >= previousStart ? task.sentAt : undefined;
  const received = task.receivedAt !== undefined && task.receivedAt >= previousStart ? task.receivedAt : undefined;
  let queuedAt = sent ?? received;
  if (queuedAt === undefined) return undefined;
  if (task.eta !== undefined && task.eta > queuedAt && task.eta >= previousStart) queuedAt = task.eta;
  const wait = startedAt - queuedAt;
  if (wait >= 0) return wait;
  // Client and worker clocks differ: fall back to the worker's own receive time.
  if (received !== undefined && startedAt - received >= 0) return startedAt - received;
  return undefined;
}
