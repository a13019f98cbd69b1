import { TASK_EVENT_TYPES } from '../protocol/events.js';
import type { TaskEvent, TaskEventType } from '../protocol/events.js';

export type TaskState =
  | 'PENDING'
  | 'RECEIVED'
  | 'STARTED'
  | 'RETRY'
  | 'SUCCESS'
  | 'FAILURE'
  | 'REJECTED'
  | 'REVOKED'
  | 'LOST';

// Every number a task keeps lives in one array of doubles, `n`: timestamps at fixed slots, then
// a log of the events applied. Why not a field each? The table holds tens of thousands of
// records, and V8 keeps a double in an object field as a separate 16-byte heap number (one
// object more per timestamp for the garbage collector to copy and mark), while an array of
// doubles stores them unboxed. NaN stands for "none" in the optional slots.
const STATE_TIMESTAMP = 0;
const SENT_AT = 1;
const RECEIVED_AT = 2;
const STARTED_AT = 3;
const RETRIED_AT = 4;
const ETA = 5;
const STARTED_SEEN_AT = 6;
const LOST_AT = 7;
const FIRST_ARRIVAL = 8;
const TOUCHED_AT = 9;
const ORDERED_AT = 10;
const FIXED = 11;

/**
 * The event log: one entry per event applied (not dropped as a duplicate), oldest first, of
 * `LOG_WIDTH` numbers: the event's code (`logCode`), its sender timestamp, and its ETA (NaN when
 * none). An entry whose code is NaN is free. Room for `LOG_ROOM` entries comes with every record,
 * enough for a task's usual sent, received, started and outcome; the log grows up to `LOG_LIMIT`
 * entries and then drops its oldest.
 */
export const LOG_START = FIXED;
export const LOG_WIDTH = 3;
const LOG_ROOM = 4;
const LOG_LIMIT = 16;

const TEMPLATE: number[] = [-Infinity, ...new Array<number>(FIXED - 1 + LOG_ROOM * LOG_WIDTH).fill(NaN)];

const optional = (v: number): number | undefined => (v === v ? v : undefined);

/** What the daemon remembers of one task id. Mutable: the state machine owns it. */
export class TaskRecord {
  name: string | undefined = undefined;
  queue: string | undefined = undefined;
  /** Worker that last received or ran it. */
  worker: string | undefined = undefined;
  state: TaskState | undefined = undefined;
  retries = 0;
  /** task-started events seen: one per attempt, more if the broker redelivered it. */
  attempts = 0;
  /** Worker of the last task-started, and `retries` when it started (-1: none, or requeued since). */
  startedOn: string | undefined = undefined;
  startRetries = -1;
  /**
   * Set by a task-started that repeats an attempt already started with no retry in between (a
   * visibility-timeout or lost-worker redelivery): the worker of the earlier start; else undefined.
   */
  duplicateOf: string | undefined = undefined;
  rootId: string | undefined = undefined;
  parentId: string | undefined = undefined;
  /** Which LRU order holds the record (task-table.ts). */
  inFinished = false;
  /** Its entry in the order (order-queue.ts); -1 once evicted. */
  orderStamp = -1;
  /** Bits detectors set to remember what they reported once about this task (detectors/marks.ts). */
  marks = 0;
  /**
   * Left to the metrics sink (sinks/metrics.ts): the label children this task's last event was
   * counted under, so its next events skip the label lookup. Opaque to the state machine.
   */
  labelMemo: object | undefined = undefined;
  /** Events held back until an event carrying the task name arrives (out-of-order delivery). */
  pending: TaskEvent[] | undefined = undefined;
  /** The numbers (see the slots above); read through the accessors and the log functions. */
  n: number[];

  constructor(
    readonly uuid: string,
    now: number,
  ) {
    this.n = TEMPLATE.slice();
    this.n[TOUCHED_AT] = now;
    this.n[ORDERED_AT] = now;
  }

