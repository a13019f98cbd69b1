import { describe, expect, it } from 'vitest';
import { AgedMap } from '../../src/filter/aged-map.js';

describe('AgedMap', () => {
  it('drops the oldest entry first; setting a key again makes it the newest', () => {
    const m = new AgedMap<number>();
    m.set('a', 1, 10);
    m.set('b', 2, 11);
    m.set('c', 3, 12);
    m.set('a', 4, 13);
    expect(m.dropOldest()).toBe(true);
    expect([m.get('a'), m.get('b'), m.get('c'), m.size]).toEqual([4, undefined, 3, 2]);
    expect(m.delete('c')).toBe(true);
    expect(m.delete('c')).toBe(false);
    expect(m.dropOldest()).toBe(true);
    expect([m.size, m.dropOldest()]).toEqual([0, false]);
  });

  it('expires what is at least maxAge old, and nothing younger', () => {
    const m = new AgedMap<string>();
    for (let i = 0; i < 10; i++) m.set(`k${i}`, `v${i}`, 100 + i);
    expect(m.expire(105, 3)).toBe(3);
    expect([m.get('k2'), m.get('k3'), m.size]).toEqual([undefined, 'v3', 7]);
    expect(m.expire(105, 3)).toBe(0);
  });

  it('finds the oldest at once after many deletions (a Map kept them as holes to skip)', () => {
    const m = new AgedMap<number>();
    for (let i = 0; i < 100_000; i++) m.set(`k${i}`, i, i);
    for (let i = 0; i < 99_999; i++) m.delete(`k${i}`);
    m.set('new', 1, 200_000);
    expect(m.dropOldest()).toBe(true);
    expect([m.get('k99999'), m.get('new'), m.size]).toEqual([undefined, 1, 1]);
  });
});
