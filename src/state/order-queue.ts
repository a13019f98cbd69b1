/**
 * A first-in first-out order of items with O(1) "move to the back", for the task table's LRU.
 *
 * Why not the insertion order of a Map (delete + set to move, `keys().next()` for the oldest)?
 * V8 leaves a deleted Map entry as a hole until the table is next rehashed, and an iterator
 * starts at the first slot, so finding the oldest of 100k tasks skipped tens of thousands of
 * holes: ~140 µs per eviction at capacity, 15 % of a busy daemon's CPU (bench/inproc.ts).
 *
 * Here a move appends the item again with a fresh stamp and the earlier entry goes stale; stale
 * entries are skipped when they reach the front and dropped whenever they outnumber the live ones,
 * so memory stays within a small multiple of the items held.
 */
export class OrderQueue<T extends { orderStamp: number }> {
  private items: (T | undefined)[] = [];
  private stamps: number[] = [];
  private head = 0;
  private live = 0;

  /**
   * `stampSource` is shared by queues whose items move between them: stamps are unique across
   * them, so an item's stamp tells which entry, in which queue, is its current place.
   */
  constructor(private readonly stampSource: { next: number }) {}

  get size(): number {
    return this.live;
  }

  /** Appends `item`, which must not be in this or a sibling queue (see `remove`). */
  push(item: T): void {
    const stamp = this.stampSource.next++;
    item.orderStamp = stamp;
    this.items.push(item);
    this.stamps.push(stamp);
    this.live++;
    if (this.items.length > 2 * this.live + 1024) this.compact();
  }

  /** Forgets `item`'s place (it is about to be pushed elsewhere, or dropped). */
  remove(item: T): void {
    if (item.orderStamp < 0) return;
    item.orderStamp = -1;
    this.live--;
  }

  /** The item at the front, without removing it. */
  peek(): T | undefined {
    this.skipStale();
    return this.head < this.items.length ? this.items[this.head] : undefined;
  }

  /** Removes and returns the item at the front. */
  shift(): T | undefined {
    const item = this.peek();
    if (item === undefined) return undefined;
    this.items[this.head] = undefined;
    this.head++;
    this.live--;
    item.orderStamp = -1;
    return item;
  }

  /**
   * Live items, front first, as of the call: items moved or removed while iterating are skipped,
   * items pushed meanwhile are not visited. It reads the arrays it started with, which a
   * compaction during the iteration replaces rather than rewrites.
   */
  *values(): IterableIterator<T> {
    const { items, stamps } = this;
    const end = items.length;
    for (let i = this.head; i < end; i++) {
      const item = items[i];
      if (item !== undefined && item.orderStamp === stamps[i]) yield item;
    }
  }

  private skipStale(): void {
    const { items, stamps } = this;
    while (this.head < items.length) {
      const item = items[this.head];
      if (item !== undefined && item.orderStamp === stamps[this.head]) return;
      items[this.head] = undefined;
      this.head++;
    }
    // Empty: start again at the beginning of the arrays rather than growing them forever.
    this.items = [];
    this.stamps = [];
    this.head = 0;
  }

  /** Drops stale entries and the consumed front, keeping the order. */
  private compact(): void {
    const items: T[] = [];
    const stamps: number[] = [];
    for (let i = this.head; i < this.items.length; i++) {
      const item = this.items[i];
      if (item !== undefined && item.orderStamp === this.stamps[i]) {
        items.push(item);
        stamps.push(this.stamps[i]!);
      }
    }
    this.items = items;
    this.stamps = stamps;
    this.head = 0;
  }
}
