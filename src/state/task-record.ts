import { TASK_EVENT_TYPES } from '../protocol/events.js';
import type { TaskEvent, TaskEventType } from '../protocol/events.js';
import type { NumberSlab } from './number-slab.js';

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

// Every number a task keeps lives in one run of doubles: timestamps at fixed slots, then a log of
// the events applied. Why not a field each? The table holds tens of thousands of records, and V8
// keeps a double in an object field as a separate 16-byte heap number (one object more per
// timestamp for the garbage collector to copy and mark), while a Float64Array stores them unboxed.
// The run is a slot of the table's NumberSlab (number-slab.ts), outside the collected heap, or an
// array of the record's own once its log outgrows the slot. NaN stands for "none" in the optional
// slots.
const STATE_TIMESTAMP = 0;
const SENT_AT = 1;
const RECEIVED_AT = 2;
const STARTED_AT = 3;
const RETRIED_AT = 4;
const ETA = 5;
const STARTED_SEEN_AT = 6;
const LOST_AT = 7;
const TOUCHED_AT = 8;
const ORDERED_AT = 9;
/** First of the numbers attempts.ts keeps (which attempt is running, its delivery, its end). */
export const ATTEMPT_NUMBERS = 10;
const FIXED = ATTEMPT_NUMBERS + 5;

/**
 * The event log: one entry per event applied (not dropped as a duplicate), oldest first, of
 * `LOG_WIDTH` numbers: the event's code (`logCode`), its sender timestamp, and its ETA (NaN when
 * none). An entry whose code is NaN is free. A slot has room for `LOG_ROOM` entries, enough for a
 * task's usual sent, received, started and outcome; the log grows up to `LOG_LIMIT` entries in an
 * array of the record's own and then drops its oldest.
 */
export const LOG_START = FIXED;
export const LOG_WIDTH = 3;
const LOG_ROOM = 4;
const LOG_LIMIT = 16;
/** Doubles in a slot: the fixed numbers and a log of LOG_ROOM entries. */
export const SLOT_WIDTH = FIXED + LOG_ROOM * LOG_WIDTH;
const GROWN_WIDTH = FIXED + LOG_LIMIT * LOG_WIDTH;

const TEMPLATE = Float64Array.from([-Infinity, ...new Array<number>(SLOT_WIDTH - 1).fill(NaN)]);

/**
 * The numbers of a record that left the table (evicted): its slot went to another task. A sink
 * may still hold such a record (an open span ends later); it reads the strings, never the numbers,
 * which all read as "none" here rather than as another task's.
 */
const RELEASED = TEMPLATE.slice();

const optional = (v: number): number | undefined => (v === v ? v : undefined);

/**
 * Keys of live records (TaskRecord.key): freed keys are given out again before new ones, so sinks'
 * side tables (per-task.ts) stay as long as the most records ever alive at once. Shared by every
 * table; a record made outside a table (tests) keeps its key.
 */
