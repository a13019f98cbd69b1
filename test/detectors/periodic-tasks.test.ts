import { describe, expect, it } from 'vitest';
import { cadence, jitterRatio } from '../../src/detectors/periodic-tasks.js';
import { harness, task } from './fixtures.js';

const beat = { name: 'app.beat', hostname: 'gen1@vm' };

describe('periodic tasks', () => {
  it('keeps the newest sent and received timestamps per name, whatever order they arrive in', () => {
    const h = harness();
    h.feed(task('task-sent', 'b', 110, beat), task('task-sent', 'a', 100, beat));
    h.feed(task('task-received', 'b', 110.5, { name: 'app.beat' }), task('task-received', 'a', 100.5, { name: 'app.beat' }));
    const t = h.detectors.periodic.byName.get('app.beat');
    expect([t?.lastSent, t?.lastReceived]).toEqual([110, 110.5]);
  });

  it('detects the cadence of new task ids from out-of-order arrivals, ignoring retries and repeats', () => {
    const h = harness();
    const order = [3, 0, 1, 5, 2, 4, 6];
    for (const i of order) h.feed(task('task-sent', `p${i}`, 1000 + 30 * i + (i % 2) * 0.4, beat));
    // Retries re-send the same id; a duplicate delivery is the same event again: neither is an arrival.
    h.feed(task('task-sent', 'p6', 1185, { ...beat, retries: 1 }), task('task-received', 'p6', 1180.1, { name: 'app.beat' }));
    // The worker's task-received can come before the client's task-sent: the earlier one counts.
    h.feed(task('task-received', 'p7', 1210.6, { name: 'app.beat' }), task('task-sent', 'p7', 1210.5, beat));
    expect(h.detectors.periodic.byName.get('app.beat')?.arrivals).toEqual([1000, 1030.4, 1060, 1090.4, 1120, 1150.4, 1180, 1210.5]);
    expect(h.detectors.periodic.byName.get('app.beat')?.detectedInterval).toBeCloseTo(30.4, 6);
  });

  it('reports no cadence for irregular, too few or too fast arrivals', () => {
    expect(cadence([0, 10, 20, 30, 40, 50])).toBe(10);
    // One late send among nine: one long and one short interval are tolerated...
    expect(cadence([0, 10, 20, 33, 40, 50, 60, 70, 80])).toBe(10);
    // ...two are not.
    expect(cadence([0, 10, 20, 33, 40, 50, 64, 70, 80])).toBeUndefined();
    expect(cadence([0, 10, 20, 30, 40])).toBeUndefined();
    expect(cadence([0, 10, 20, 35, 40, 50])).toBeUndefined();
    expect(cadence([0, 0.5, 1, 1.5, 2, 2.5])).toBeUndefined();
    expect(cadence([0, 1, 2.2, 3, 4, 5])).toBe(1);
  });
});

describe('cadence at the shortest schedule', () => {
  it('detects a 1 s Beat schedule whose sends jitter around the second', () => {
    const sends = [5.066, 6.069, 7.07, 8.071, 9.069, 10.069, 11.07, 12.069, 13.069].map((t) => 1795323000 + t);
    expect(cadence(sends)).toBeCloseTo(1, 2);
  });

  it('does not call a busy task arriving every 0.5 s a schedule', () => {
    expect(cadence([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4])).toBeUndefined();
  });
});

describe('jitter ratio (how far arrivals stray from clockwork)', () => {
  it('is near 0 for a Beat schedule, once 9 arrivals are kept, and follows the newest arrivals', () => {
    const sends = [5.066, 6.069, 7.07, 8.071, 9.069, 10.069, 11.07, 12.069, 13.069].map((t) => 1795323000 + t);
    expect(jitterRatio(sends)).toBeCloseTo(0.003, 3);
    expect(jitterRatio(sends.slice(1))).toBeUndefined();
    const h = harness();
    for (let i = 0; i < 8; i++) h.feed(task('task-sent', `p${i}`, 1000 + 60 * i, beat));
    const t = h.detectors.periodic.byName.get('app.beat')!;
    expect([t.detectedInterval, t.jitterRatio]).toEqual([60, undefined]);
    h.feed(task('task-sent', 'p8', 1480, beat));
    expect([t.detectedInterval, t.jitterRatio]).toEqual([60, 0]);
    // One send 12 s late: the cadence stays (one long and one short interval), the clockwork goes.
    h.feed(task('task-sent', 'p9', 1552, beat), task('task-sent', 'p10', 1600, beat));
    expect(t.detectedInterval).toBe(60);
    expect(t.jitterRatio).toBeCloseTo(0.2, 6);
  });

  it('is large for arrivals that come in bursts or at random', () => {
    // Bursts of three a second apart, every minute.
    expect(jitterRatio([0, 1, 2, 60, 61, 62, 120, 121, 122])).toBe(57);
    // Arrivals at random around a 60 s mean (exponential intervals).
    const random = [0, 41, 98, 101, 187, 230, 233, 301, 377];
    expect(jitterRatio(random)!).toBeGreaterThan(0.5);
  });
});
