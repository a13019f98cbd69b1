import { describe, expect, it } from 'vitest';
import { OrderQueue } from '../../src/state/order-queue.js';

interface Item {
  id: number;
  orderStamp: number;
}

const item = (id: number): Item => ({ id, orderStamp: -1 });
const ids = (q: OrderQueue<Item>): number[] => [...q.values()].map((i) => i.id);

/** A queue of `items` pushed in order. */
function queueOf(items: Item[]): OrderQueue<Item> {
  const q = new OrderQueue<Item>({ next: 0 });
  for (const i of items) q.push(i);
  return q;
}

/** The ids values() yields while `act` runs on each of them (to change the queue mid-iteration). */
function visit(q: OrderQueue<Item>, act: (id: number) => void): number[] {
  const seen: number[] = [];
  for (const i of q.values()) {
    seen.push(i.id);
    act(i.id);
  }
  return seen;
}

describe('OrderQueue', () => {
  it('keeps first-in first-out order, and a moved item goes to the back', () => {
    const q = new OrderQueue<Item>({ next: 0 });
    const items = [1, 2, 3, 4].map(item);
    for (const i of items) q.push(i);
    q.remove(items[1]!);
    q.push(items[1]!);
    expect(ids(q)).toEqual([1, 3, 4, 2]);
    expect(q.size).toBe(4);
    expect(q.shift()?.id).toBe(1);
    expect(q.peek()?.id).toBe(3);
    expect(q.size).toBe(3);
  });

  it('an item moved to a sibling queue is no longer in the first', () => {
    const stamps = { next: 0 };
    const a = new OrderQueue<Item>(stamps);
    const b = new OrderQueue<Item>(stamps);
    const [x, y] = [item(1), item(2)];
    a.push(x);
    a.push(y);
    a.remove(x);
    b.push(x);
    expect(ids(a)).toEqual([2]);
    expect(ids(b)).toEqual([1]);
    expect(a.shift()?.id).toBe(2);
    expect(a.shift()).toBeUndefined();
    expect(a.size).toBe(0);
    expect(b.size).toBe(1);
  });

  it('stays in order and bounded through many moves (stale entries are compacted away)', () => {
    const q = new OrderQueue<Item>({ next: 0 });
    const items = Array.from({ length: 100 }, (_, i) => item(i));
    for (const i of items) q.push(i);
    // Move every item to the back 200 times, in id order: 20 000 pushes for 100 live items.
    for (let round = 0; round < 200; round++) {
      for (const i of items) {
        q.remove(i);
        q.push(i);
      }
    }
    expect(ids(q)).toEqual(items.map((i) => i.id));
    expect(q.capacity).toBeLessThanOrEqual(2 * 100 + 1024 + 1);
    const drained: number[] = [];
    for (let i = q.shift(); i !== undefined; i = q.shift()) drained.push(i.id);
    expect(drained).toEqual(items.map((i) => i.id));
  });

  it('values() skips items moved while iterating', () => {
    const items = [1, 2, 3].map(item);
    const q = queueOf(items);
    const seen = visit(q, (id) => {
      if (id === 1) q.remove(items[1]!);
    });
    expect(seen).toEqual([1, 3]);
  });

  it('values() stays right when pushes during the iteration compact the queue', () => {
    const items = Array.from({ length: 10 }, (_, i) => item(i));
    const q = queueOf(items);
    const seen = visit(q, (id) => {
      // Moving item 9 to the back 2000 times leaves enough stale entries to force a compaction.
      if (id !== 2) return;
      for (let k = 0; k < 2000; k++) {
        q.remove(items[9]!);
        q.push(items[9]!);
      }
    });
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(ids(q)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('values() does not visit items pushed after the queue emptied during the iteration', () => {
    const q = queueOf([1, 2, 3].map(item));
    const seen = visit(q, (id) => {
      if (id !== 1) return;
      while (q.shift() !== undefined);
      q.push(item(4));
      q.push(item(5));
    });
    expect(seen).toEqual([1]);
    expect(ids(q)).toEqual([4, 5]);
  });

  it('keeps its arrays through endless churn at a steady size, compacting them in place', () => {
    const q = new OrderQueue<Item>({ next: 0 });
    const items = Array.from({ length: 3000 }, (_, i) => item(i));
    for (const i of items) q.push(i);
    // A task table's life: the oldest leaves, a new one arrives, a recent one moves to the back.
    const churn = (from: number, to: number): void => {
      for (let n = from; n < to; n++) {
        q.shift();
        items.push(item(n));
        q.push(items[n]!);
        const recent = items[n - 5]!;
        if (n % 3 === 0 && recent.orderStamp >= 0) {
          q.remove(recent);
          q.push(recent);
        }
      }
    };
    // The arrays grow to at least twice the live entries once, then stay.
    churn(3000, 10_000);
    const internal = q as unknown as { items: unknown[]; stamps: Float64Array; head: number; tail: number };
    const [arrays, stamps, capacity] = [internal.items, internal.stamps, q.capacity];
    expect(capacity).toBe(8192);
    churn(10_000, 200_000);
    expect(q.size).toBe(3000);
    expect(q.capacity).toBe(capacity);
    expect(internal.items).toBe(arrays);
    expect(internal.stamps).toBe(stamps);
    // Nothing outside the entries holds an item: an evicted task must not be kept alive here.
    expect(internal.items.filter((x, k) => x !== undefined && (k < internal.head || k >= internal.tail))).toEqual([]);
    // Still in order: stamps increase from front to back, and every live item is there once.
    const order = [...q.values()];
    expect(new Set(order).size).toBe(3000);
    expect(order.every((x, k) => k === 0 || x.orderStamp > order[k - 1]!.orderStamp)).toBe(true);
  });
});
