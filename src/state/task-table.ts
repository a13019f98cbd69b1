import type { TaskEvent } from '../protocol/events.js';
import { OrderQueue } from './order-queue.js';

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

export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['SUCCESS', 'FAILURE', 'REJECTED', 'REVOKED', 'LOST']);

/** What the daemon remembers of one task id. Mutable: the state machine owns it. */
export interface TaskRecord {
  readonly uuid: string;
  name: string | undefined;
  queue: string | undefined;
  /** Worker that last received or ran it. */
  worker: string | undefined;
  state: TaskState | undefined;
  /** Sender timestamp of the event that set `state`, to ignore older events arriving late. */
  stateTimestamp: number;
  sentAt: number | undefined;
  /** Queue times of recent attempts by `retries` (state/queue-times.ts); undefined until one is seen. */
  queued: number[] | undefined;
  receivedAt: number | undefined;
  startedAt: number | undefined;
  /** Timestamp of the last task-retried: events before it belong to an earlier attempt. */
  retriedAt: number | undefined;
  eta: number | undefined;
  retries: number;
  /** task-started events seen: one per attempt, more if the broker redelivered it. */
  attempts: number;
  /** Worker of the last task-started, and `retries` when it started (-1: none, or requeued since). */
  startedOn: string | undefined;
  startRetries: number;
  /** Local clock of the last task-started, for ages that must not depend on worker clocks. */
  startedSeenAt: number | undefined;
  /**
   * Set by a task-started that repeats an attempt already started with no retry in between (a
   * visibility-timeout or lost-worker redelivery): the worker of the earlier start; else undefined.
   */
  duplicateOf: string | undefined;
  /** Local clock when its worker was declared dead with the task unfinished; kept afterwards. */
  lostAt: number | undefined;
  rootId: string | undefined;
  parentId: string | undefined;
  /** Local clock (epoch seconds) of the last event, for age-based eviction. */
  touchedAt: number;
  /** Which LRU order holds the record, when it was last moved to the back, and its place there. */
  inFinished: boolean;
  orderedAt: number;
  /** Its entry in the order (order-queue.ts); -1 once evicted. */
  orderStamp: number;
  /** Bits detectors set to remember what they reported once about this task (detectors/marks.ts). */
  marks: number;
  /** Earliest task-sent/received timestamp of the first attempt, kept by detectors/periodic-tasks.ts. */
  firstArrival: number | undefined;
  /** Type code and timestamp of each event applied, to drop exact duplicates. */
  seen: number[];
  /** Events held back until an event carrying the task name arrives (out-of-order delivery). */
  pending: TaskEvent[] | undefined;
  pendingSince: number;
}

export interface TaskTableOptions {
  /** Hard cap on remembered tasks; finished ones are evicted first. */
  readonly maxTasks: number;
  /** Seconds an unfinished task is remembered after its last event. */
  readonly unfinishedTtl: number;
  /** Seconds a finished task is remembered (to recognise duplicates and late events). */
  readonly finishedTtl: number;
}

export type EvictionReason = 'capacity' | 'age';

/**
 * Bounded memory of tasks, so that task-started/succeeded/failed events, which carry only a uuid,
 * can be labelled with the name and queue seen earlier.
 *
 * One map finds a task by uuid; two LRU orders (order-queue.ts), one of unfinished and one of
 * finished tasks, say which to forget: `touch` moves a record to the back of its order, so the
 * front is always the least recently updated task and eviction never scans. Finished tasks go
 * first under pressure, so a flood of short tasks cannot push a long running one out of memory.
 */
export class TaskTable {
  private readonly byId = new Map<string, TaskRecord>();
  private readonly stamps = { next: 0 };
  private readonly unfinished = new OrderQueue<TaskRecord>(this.stamps);
  private readonly finished = new OrderQueue<TaskRecord>(this.stamps);
  private readonly options: TaskTableOptions;
  evictions: Record<EvictionReason, number> = { capacity: 0, age: 0 };
  /** Called for every unfinished task evicted, so detectors and spans can close it. */
  onEvictUnfinished: ((record: TaskRecord, reason: EvictionReason) => void) | undefined;

