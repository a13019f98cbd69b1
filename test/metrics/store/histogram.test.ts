import { Histogram } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openMetricsRegistry as registry, sampleLines as samples } from '../../kit/registry.js';
import { HistogramFamily } from '../../../src/metrics/store/histogram.js';

describe('HistogramFamily', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('counts each value in the first bucket whose bound is >= it, cumulated when written, with sum and count', async () => {
    const r = registry();
    const f = new HistogramFamily({ name: 'run_seconds', help: 'Run', labelNames: ['name'], buckets: [0.1, 1, 10], registers: [r] });
    const c = f.cell({ name: 'a' });
    f.cell({ name: 'never' });
    for (const v of [0.05, 0.1, 0.5, 1, 9.99, 10, 11, 3600, 0, NaN, Infinity]) c.observe(v);
    expect(await samples(r)).toEqual([
      'run_seconds_bucket{le="0.1",name="a"} 3',
      'run_seconds_bucket{le="1",name="a"} 5',
      'run_seconds_bucket{le="10",name="a"} 7',
      'run_seconds_bucket{le="+Inf",name="a"} 9',
      'run_seconds_sum{name="a"} 3632.64',
      'run_seconds_count{name="a"} 9',
    ]);
  });

  it("gives prom-client's get() for the same observations (so its Registry.metrics() works too)", async () => {
    const ours = new HistogramFamily({ name: 'h_seconds', help: 'h', labelNames: ['a', 'b'], buckets: [0.1, 1] });
    const theirs = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['a', 'b'], buckets: [0.1, 1], registers: [] });
    for (const [labels, v] of [[{ a: 'x', b: 'y' }, 0.5], [{ a: 'z', b: 'y' }, 2], [{ a: 'x', b: 'y' }, 0.01]] as const) {
      ours.cell(labels).observe(v);
      theirs.observe(labels, v);
    }
    expect(await ours.get()).toEqual(await theirs.get());
  });

  it('removes a series; a cell of it starts a fresh one; a family without labels has its series from the start', async () => {
    const r = registry();
    const f = new HistogramFamily({ name: 'wait_seconds', help: 'Wait', labelNames: ['q'], buckets: [1], registers: [r] });
    const c = f.cell({ q: 'a' });
    c.observe(0.5);
    f.cell({ q: 'b' }).observe(2);
    f.remove({ q: 'a' });
    c.observe(3);
    expect(await samples(r)).toEqual([
      'wait_seconds_bucket{le="1",q="b"} 0',
      'wait_seconds_bucket{le="+Inf",q="b"} 1',
      'wait_seconds_sum{q="b"} 2',
      'wait_seconds_count{q="b"} 1',
      'wait_seconds_bucket{le="1",q="a"} 0',
      'wait_seconds_bucket{le="+Inf",q="a"} 1',
      'wait_seconds_sum{q="a"} 3',
      'wait_seconds_count{q="a"} 1',
    ]);
    const plain = registry();
    new HistogramFamily({ name: 'plain_seconds', help: 'Plain', labelNames: [], buckets: [1], registers: [plain] });
    expect(await samples(plain)).toEqual(['plain_seconds_bucket{le="1"} 0', 'plain_seconds_bucket{le="+Inf"} 0', 'plain_seconds_sum 0', 'plain_seconds_count 0']);
  });

  it('refuses unordered or missing buckets and an `le` label', () => {
    expect(() => new HistogramFamily({ name: 'h', help: 'h', labelNames: [], buckets: [1, 1] })).toThrow('h: buckets must be finite and ascending');
    expect(() => new HistogramFamily({ name: 'h', help: 'h', labelNames: [], buckets: [] })).toThrow('h: buckets must be finite and ascending');
    expect(() => new HistogramFamily({ name: 'h', help: 'h', labelNames: ['le'], buckets: [1] })).toThrow('h: le is a reserved label name');
  });

  it('keeps the latest exemplar per bucket, +Inf included, written in OpenMetrics only; label values escaped', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-02T03:04:05.678Z') });
    const r = registry();
    const c = new HistogramFamily({ name: 'run_seconds', help: 'Run', labelNames: ['name'], buckets: [0.1, 1], registers: [r] }).cell({ name: 'a"\\\n' });
    c.observe(0.05, { trace_id: 't1' });
    c.observe(0.07, { trace_id: 't2' });
    c.observe(0.5);
    c.observe(5, { trace_id: 't3' });
    expect(await samples(r, 'openmetrics')).toEqual([
      'run_seconds_bucket{le="0.1",name="a\\"\\\\\\n"} 2 # {trace_id="t2"} 0.07 1767323045.678',
      'run_seconds_bucket{le="1",name="a\\"\\\\\\n"} 3',
      'run_seconds_bucket{le="+Inf",name="a\\"\\\\\\n"} 4 # {trace_id="t3"} 5 1767323045.678',
      'run_seconds_sum{name="a\\"\\\\\\n"} 5.62',
      'run_seconds_count{name="a\\"\\\\\\n"} 4',
    ]);
    expect((await samples(r)).some((l) => l.includes('trace_id'))).toBe(false);
  });

  it('serves name[]: the samples listed in Prometheus text, the whole histogram in OpenMetrics', async () => {
    const r = registry();
    new HistogramFamily({ name: 'run_seconds', help: 'Run', labelNames: ['name'], buckets: [1], registers: [r] }).cell({ name: 'a' }).observe(2);
    expect(await samples(r, 'prometheus', new Set(['run_seconds_count']))).toEqual(['run_seconds_count{name="a"} 1']);
    expect(await samples(r, 'openmetrics', new Set(['run_seconds_count']))).toHaveLength(4);
    expect(await samples(r, 'prometheus', new Set(['run_seconds']))).toEqual([]);
  });
});
