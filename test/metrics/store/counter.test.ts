import { Counter } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openMetricsRegistry as registry, sampleLines as samples } from '../../kit/registry.js';
import { serialize } from '../../../src/http/exposition.js';
import { CounterFamily } from '../../../src/metrics/store/counter.js';

describe('CounterFamily', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('adds what its cells count, one series per label set, created by its first inc()', async () => {
    const r = registry();
    const f = new CounterFamily({ name: 'jobs_total', help: 'Jobs', labelNames: ['name', 'queue_name'], registers: [r] });
    const a = f.cell({ name: 'a', queue_name: 'q' });
    const again = f.cell({ queue_name: 'q', name: 'a' });
    f.cell({ name: 'never', queue_name: 'q' });
    expect(await samples(r)).toEqual([]);
    // The series is made by the cell given its labels out of order.
    again.inc();
    a.inc();
    a.inc(2.5);
    f.cell({ name: 'b', queue_name: 'q' }).inc(0);
    // Labels in the family's order whatever the order given; series in the order they appeared.
    expect(await samples(r)).toEqual(['jobs_total{name="a",queue_name="q"} 4.5', 'jobs_total{name="b",queue_name="q"} 0']);
  });

  it('removes a series, and a cell of it starts a fresh one at its next inc()', async () => {
    const r = registry();
    const f = new CounterFamily({ name: 'jobs_total', help: 'Jobs', labelNames: ['host'], registers: [r] });
    const w1 = f.cell({ host: 'w1' });
    w1.inc(5);
    f.cell({ host: 'w2' }).inc(2);
    f.remove({ host: 'w1' });
    f.remove({ host: 'gone' });
    expect(await samples(r)).toEqual(['jobs_total{host="w2"} 2']);
    w1.inc();
    expect(await samples(r)).toEqual(['jobs_total{host="w2"} 2', 'jobs_total{host="w1"} 1']);
    r.resetMetrics();
    expect(await samples(r)).toEqual([]);
    w1.inc();
    expect(await samples(r)).toEqual(['jobs_total{host="w1"} 1']);
  });

  it('without labels has its one series from the start, as a prom-client counter has', async () => {
    const r = registry();
    new CounterFamily({ name: 'plain_total', help: 'Plain', labelNames: [], registers: [r] });
    new Counter({ name: 'theirs_total', help: 'Theirs', registers: [r] });
    expect(await samples(r)).toEqual(['plain_total 0', 'theirs_total 0']);
  });

  it('refuses labels it was not defined with when the cell is made, and bad names when defined', () => {
    const f = new CounterFamily({ name: 'jobs_total', help: 'Jobs', labelNames: ['name'] });
    expect(() => f.cell({})).toThrow('jobs_total: label "name" has no value');
    expect(() => f.cell({ name: 'a', extra: 'b' })).toThrow('jobs_total: unknown label "extra"');
    expect(() => f.remove({ nom: 'a' })).toThrow('jobs_total: label "name" has no value');
    expect(() => new CounterFamily({ name: 'bad-name', help: 'x', labelNames: [] })).toThrow('invalid metric name "bad-name"');
    expect(() => new CounterFamily({ name: 'ok_total', help: 'x', labelNames: ['__reserved'] })).toThrow('ok_total: invalid label name "__reserved"');
  });

  it('escapes label values in both formats', async () => {
    const r = registry();
    new CounterFamily({ name: 'jobs_total', help: 'Jobs', labelNames: ['name'], registers: [r] }).cell({ name: 'a"b\\c\nd' }).inc();
    expect(await samples(r)).toEqual(['jobs_total{name="a\\"b\\\\c\\nd"} 1']);
    expect(await samples(r, 'openmetrics')).toEqual(['jobs_total{name="a\\"b\\\\c\\nd"} 1']);
  });

  it('keeps the latest exemplar per series, stamped with the clock, written in OpenMetrics only', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-02T03:04:05.678Z') });
    const r = registry();
    const f = new CounterFamily({ name: 'failed_total', help: 'Failed', labelNames: ['name'], registers: [r] });
    const c = f.cell({ name: 'a' });
    c.inc(1, { trace_id: 'first' });
    vi.setSystemTime(new Date('2026-01-02T03:04:06.000Z'));
    c.inc(1, { trace_id: 'second' });
    c.inc();
    // Over OpenMetrics' 128 characters: counted, and the exemplar kept is the previous one.
    c.inc(1, { trace_id: 'x'.repeat(130) });
    f.cell({ name: 'b' }).inc(0, { trace_id: 'zero' });
    expect(await samples(r, 'openmetrics')).toEqual(['failed_total{name="a"} 4 # {trace_id="second"} 1 1767323046', 'failed_total{name="b"} 0 # {trace_id="zero"} 1 1767323046']);
    expect(await samples(r)).toEqual(['failed_total{name="a"} 4', 'failed_total{name="b"} 0']);
  });

  it('serves name[] restrictions, and prom-client\'s own Registry.metrics() through get()', async () => {
    const r = registry();
    new CounterFamily({ name: 'a_total', help: 'A', labelNames: ['x'], registers: [r] }).cell({ x: '1' }).inc(2);
    new CounterFamily({ name: 'b_total', help: 'B', labelNames: ['x'], registers: [r] }).cell({ x: '2' }).inc(3);
    expect(await serialize(r, 'prometheus', { names: new Set(['b_total']) })).toBe('# HELP b_total B\n# TYPE b_total counter\nb_total{x="2"} 3\n');
    expect(await samples(r, 'openmetrics', new Set(['a_total']))).toEqual(['a_total{x="1"} 2']);
    expect(await samples(r, 'prometheus', new Set(['a']))).toEqual([]);
    expect(await r.metrics()).toBe('# HELP a A\n# TYPE a counter\na_total{x="1"} 2\n# HELP b B\n# TYPE b counter\nb_total{x="2"} 3\n# EOF\n');
  });
});