  constructor(options: TaskTableOptions) {
    this.options = options;
  }

  get size(): number {
    return this.byId.size;
  }

  get unfinishedCount(): number {
    return this.unfinished.size;
  }

  get(uuid: string): TaskRecord | undefined {
    return this.byId.get(uuid);
  }

  getOrCreate(uuid: string, now: number): TaskRecord {
    const existing = this.byId.get(uuid);
    if (existing !== undefined) return existing;
    const record: TaskRecord = {
      uuid,
      name: undefined,
      queue: undefined,
      worker: undefined,
      state: undefined,
      stateTimestamp: -Infinity,
      sentAt: undefined,
      queued: undefined,
      receivedAt: undefined,
      startedAt: undefined,
      retriedAt: undefined,
      eta: undefined,
      retries: 0,
      attempts: 0,
      startedOn: undefined,
      startRetries: -1,
      startedSeenAt: undefined,
      duplicateOf: undefined,
      lostAt: undefined,
      rootId: undefined,
      parentId: undefined,
      touchedAt: now,
      inFinished: false,
      orderedAt: now,
      orderStamp: -1,
      marks: 0,
      firstArrival: undefined,
      seen: [],
      pending: undefined,
      pendingSince: 0,
    };
    this.byId.set(uuid, record);
    this.unfinished.push(record);
    if (this.byId.size > this.options.maxTasks) this.evictForCapacity();
    return record;
  }

  /** Marks a record as just updated, moving it between orders if its state became (un)finished. */
  touch(record: TaskRecord, now: number): void {
    record.touchedAt = now;
    const isFinal = record.state !== undefined && FINAL_STATES.has(record.state);
    // Moving a record to the back on every event costs time for nothing: eviction is by age in
    // minutes or by capacity, so order within a second does not matter. A record already in the
    // right order moves at most once a second. An evicted record (stamp -1) is not brought back.
    if (record.orderStamp < 0 || (isFinal === record.inFinished && now - record.orderedAt < 1)) return;
    (record.inFinished ? this.finished : this.unfinished).remove(record);
    (isFinal ? this.finished : this.unfinished).push(record);
    // Most tracked tasks are finished ones kept for late events. Arrays grown by push() keep room
    // for 16 more numbers; a finished task rarely gets another event, so it keeps exact copies.
    if (isFinal && !record.inFinished) {
      record.seen = record.seen.slice();
      if (record.queued !== undefined) record.queued = record.queued.slice();
    }
    record.inFinished = isFinal;
    record.orderedAt = now;
  }

  /** Unfinished tasks, oldest update first. */
  unfinishedTasks(): IterableIterator<TaskRecord> {
    return this.unfinished.values();
  }

  evictExpired(now: number): void {
    this.evictOlderThan(this.finished, now - this.options.finishedTtl, false);
    this.evictOlderThan(this.unfinished, now - this.options.unfinishedTtl, true);
  }

  private evictOlderThan(order: OrderQueue<TaskRecord>, cutoff: number, unfinished: boolean): void {
    for (let record = order.peek(); record !== undefined && record.touchedAt <= cutoff; record = order.peek()) {
      order.shift();
      this.byId.delete(record.uuid);
      this.evictions.age++;
      if (unfinished) this.onEvictUnfinished?.(record, 'age');
    }
  }

  private evictForCapacity(): void {
    const order = this.finished.size > 0 ? this.finished : this.unfinished;
    const victim = order.shift();
    if (victim === undefined) return;
    this.byId.delete(victim.uuid);
    this.evictions.capacity++;
    if (order === this.unfinished) this.onEvictUnfinished?.(victim, 'capacity');
  }
}
