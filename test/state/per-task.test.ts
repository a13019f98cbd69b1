import { describe, expect, it } from 'vitest';
import { TaskNumbers, TaskSet, TaskSlots } from '../../src/state/per-task.js';
import { TaskTable } from '../../src/state/task-table.js';

describe("sinks' per-task tables", () => {
  it('give a forgotten key to the next task, whose entries start empty once the sink forgot the old ones', () => {
    const table = new TaskTable({ maxTasks: 1, unfinishedTtl: 60, finishedTtl: 60 });
    const marks = new TaskSet();
    const numbers = new TaskNumbers();
    const slots = new TaskSlots<{ v: number }>();
    const a = table.getOrCreate('a', 0);
    marks.add(a);
    numbers.set(a, 7);
    slots.set(a, { v: 1 });
    const key = a.key;
    table.onForget = (r) => {
      marks.forget(r);
      numbers.forget(r);
      slots.forget(r);
    };
    // A new record is made before the one it pushes out is forgotten: the next one takes the key.
    table.getOrCreate('x', 1);
    const b = table.getOrCreate('b', 2);
    expect(a.key).toBe(-1);
    expect(b.key).toBe(key);
    expect([marks.has(b), numbers.get(b), slots.get(b)]).toEqual([false, undefined, undefined]);
    // A forgotten record holds nothing and takes nothing.
    marks.add(a);
    numbers.set(a, 3);
    slots.set(a, { v: 2 });
    expect([marks.has(a), numbers.get(a), slots.get(a), marks.has(b), numbers.get(b)]).toEqual([false, undefined, undefined, false, undefined]);
  });

  it('grow to keys past their length', () => {
    const table = new TaskTable({ maxTasks: 1000, unfinishedTtl: 60, finishedTtl: 60 });
    const records = Array.from({ length: 300 }, (_, i) => table.getOrCreate(`t${i}`, 0));
    const numbers = new TaskNumbers();
    const slots = new TaskSlots<{ i: number }>();
    records.forEach((r, i) => i % 3 === 0 && (numbers.set(r, i), slots.set(r, { i })));
    expect(records.map((r) => numbers.get(r))).toEqual(records.map((_, i) => (i % 3 === 0 ? i : undefined)));
    expect(records.map((r) => slots.get(r)?.i)).toEqual(records.map((_, i) => (i % 3 === 0 ? i : undefined)));
  });
});
