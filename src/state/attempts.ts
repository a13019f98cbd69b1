import { ATTEMPT_NUMBERS } from './task-record.js';
import type { TaskRecord } from './task-record.js';

// Which attempt of a task each event belongs to, decided once here for every observer (metrics,
// detectors, spans), so they cannot disagree. An attempt is one run of the task's message under
// one `retries` count; `delivery` counts starts of that same attempt (the broker redelivered the
// message after a lost worker or a visibility timeout).
//
// Celery's events do not say which attempt they belong to in the order they arrive:
// - with the prefork pool the worker's main process sends task-started only when the pool reports
//   the job accepted (celery/worker/request.py on_accepted), while the pool process already runs
//   the task: a task that retries at once publishes its retry (task-sent, retries + 1) first, so
//   "the highest retries seen" is not the attempt starting. The worker's own task-received of the
//   attempt comes from the same process as its task-started, in order: its count is the one.
// - a message the attempt published (its retry, or a child task) proves it ran at that time,
//   which can be before its task-started;
// - a task-started can arrive after the attempt's outcome (events out of order, PROTOCOL.md §3),
//   even stamped after it (prefork, see receivedSince): unless the worker received the message
//   again in between, it starts nothing new;
// - the same attempt started again is a redelivery: the next delivery.
//
// The numbers live in the task record's slot (task-record.ts), NaN for none.
const RECEIVED_RETRIES = ATTEMPT_NUMBERS; // `retries` of the worker's last task-received
const STARTED_RETRIES = ATTEMPT_NUMBERS + 1; // `retries` of the attempt started (or ended) last
const DELIVERY = ATTEMPT_NUMBERS + 2; // its delivery
const ENDED_AT = ATTEMPT_NUMBERS + 3; // when it ended (worker clock); NaN while it runs
const RAN_AT = ATTEMPT_NUMBERS + 4; // earliest message published by the received attempt

/** What the state machine decided about the attempt an event belongs to, as observers get it. */
export interface Attempt {
  /** Celery's retry count of the attempt: 0 for the first run. */
  readonly retries: number;
  /** 0 for the attempt's first start, one more for each time the same message started again. */
  readonly delivery: number;
  /**
   * Worker clock of its start: its task-started, or, when it ended without one (`inferredStart`),
   * the end less the runtime, else its task-received, else its end.
   */
  readonly startedAt: number | undefined;
  /** It ended with no task-started seen for it (revoked or rejected before it ran, or the start is late). */
  readonly inferredStart: boolean;
  /** Its task-received (one with its `retries`), when seen. */
  readonly receivedAt: number | undefined;
  /**
   * Earliest timestamp of a message it published (its retry, a child task), not before its
   * task-received: it was running then, possibly before its task-started says.
   */
  readonly ranSince: number | undefined;
  /**
   * The event belongs to an attempt that already ended: a task-started arriving after the outcome,
   * or a second outcome (a lost task reporting after all). Metrics count the event as ever; there is
   * no span to open or end.
   */
  readonly ended: boolean;
}

/**
 * The descriptor the state machine fills for each call and hands to its observers; valid for that
 * call only (one object for every event, not one allocated per event): copy what is kept.
 */
export class AttemptDescriptor implements Attempt {
  retries = 0;
  delivery = 0;
  startedAt: number | undefined = undefined;
  inferredStart = false;
  receivedAt: number | undefined = undefined;
  ranSince: number | undefined = undefined;
  ended = false;
}

const at = (task: TaskRecord, slot: number): number => task.s[task.o + slot]!;
const set = (task: TaskRecord, slot: number, v: number): void => {
  task.s[task.o + slot] = v;
};
const optional = (v: number): number | undefined => (v === v ? v : undefined);

/** A task-received, after its `retries` were noted on the record: the attempt the worker will run next. */
export function attemptReceived(task: TaskRecord, retries: number): void {
  if (at(task, RECEIVED_RETRIES) === retries) return;
  set(task, RECEIVED_RETRIES, retries);
  set(task, RAN_AT, NaN);
}

/**
 * A message published with `retries` and, for a first publish, `parent` (the task that sent it,
 * when tracked): proof that the attempt which published it was running at `timestamp`. A retry
 * (retries > 0) is published by the task's own attempt retries - 1; a child by its parent's
 * received attempt.
 */
export function publishedAt(task: TaskRecord, retries: number, parent: TaskRecord | undefined, timestamp: number): void {
  if (retries > 0) noteRan(task, retries - 1, timestamp);
  else if (parent !== undefined) noteRan(parent, at(parent, RECEIVED_RETRIES), timestamp);
}

function noteRan(task: TaskRecord, retries: number, timestamp: number): void {
  if (at(task, RECEIVED_RETRIES) !== retries) return;
  const ran = at(task, RAN_AT);
  if (!(timestamp >= ran)) set(task, RAN_AT, timestamp);
}

