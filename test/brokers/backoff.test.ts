import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/brokers/backoff.js';

describe('backoffDelay', () => {
  const opts = { initialMs: 100, maxMs: 1000 };
  it('doubles from the initial step up to the cap', () => {
    expect([1, 2, 3, 4, 5, 20].map((a) => backoffDelay(a, opts, () => 1))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });
  it('jitters within the upper half of the step', () => {
    expect(backoffDelay(3, opts, () => 0)).toBe(200);
    expect(backoffDelay(3, opts, () => 0.5)).toBe(300);
  });
});
