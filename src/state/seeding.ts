import type { TaskRecord, TaskTable } from './task-table.js';

/**
 * One task a worker says it holds (Celery's inspect `active`, `reserved` or `scheduled`), as the
 * state takes it. Nothing of its arguments: they are never stored.
 */
export interface SeedTask {
  readonly id: string;
  readonly name: string;
  readonly queue: string | undefined;
  readonly worker: string;
  /** `active`: STARTED; `reserved` and `scheduled`: RECEIVED. */
  readonly state: 'STARTED' | 'RECEIVED';
  /** Worker's epoch seconds the task started (`active`, Request.time_start), when given. */
  readonly startedAt?: number | undefined;
  /** Epoch seconds of its ETA (`scheduled`). */
  readonly eta?: number | undefined;
}

/**
 * What seeding did with one task: `seeded` (new to the table), `named` (its events were held for
 * want of a name: now named, and its held events applied), `known` (events already told its state:
 * left alone), `full` (the table is at --max-tracked-tasks: not added).
 */
export type SeedOutcome = 'seeded' | 'named' | 'known' | 'full';

/**
 * Writes what a worker reported into the table, for tasks in flight when the daemon started or
 * reconnected: they get a name, queue and worker, so their later events are counted under them.
 *
 * Events outrank inspection: a task the table already has a state for, or events held for, keeps
 * what the events said (only a missing name, queue or worker is filled in). A seeded state carries
 * the oldest possible timestamp (or the worker's start time), so any later event moves it. Seeding
 * counts nothing: no sent, received or started is reported to the observer. It never evicts a
 * task to make room. Part of the pure state machine: clock passed in.
 */
export function seedTask(tasks: TaskTable, seed: SeedTask, now: number): { outcome: SeedOutcome; record: TaskRecord | undefined } {
  const existing = tasks.get(seed.id);
  if (existing !== undefined && (existing.state !== undefined || existing.pending !== undefined)) {
    const named = existing.name === undefined;
    existing.name ??= seed.name;
    existing.queue ??= seed.queue;
    existing.worker ??= seed.worker;
    return { outcome: named ? 'named' : 'known', record: existing };
  }
  if (existing === undefined && tasks.full) return { outcome: 'full', record: undefined };
  const record = existing ?? tasks.getOrCreate(seed.id, now);
  record.name = seed.name;
  record.queue ??= seed.queue;
  record.worker = seed.worker;
  record.state = seed.state;
  if (seed.eta !== undefined) record.eta = seed.eta;
  if (seed.state === 'STARTED') {
    // The start the worker reports is this task's one known attempt: a second task-started for it
    // with no retry in between is then a duplicate execution (worker-loss.ts isRepeatedStart).
    record.attempts = 1;
    record.startedOn = seed.worker;
    record.startRetries = record.retries;
    record.startedAt = seed.startedAt;
    // The stalled-task age counts from here (local clock): the worker's start time when it is
    // plausible, else now.
    record.startedSeenAt = seed.startedAt !== undefined && seed.startedAt <= now ? seed.startedAt : now;
    if (seed.startedAt !== undefined) record.stateTimestamp = seed.startedAt;
  }
  tasks.touch(record, now);
  return { outcome: 'seeded', record };
}
