import { OrderQueue } from '../state/order-queue.js';

interface Entry<V> {
  readonly key: string;
  readonly value: V;
  readonly at: number;
  orderStamp: number;
}

/**
 * A map of at most `maxSize` entries that leave oldest first: by age (`expire`), or one for each
 * entry added beyond the cap. Setting a key again makes it the newest.
 *
 * Not a Map's insertion order: V8 leaves a deleted Map entry as a hole until the next rehash, and
 * finding the oldest with `keys().next()` skips every hole at the front. A sidecar holds each
 * task-sent of the broker and drops the oldest for every new one once full, which made that scan
 * most of its CPU (see order-queue.ts for the same trap in the task table).
 */
export class AgedMap<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private readonly order = new OrderQueue<Entry<V>>({ next: 0 });

  constructor(private readonly maxSize: number) {}

  get size(): number {
    return this.entries.size;
  }

  get(key: string): V | undefined {
    return this.entries.get(key)?.value;
  }

  /** Adds or replaces `key`, which becomes the newest entry, added at `at`; true when that dropped the oldest. */
  set(key: string, value: V, at: number): boolean {
    this.delete(key);
    const entry: Entry<V> = { key, value, at, orderStamp: -1 };
    this.entries.set(key, entry);
    this.order.push(entry);
    return this.entries.size > this.maxSize && this.dropOldest();
  }

  /** True when `key` was there. */
  delete(key: string): boolean {
    const entry = this.entries.get(key);
    if (entry === undefined) return false;
    this.entries.delete(key);
    this.order.remove(entry);
    return true;
  }

  private dropOldest(): boolean {
    const entry = this.order.shift();
    if (entry === undefined) return false;
    this.entries.delete(entry.key);
    return true;
  }

  /** Removes the entries at least `maxAge` old at `now`, oldest first, and returns how many. */
  expire(now: number, maxAge: number): number {
    let n = 0;
    for (let e = this.order.peek(); e !== undefined && now - e.at >= maxAge; e = this.order.peek()) {
      this.order.shift();
      this.entries.delete(e.key);
      n++;
    }
    return n;
  }
}