const freeKeys: number[] = [];
let nextKey = 0;

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
  /**
   * A small number naming the record while it lives, for what sinks keep per task in tables of
   * their own (per-task.ts); given to another record once this one is forgotten
   * (TaskObserver.taskForgotten), -1 from then on.
   */
  key: number;
  /** Events held back until an event carrying the task name arrives (out-of-order delivery). */
  pending: TaskEvent[] | undefined = undefined;
  /**
   * The numbers (see the slots above), from offset `o` of `s`: the table's slab and the slot
   * `slot` of it, or an array of the record's own (`slab` undefined, `o` 0, `slot` -1). Read
   * through the accessors and the log functions.
   */
  s: Float64Array;
  o: number;
  slot = -1;
  slab: NumberSlab | undefined;

  /** Numbers in a slot of `slab` when given (the table's records), else in an array of its own. */
  constructor(
    readonly uuid: string,
    now: number,
    slab?: NumberSlab,
  ) {
    if (slab !== undefined) {
      this.slot = slab.alloc();
      this.s = slab.chunk(this.slot);
      this.o = slab.offset(this.slot);
      this.s.set(TEMPLATE, this.o);
    } else {
      this.s = TEMPLATE.slice();
      this.o = 0;
    }
    this.slab = slab;
    this.key = freeKeys.pop() ?? nextKey++;
    this.touchedAt = now;
    this.orderedAt = now;
  }

  /** Sender timestamp of the event that set `state`, to ignore older events arriving late. */
  get stateTimestamp(): number {
    return this.s[this.o + STATE_TIMESTAMP]!;
  }
  set stateTimestamp(v: number) {
    this.s[this.o + STATE_TIMESTAMP] = v;
  }
  get sentAt(): number | undefined {
    return optional(this.s[this.o + SENT_AT]!);
  }
  set sentAt(v: number | undefined) {
    this.s[this.o + SENT_AT] = v ?? NaN;
  }
  get receivedAt(): number | undefined {
    return optional(this.s[this.o + RECEIVED_AT]!);
  }
  set receivedAt(v: number | undefined) {
    this.s[this.o + RECEIVED_AT] = v ?? NaN;
  }
  get startedAt(): number | undefined {
    return optional(this.s[this.o + STARTED_AT]!);
  }
  set startedAt(v: number | undefined) {
    this.s[this.o + STARTED_AT] = v ?? NaN;
  }
  /** Timestamp of the last task-retried: events before it belong to an earlier attempt. */
  get retriedAt(): number | undefined {
    return optional(this.s[this.o + RETRIED_AT]!);
  }
  set retriedAt(v: number | undefined) {
    this.s[this.o + RETRIED_AT] = v ?? NaN;
  }
  get eta(): number | undefined {
    return optional(this.s[this.o + ETA]!);
  }
  set eta(v: number | undefined) {
    this.s[this.o + ETA] = v ?? NaN;
  }
  /** Local clock of the last task-started, for ages that must not depend on worker clocks. */
  get startedSeenAt(): number | undefined {
    return optional(this.s[this.o + STARTED_SEEN_AT]!);
  }
  set startedSeenAt(v: number | undefined) {
    this.s[this.o + STARTED_SEEN_AT] = v ?? NaN;
  }
  /** Local clock when its worker was declared dead with the task unfinished; kept afterwards. */
  get lostAt(): number | undefined {
    return optional(this.s[this.o + LOST_AT]!);
  }
  set lostAt(v: number | undefined) {
    this.s[this.o + LOST_AT] = v ?? NaN;
  }
  /** Local clock (epoch seconds) of the last event, for age-based eviction. */
  get touchedAt(): number {
    return this.s[this.o + TOUCHED_AT]!;
  }
  set touchedAt(v: number) {
    this.s[this.o + TOUCHED_AT] = v;
  }
  /** When the record was last moved to the back of its LRU order. */
  get orderedAt(): number {
    return this.s[this.o + ORDERED_AT]!;
  }
  set orderedAt(v: number) {
    this.s[this.o + ORDERED_AT] = v;
  }

  /** Index past the last of its numbers in `s`. */
  get end(): number {
    return this.slab !== undefined ? this.o + SLOT_WIDTH : this.s.length;
  }

  /** Moves the numbers to an array of its own of `width` doubles, giving back the slot. */
  moveOut(width: number): void {
    const own = new Float64Array(width).fill(NaN);
    own.set(this.s.subarray(this.o, Math.min(this.end, this.o + width)));
    this.releaseSlot();
    this.s = own;
  }

  /** The record left the table: its slot goes back to the slab and its numbers read as none. */
  release(): void {
    this.releaseSlot();
    this.s = RELEASED;
    if (this.key >= 0) freeKeys.push(this.key);
    this.key = -1;
  }

  private releaseSlot(): void {
    if (this.slab !== undefined) this.slab.free(this.slot);
    this.slab = undefined;
    this.slot = -1;
    this.o = 0;
  }

  /**
   * Drops the spare room of a log grown past a slot (a finished task rarely gets another event):
   * its own array is cut to the entries used.
   */
  trim(): void {
    if (this.slab !== undefined) return;
    const s = this.s;
    let used = LOG_START;
    while (used < s.length && s[used] === s[used]) used += LOG_WIDTH;
    if (used < s.length) this.s = s.slice(0, used);
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
  let s = task.s;
  const o = task.o;
  const end = task.end;
  let at = o + LOG_START;
  for (; at < end && s[at] === s[at]; at += LOG_WIDTH) {
    if (s[at] === code && s[at + 1] === timestamp) return false;
  }
  if (at >= end) {
    if (end - o < GROWN_WIDTH) {
      task.moveOut(GROWN_WIDTH);
      s = task.s;
      at -= o;
    } else {
      s.copyWithin(o + LOG_START, o + LOG_START + LOG_WIDTH, end);
      at -= LOG_WIDTH;
    }
  }
  s[at] = code;
  s[at + 1] = timestamp;
  s[at + 2] = eta ?? NaN;
  return true;
}