  /** Sender timestamp of the event that set `state`, to ignore older events arriving late. */
  get stateTimestamp(): number {
    return this.n[STATE_TIMESTAMP]!;
  }
  set stateTimestamp(v: number) {
    this.n[STATE_TIMESTAMP] = v;
  }
  get sentAt(): number | undefined {
    return optional(this.n[SENT_AT]!);
  }
  set sentAt(v: number | undefined) {
    this.n[SENT_AT] = v ?? NaN;
  }
  get receivedAt(): number | undefined {
    return optional(this.n[RECEIVED_AT]!);
  }
  set receivedAt(v: number | undefined) {
    this.n[RECEIVED_AT] = v ?? NaN;
  }
  get startedAt(): number | undefined {
    return optional(this.n[STARTED_AT]!);
  }
  set startedAt(v: number | undefined) {
    this.n[STARTED_AT] = v ?? NaN;
  }
  /** Timestamp of the last task-retried: events before it belong to an earlier attempt. */
  get retriedAt(): number | undefined {
    return optional(this.n[RETRIED_AT]!);
  }
  set retriedAt(v: number | undefined) {
    this.n[RETRIED_AT] = v ?? NaN;
  }
  get eta(): number | undefined {
    return optional(this.n[ETA]!);
  }
  set eta(v: number | undefined) {
    this.n[ETA] = v ?? NaN;
  }
  /** Local clock of the last task-started, for ages that must not depend on worker clocks. */
  get startedSeenAt(): number | undefined {
    return optional(this.n[STARTED_SEEN_AT]!);
  }
  set startedSeenAt(v: number | undefined) {
    this.n[STARTED_SEEN_AT] = v ?? NaN;
  }
  /** Local clock when its worker was declared dead with the task unfinished; kept afterwards. */
  get lostAt(): number | undefined {
    return optional(this.n[LOST_AT]!);
  }
  set lostAt(v: number | undefined) {
    this.n[LOST_AT] = v ?? NaN;
  }
  /** Earliest task-sent/received timestamp of the first attempt, kept by detectors/periodic-tasks.ts. */
  get firstArrival(): number | undefined {
    return optional(this.n[FIRST_ARRIVAL]!);
  }
  set firstArrival(v: number | undefined) {
    this.n[FIRST_ARRIVAL] = v ?? NaN;
  }
  /** Local clock (epoch seconds) of the last event, for age-based eviction. */
  get touchedAt(): number {
    return this.n[TOUCHED_AT]!;
  }
  set touchedAt(v: number) {
    this.n[TOUCHED_AT] = v;
  }
  /** When the record was last moved to the back of its LRU order. */
  get orderedAt(): number {
    return this.n[ORDERED_AT]!;
  }
  set orderedAt(v: number) {
    this.n[ORDERED_AT] = v;
  }

  /** Drops the spare capacity a log grown past its room has (a finished task rarely gets another event). */
  trim(): void {
    if (this.n.length > TEMPLATE.length) this.n = this.n.slice();
  }
}

const TYPE_INDEX = new Map<TaskEventType, number>(TASK_EVENT_TYPES.map((t, i) => [t, i]));

/**
 * An event's code in the log: its type's index, and the `retries` it carries (sent, received and
 * retried events have it) so that queue times can be found by attempt. Negative without one.
 */
export function logCode(type: TaskEventType, retries: number | undefined): number {
  const r = retries !== undefined && Number.isSafeInteger(retries) && retries >= 0 && retries < 2 ** 32 ? retries : -1;
  return r * 16 + TYPE_INDEX.get(type)!;
}

/**
 * Logs the event unless an entry with this code and timestamp is already there (the same event
 * delivered twice): false then. One pass finds a repeat and the first free entry alike, and the
 * oldest entry is dropped when the log is full.
 */
export function logIfNew(task: TaskRecord, code: number, timestamp: number, eta: number | undefined): boolean {
  const n = task.n;
  let at = LOG_START;
  for (; at < n.length && n[at] === n[at]; at += LOG_WIDTH) {
    if (n[at] === code && n[at + 1] === timestamp) return false;
  }
  if (at >= LOG_START + LOG_LIMIT * LOG_WIDTH) {
    n.copyWithin(LOG_START, LOG_START + LOG_WIDTH);
    at -= LOG_WIDTH;
  }
  n[at] = code;
  n[at + 1] = timestamp;
  n[at + 2] = eta ?? NaN;
  return true;
}