/** A task-started stamped `startedAt`: which attempt it starts, or that its attempt already ended. */
export function attemptStarted(task: TaskRecord, startedAt: number, out: AttemptDescriptor): Attempt {
  const received = at(task, RECEIVED_RETRIES);
  const retries = received === received ? received : task.retries;
  const started = at(task, STARTED_RETRIES);
  const endedAt = at(task, ENDED_AT);
  out.retries = retries;
  out.startedAt = startedAt;
  out.inferredStart = false;
  out.receivedAt = received === retries ? task.receivedAt : undefined;
  if (started === retries && endedAt === endedAt && (startedAt <= endedAt || !receivedSince(task, endedAt))) {
    out.delivery = at(task, DELIVERY);
    out.ranSince = undefined;
    out.ended = true;
    return out;
  }
  const delivery = started === retries ? at(task, DELIVERY) + 1 : 0;
  set(task, STARTED_RETRIES, retries);
  set(task, DELIVERY, delivery);
  set(task, ENDED_AT, NaN);
  out.delivery = delivery;
  out.ranSince = ranSince(task, retries, out.receivedAt);
  out.ended = false;
  return out;
}

/**
 * An outcome at `endedAt` (worker clock), with the attempt's runtime when known: the attempt
 * running ends; with none running, the task's current attempt ended without a start we saw,
 * unless that attempt already ended.
 */
export function attemptEnded(task: TaskRecord, endedAt: number, runtime: number | undefined, out: AttemptDescriptor): Attempt {
  return end(task, endedAt, runtime, false, out);
}

/**
 * The task was declared lost at `now` (local clock): the running attempt ends, its end carried
 * onto the worker's clock by the time since its task-started was seen. With none running, only an
 * attempt the worker received ends: a task never received did not run.
 */
export function attemptLost(task: TaskRecord, now: number, out: AttemptDescriptor): Attempt {
  const startedAt = task.startedAt;
  const seenAt = task.startedSeenAt;
  const running = isRunning(task);
  const endedAt = running && startedAt !== undefined && seenAt !== undefined ? startedAt + Math.max(0, now - seenAt) : now;
  return end(task, endedAt, undefined, true, out);
}

function end(task: TaskRecord, endedAt: number, runtime: number | undefined, needsReceipt: boolean, out: AttemptDescriptor): Attempt {
  const received = at(task, RECEIVED_RETRIES);
  out.inferredStart = false;
  out.ended = false;
  if (isRunning(task)) {
    const retries = at(task, STARTED_RETRIES);
    out.retries = retries;
    out.delivery = at(task, DELIVERY);
    out.startedAt = task.startedAt;
    out.receivedAt = received === retries ? task.receivedAt : undefined;
    out.ranSince = ranSince(task, retries, out.receivedAt);
    set(task, ENDED_AT, endedAt);
    return out;
  }
  const retries = task.retries;
  out.retries = retries;
  out.receivedAt = received === retries ? task.receivedAt : undefined;
  if (at(task, STARTED_RETRIES) === retries) {
    out.delivery = at(task, DELIVERY);
    out.startedAt = task.startedAt;
    out.ranSince = undefined;
    out.ended = true;
    return out;
  }
  out.delivery = 0;
  out.inferredStart = true;
  out.startedAt = runtime !== undefined ? endedAt - runtime : (out.receivedAt ?? endedAt);
  out.ranSince = ranSince(task, retries, out.receivedAt);
  if (needsReceipt && out.receivedAt === undefined) return out;
  set(task, STARTED_RETRIES, retries);
  set(task, DELIVERY, 0);
  set(task, ENDED_AT, endedAt);
  return out;
}

/**
 * Whether the worker received the task's message again after its attempt ended at `endedAt`: a
 * broker redelivers a message to a worker, which announces it with a task-received before it
 * starts it. A task-started with none since the end is the ended attempt's own, late: with the
 * prefork pool the main process stamps it when the pool reports the job accepted, which for a
 * short task on a busy worker comes after the pool process stamped its outcome.
 */
function receivedSince(task: TaskRecord, endedAt: number): boolean {
  return task.receivedAt !== undefined && task.receivedAt > endedAt;
}

/** An attempt started and has not ended. */
function isRunning(task: TaskRecord): boolean {
  const started = at(task, STARTED_RETRIES);
  const endedAt = at(task, ENDED_AT);
  return started === started && endedAt !== endedAt;
}

/** Run evidence of the received attempt, when it is this one and not from an earlier delivery. */
function ranSince(task: TaskRecord, retries: number, receivedAt: number | undefined): number | undefined {
  if (at(task, RECEIVED_RETRIES) !== retries) return undefined;
  const ran = optional(at(task, RAN_AT));
  return ran !== undefined && (receivedAt === undefined || ran >= receivedAt) ? ran : undefined;
}
