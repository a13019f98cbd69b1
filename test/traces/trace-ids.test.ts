import { describe, expect, it } from 'vitest';
import { spanIdFor, toHrTime, traceIdForRoot } from '../../src/traces/trace-ids.js';

describe('trace and span ids derived from Celery ids', () => {
  it('uses a UUID root id as the trace id itself, so the root task id finds the trace', () => {
    expect(traceIdForRoot('1debf15b-0c8a-4f2e-9d1a-2b3c4d5e6f70')).toBe('1debf15b0c8a4f2e9d1a2b3c4d5e6f70');
    expect(traceIdForRoot('1DEBF15B-0C8A-4F2E-9D1A-2B3C4D5E6F70')).toBe('1debf15b0c8a4f2e9d1a2b3c4d5e6f70');
  });

  it('hashes other ids into a valid 128-bit trace id, the same every time', () => {
    const id = traceIdForRoot('report-2026-11-22');
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).not.toMatch(/^0+$/);
    expect(traceIdForRoot('report-2026-11-22')).toBe(id);
    expect(traceIdForRoot('report-2026-11-23')).not.toBe(id);
    // The all-zero UUID is not a valid trace id: hashed instead.
    expect(traceIdForRoot('00000000-0000-0000-0000-000000000000')).toMatch(/^(?!0+$)[0-9a-f]{32}$/);
  });

  it('gives each task, role, attempt and delivery its own stable 64-bit span id', () => {
    const ids = new Set<string>();
    for (const role of ['publish', 'process'] as const) {
      for (const retries of [0, 1, 2]) {
        for (const delivery of [0, 1]) {
          const id = spanIdFor('task-a', role, retries, delivery);
          expect(id).toMatch(/^[0-9a-f]{16}$/);
          expect(spanIdFor('task-a', role, retries, delivery)).toBe(id);
          ids.add(id);
        }
      }
    }
    expect(ids.size).toBe(12);
    expect(spanIdFor('task-b', 'process', 0)).not.toBe(spanIdFor('task-a', 'process', 0));
    expect(spanIdFor('task-a', 'process', 0)).toBe(spanIdFor('task-a', 'process', 0, 0));
  });

  it('converts float epoch seconds to [seconds, nanoseconds] without carrying past 1e9', () => {
    expect(toHrTime(1795310668.25)).toEqual([1795310668, 250_000_000]);
    expect(toHrTime(100)).toEqual([100, 0]);
    const [s, ns] = toHrTime(1.9999999999);
    expect(ns).toBeLessThan(1e9);
    expect(s + ns / 1e9).toBeCloseTo(2, 6);
  });
});
