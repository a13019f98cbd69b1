import { describe, expect, it } from 'vitest';
import { AgedMap } from '../../src/filter/aged-map.js';

describe('AgedMap', () => {
  it('drops the oldest entry beyond its size; setting a key again makes it the newest', () => {
    const m = new AgedMap<number>(3);
    expect([m.set('a', 1, 10), m.set('b', 2, 11), m.set('c', 3, 12), m.set('a', 4, 13)]).toEqual([false, false, false, false]);
    expect(m.set('d', 5, 14)).toBe(true);
    expect([m.get('a'), m.get('b'), m.get('c'), m.get('d'), m.size]).toEqual([4, undefined, 3, 5, 3]);
    expect(m.delete('c')).toBe(true);
    expect(m.delete('c')).toBe(false);
    expect([m.set('e', 6, 15), m.set('f', 7, 16)]).toEqual([false, true]);
    expect([m.get('a'), m.get('d'), m.get('e'), m.get('f'), m.size]).toEqual([undefined, 5, 6, 7, 3]);
  });

  it('expires what is at least maxAge old, and nothing younger', () => {
    const m = new AgedMap<string>(100);
    for (let i = 0; i < 10; i++) m.set(`k${i}`, `v${i}`, 100 + i);
    expect(m.expire(105, 3)).toBe(3);
    expect([m.get('k2'), m.get('k3'), m.size]).toEqual([undefined, 'v3', 7]);
    expect(m.expire(105, 3)).toBe(0);
  });

  // Behaviour only: that finding the oldest does not scan deleted entries is a speed, measured by
  // the benchmark's sidecar phase (bench/README.md), not timed here.
  it('drops the right oldest entry after many deletions', () => {
    const m = new AgedMap<number>(2);
    for (let i = 0; i < 100_000; i++) m.set(`k${i}`, i, i);
    for (let i = 0; i < 99_999; i++) m.delete(`k${i}`);
    expect([m.size, m.get('k99999')]).toEqual([1, 99_999]);
    expect([m.set('x', 1, 200_000), m.set('y', 2, 200_001)]).toEqual([false, true]);
    expect([m.get('k99999'), m.get('x'), m.get('y'), m.size]).toEqual([undefined, 1, 2, 2]);
  });
});
