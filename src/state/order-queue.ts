/**
 * A first-in first-out order of items with O(1) "move to the back", for the task table's LRU.
 *
 * Why not the insertion order of a Map (delete + set to move, `keys().next()` for the oldest)?
 * V8 leaves a deleted Map entry as a hole until the table is next rehashed, and an iterator
 * starts at the first slot, so finding the oldest of 100k tasks skipped tens of thousands of
 * holes: ~140 µs per eviction at capacity, 15 % of a busy daemon's CPU (bench/inproc.ts).
 *
 * Here a move appends the item again with a fresh stamp and the earlier entry goes stale; stale
 * entries are skipped when they reach the front, and dropped when the arrays fill up with at most
 * half of them live, so memory stays within a small multiple of the items held.
 *
 * The arrays are kept and compacted in place: a fresh pair per compaction, grown push by push, was
 * 20 MB of large-object allocations in 8 s at 125k events/s (the entries of 50k tasks are arrays of
 * over 128 KB), which brought full collections sooner. Stamps are in a Float64Array, outside the
 * collected heap.
 */
export class OrderQueue<T extends { orderStamp: number }> {
  private items: (T | undefined)[] = new Array<T | undefined>(INITIAL_CAPACITY).fill(undefined);
  private stamps: Float64Array = new Float64Array(INITIAL_CAPACITY);
  /** Entries are items[head…tail): live ones, and stale ones not yet skipped or compacted away. */
  private head = 0;
  private tail = 0;
  private live = 0;
  /** Iterations under way (values()): a compaction meanwhile replaces the arrays they read. */
  private iterating = 0;

  /**
   * `stampSource` is shared by queues whose items move between them: stamps are unique across
   * them, so an item's stamp tells which entry, in which queue, is its current place.
   */
  constructor(private readonly stampSource: { next: number }) {}

  get size(): number {
    return this.live;
  }

  /** Entries the arrays have room for (live, stale and free). */
  get capacity(): number {
    return this.items.length;
  }

  /** Appends `item`, which must not be in this or a sibling queue (see `remove`). */
  push(item: T): void {
    const stamp = this.stampSource.next++;
    item.orderStamp = stamp;
    if (this.tail === this.items.length) this.makeRoom();
    this.items[this.tail] = item;
    this.stamps[this.tail] = stamp;
    this.tail++;
    this.live++;
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
    return this.head < this.tail ? this.items[this.head] : undefined;
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
    const end = this.tail;
    this.iterating++;
    try {
      for (let i = this.head; i < end; i++) {
        const item = items[i];
        if (item !== undefined && item.orderStamp === stamps[i]) yield item;
      }
    } finally {
      this.iterating--;
    }
  }

  private skipStale(): void {
    const { items, stamps } = this;
    while (this.head < this.tail) {
      const item = items[this.head];
      if (item !== undefined && item.orderStamp === stamps[this.head]) return;
      items[this.head] = undefined;
      this.head++;
    }
    // Empty: start again at the beginning of the arrays, unless an iteration is reading them (it
    // would meet the items pushed next at places it has not reached yet).
    if (this.iterating > 0) return;
    this.head = 0;
    this.tail = 0;
  }

  /**
   * The arrays are full: drops stale entries and the consumed front, in place when that frees at
   * least half of them and no iteration reads them, else into new arrays (twice as large when the
   * queue is more than half live).
   */
  private makeRoom(): void {
    const capacity = this.items.length;
    const roomy = this.live <= capacity / 2;
    if (roomy && this.iterating === 0) return this.compactInto(this.items, this.stamps);
    const size = roomy ? capacity : capacity * 2;
    this.compactInto(new Array<T | undefined>(size).fill(undefined), new Float64Array(size));
  }

  /** Copies the live entries, in order, to the front of `items` and `stamps` (these arrays or new ones). */
  private compactInto(items: (T | undefined)[], stamps: Float64Array): void {
    const from = this.items;
    const fromStamps = this.stamps;
    const end = this.tail;
    // In place, `to` never passes `i`: nothing is overwritten before it is read.
    let to = 0;
    for (let i = this.head; i < end; i++) {
      const item = from[i];
      if (item !== undefined && item.orderStamp === fromStamps[i]) {
        items[to] = item;
        stamps[to] = fromStamps[i]!;
        to++;
      }
    }
    if (items === from) from.fill(undefined, to, end);
    this.items = items;
    this.stamps = stamps;
    this.head = 0;
    this.tail = to;
  }
}

const INITIAL_CAPACITY = 1024;
