import { NumberSlab } from './number-slab.js';
import { OrderQueue } from './order-queue.js';
import { TaskIndex, hashOf } from './task-index.js';
import { SLOT_WIDTH, TaskRecord } from './task-record.js';
import type { TaskState } from './task-record.js';

export { TaskRecord } from './task-record.js';
export type { TaskState } from './task-record.js';

export const FINAL_STATES: ReadonlySet<TaskState> = new Set(['SUCCESS', 'FAILURE', 'REJECTED', 'REVOKED', 'LOST']);

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
 * One index (task-index.ts) finds a task by uuid; two LRU orders (order-queue.ts), one of
 * unfinished and one of finished tasks, say which to forget: `touch` moves a record to the back of
 * its order, so the front is always the least recently updated task and eviction never scans.
 * Finished tasks go first under pressure, so a flood of short tasks cannot push a long running one
 * out of memory.
 */
export class TaskTable {
  private readonly byId = new TaskIndex<TaskRecord>();
  /** The records' numbers (task-record.ts): a slot each while in the table. */
  private readonly slab = new NumberSlab(SLOT_WIDTH);
  private readonly stamps = { next: 0 };
  private readonly unfinished = new OrderQueue<TaskRecord>(this.stamps);
  private readonly finished = new OrderQueue<TaskRecord>(this.stamps);
  private readonly options: TaskTableOptions;
  evictions: Record<EvictionReason, number> = { capacity: 0, age: 0 };
  /** Called for every unfinished task evicted, so detectors and spans can close it. */
  onEvictUnfinished: ((record: TaskRecord, reason: EvictionReason) => void) | undefined;
  /** Called for every task evicted, last, while its key still names it. */
  onForget: ((record: TaskRecord) => void) | undefined;

  constructor(options: TaskTableOptions) {
    this.options = options;
  }

  get size(): number {
    return this.byId.size;
  }

  /** At --max-tracked-tasks: one more task evicts another. */
  get full(): boolean {
    return this.byId.size >= this.options.maxTasks;
  }

  get unfinishedCount(): number {
    return this.unfinished.size;
  }

  get(uuid: string): TaskRecord | undefined {
    return this.byId.get(uuid);
  }

  getOrCreate(uuid: string, now: number): TaskRecord {
    // One hash for the lookup and, for a new task, the insertion: every new task takes both.
    const h = hashOf(uuid);
    const existing = this.byId.get(uuid, h);
    if (existing !== undefined) return existing;
    const record = new TaskRecord(uuid, now, this.slab);
    this.byId.add(record, h);
    this.unfinished.push(record);
    if (this.byId.size > this.options.maxTasks) this.evictForCapacity();
    return record;
  }

  /** Marks a record as just updated, moving it between orders if its state became (un)finished. */
  touch(record: TaskRecord, now: number): void {
    // An evicted record (stamp -1) is not brought back, and its numbers are the shared "none"
    // (task-record.ts): nothing is written there.
    if (record.orderStamp < 0) return;
    record.touchedAt = now;
    const isFinal = record.state !== undefined && FINAL_STATES.has(record.state);
    // Moving a record to the back on every event costs time for nothing: eviction is by age in
    // minutes or by capacity, so order within a second does not matter. A record already in the
    // right order moves at most once a second.
    if (isFinal === record.inFinished && now - record.orderedAt < 1) return;
    (record.inFinished ? this.finished : this.unfinished).remove(record);
    (isFinal ? this.finished : this.unfinished).push(record);
    // Most tracked tasks are finished ones kept for late events: no spare room in their arrays.
    if (isFinal && !record.inFinished) record.trim();
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
      this.forget(record, 'age', unfinished);
    }
  }

  private evictForCapacity(): void {
    const order = this.finished.size > 0 ? this.finished : this.unfinished;
    const victim = order.shift();
    if (victim !== undefined) this.forget(victim, 'capacity', order === this.unfinished);
  }

  /** Drops a record already taken off its order; an unfinished one is reported before its slot goes. */
  private forget(record: TaskRecord, reason: EvictionReason, unfinished: boolean): void {
    this.byId.delete(record);
    this.evictions[reason]++;
    if (unfinished) this.onEvictUnfinished?.(record, reason);
    this.onForget?.(record);
    record.release();
  }
}
