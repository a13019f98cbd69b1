import { describe, expect, it } from 'vitest';
import { TaskRecord, logCode, logIfNew } from '../../src/state/task-record.js';

// The event log on each task record (task-record.ts): what it calls a repeat, how it grows past
// the room every record starts with, and what it drops once full.
describe('the task record event log', () => {
  const started = logCode('task-started', undefined);

  it('takes an event once: the same code and timestamp again is a repeat', () => {
    const t = new TaskRecord('u1', 0);
    expect(logIfNew(t, started, 10, undefined)).toBe(true);
    expect(logIfNew(t, started, 10, undefined)).toBe(false);
    expect(logIfNew(t, started, 11, undefined)).toBe(true);
    expect(logIfNew(t, logCode('task-succeeded', undefined), 10, undefined)).toBe(true);
  });

  it('tells attempts apart by their retries', () => {
    const t = new TaskRecord('u1', 0);
    expect(logIfNew(t, logCode('task-sent', 0), 5, undefined)).toBe(true);
    expect(logIfNew(t, logCode('task-sent', 1), 5, undefined)).toBe(true);
    expect(logIfNew(t, logCode('task-sent', 1), 5, undefined)).toBe(false);
  });

  it('grows past its first four entries, keeps the last sixteen and trims to size', () => {
    const t = new TaskRecord('u1', 0);
    const base = t.s.length;
    for (let i = 0; i < 20; i++) expect(logIfNew(t, started, i, undefined)).toBe(true);
    // The four oldest were dropped: they count as new again, which in turn drops the next oldest.
    expect(logIfNew(t, started, 19, undefined)).toBe(false);
    expect(logIfNew(t, started, 4, undefined)).toBe(false);
    expect(logIfNew(t, started, 3, undefined)).toBe(true);
    expect(logIfNew(t, started, 4, undefined)).toBe(true);
    t.trim();
    expect(t.s.length).toBe(base + 12 * 3);
  });
});
