import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TaskIndex } from '../../src/state/task-index.js';

// The task table's uuid index (task-index.ts), an open-addressing hash table: it must answer
// exactly as a Map would under any mix of adds and deletes, including the backward shifts that
// deletions make inside long probe runs and across the end of the arrays, and it must stay at the
// size its most entries need however much it churns.

interface Entry {
  readonly uuid: string;
}

type Op = { readonly add: string } | { readonly del: string };

describe('the task index', () => {
  it('answers as a Map does under any sequence of adds and deletes', () => {
    // A pool of 12 keys in a table of 16 or 32 slots: most deletes hit, and probe runs, wrap-arounds
    // and shifts are the common case.
    const key = fc.integer({ min: 0, max: 11 }).map((n) => `id-${n}`);
    const op: fc.Arbitrary<Op> = fc.oneof(key.map((k) => ({ add: k })), key.map((k) => ({ del: k })));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), fc.constantFrom(16, 32), (ops, capacity) => {
        const index = new TaskIndex<Entry>(capacity);
        const model = new Map<string, Entry>();
        for (const o of ops) {
          if ('add' in o) {
            if (model.has(o.add)) continue; // add() is for new ids only, as the table uses it
            const e = { uuid: o.add };
            index.add(e);
            model.set(o.add, e);
          } else {
            const e = model.get(o.del) ?? { uuid: o.del };
            expect(index.delete(e)).toBe(model.delete(o.del));
          }
          expect(index.size).toBe(model.size);
          for (const [k, e] of model) expect(index.get(k)).toBe(e);
        }
        for (const o of ops) if ('del' in o && !model.has(o.del)) expect(index.get(o.del)).toBeUndefined();
      }),
      { numRuns: 1000 },
    );
  });

  it('finds entries by an equal string, not only the same one, and deletes only the very entry', () => {
    const index = new TaskIndex<Entry>();
    const e = { uuid: 'd9b2a4c0-1f6e-4f55-9a3c-6b1d2e7f8a90' };
    index.add(e);
    // A copy, as JSON.parse makes a fresh string per event.
    const copy = JSON.parse(JSON.stringify(e.uuid)) as string;
    expect(index.get(copy)).toBe(e);
    expect(index.delete({ uuid: copy })).toBe(false);
    expect(index.get(e.uuid)).toBe(e);
    expect(index.delete(e)).toBe(true);
    expect(index.get(copy)).toBeUndefined();
    expect(index.size).toBe(0);
  });

  it('stays at twice its most entries under endless churn', () => {
    const index = new TaskIndex<Entry>();
    const entries = Array.from({ length: 100_000 }, (_, i) => ({ uuid: `task-${i}` }));
    let deleted = 0;
    entries.forEach((e, i) => {
      index.add(e);
      if (i >= 5000 && index.delete(entries[i - 5000]!)) deleted++;
    });
    expect(deleted).toBe(95_000);
    expect(index.size).toBe(5000);
    const live = entries.slice(95_000);
    // 5001 entries at most, held at a load of at most one half: 16384 slots.
    expect(index.capacity).toBe(16384);
    for (const e of live) expect(index.get(e.uuid)).toBe(e);
    expect(index.get('task-0')).toBeUndefined();
  });
});
