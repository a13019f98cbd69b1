import { LOG_START, LOG_WIDTH, logCode } from './task-record.js';
import type { TaskRecord } from './task-record.js';

// When each attempt of a task was queued, read from its event log (task-record.ts), where sent
// and received events are kept with the `retries` they carry. Timestamps alone cannot tell
// attempts apart: with the prefork pool the worker stamps task-started when the pool reports the
// job accepted, which for a fast task can come after the same task's retry was already published
// and received (retries+1), so "events after the previous start" misses the retry's queue time.
// The log keeps a task's last 16 events: a retry can be at most one attempt ahead of the start
// being counted, so the entries needed are always there.

export interface AttemptQueueTimes {
  sent: number | undefined;
  received: number | undefined;
  eta: number | undefined;
}

/** The newest sent and received times (and ETA) recorded for the attempt with this `retries`. */
export function queueTimesOf(task: TaskRecord, retries: number): AttemptQueueTimes | undefined {
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
