import { describe, expect, it } from 'vitest';
import { NumberSlab } from '../../src/state/number-slab.js';
import { SLOT_WIDTH, TaskRecord, logCode, logIfNew } from '../../src/state/task-record.js';
import { TaskTable } from '../../src/state/task-table.js';

// The slab that holds the task table's numbers (number-slab.ts), and the records' use of it: a slot
// per record in the table, handed back when the record leaves or its log outgrows the slot, and
// never shared by two live records.
describe('the number slab', () => {
  it('hands out distinct, non-overlapping slots across chunks and reuses freed ones', () => {
    const slab = new NumberSlab(3, 2);
    const slots = [slab.alloc(), slab.alloc(), slab.alloc()];
    expect(new Set(slots).size).toBe(3);
    slots.forEach((slot, i) => slab.chunk(slot).fill(i, slab.offset(slot), slab.offset(slot) + 3));
    slots.forEach((slot, i) => expect([...slab.chunk(slot).subarray(slab.offset(slot), slab.offset(slot) + 3)]).toEqual([i, i, i]));
    // Slots 0 and 1 share the first chunk of two; slot 2 starts the second.
    expect(slab.chunk(slots[0]!)).toBe(slab.chunk(slots[1]!));
    expect(slab.chunk(slots[2]!)).not.toBe(slab.chunk(slots[0]!));
    slab.free(slots[1]!);
    expect(slab.alloc()).toBe(slots[1]);
    expect(slab.slots).toBe(3);
  });
});

describe('task records in a slab', () => {
  it('keep their numbers apart and start from none whatever the slot held before', () => {
    const slab = new NumberSlab(SLOT_WIDTH, 4);
    const a = new TaskRecord('a', 1, slab);
    const b = new TaskRecord('b', 2, slab);
    a.sentAt = 10;
    b.startedAt = 20;
    expect([a.sentAt, a.startedAt, a.touchedAt]).toEqual([10, undefined, 1]);
    expect([b.sentAt, b.startedAt, b.touchedAt]).toEqual([undefined, 20, 2]);
    a.release();
    const c = new TaskRecord('c', 3, slab);
    expect(c.slot).toBe(0);
    expect([c.sentAt, c.stateTimestamp, c.touchedAt]).toEqual([undefined, -Infinity, 3]);
  });

  it('move the log out of the slot past four entries, giving the slot back, and keep every number', () => {
    const slab = new NumberSlab(SLOT_WIDTH, 4);
    const t = new TaskRecord('t', 0, slab);
    t.sentAt = 7;
    const started = logCode('task-started', undefined);
    for (let i = 0; i < 4; i++) logIfNew(t, started, i, undefined);
    expect(t.slot).toBe(0);
    logIfNew(t, started, 4, 99);
    expect(t.slot).toBe(-1);
    expect(t.sentAt).toBe(7);
    for (let i = 0; i <= 4; i++) expect(logIfNew(t, started, i, undefined)).toBe(false);
    // The slot is free again: the next record gets it, and writing there leaves `t` alone.
    const u = new TaskRecord('u', 0, slab);
    expect(u.slot).toBe(0);
    u.sentAt = 1;
    expect(t.sentAt).toBe(7);
  });

  it('that the table evicts read as none afterwards, not as the numbers of the task in their slot', () => {
    const table = new TaskTable({ maxTasks: 1, unfinishedTtl: 60, finishedTtl: 60 });
    const a = table.getOrCreate('a', 0);
    a.sentAt = 5;
    // b takes a slot before a is evicted; c then gets a's old slot.
    table.getOrCreate('b', 0);
    expect(table.get('a')).toBeUndefined();
    const c = table.getOrCreate('c', 0);
    expect(c.slot).toBe(0);
    c.sentAt = 6;
    expect(a.sentAt).toBeUndefined();
    expect(c.sentAt).toBe(6);
    // Touching it writes nothing to the numbers every evicted record shares.
    table.touch(a, 99);
    expect(a.touchedAt).toBeNaN();
  });
});
