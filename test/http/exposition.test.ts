import { readFileSync, writeFileSync } from 'node:fs';
import { Counter, Gauge, Histogram, Registry, Summary } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { negotiate, requestedNames, serialize } from '../../src/http/exposition.js';
import type { ExpositionFormat, SerializeOptions } from '../../src/http/exposition.js';
import { CounterFamily } from '../../src/metrics/store/counter.js';
import { HistogramFamily } from '../../src/metrics/store/histogram.js';

/**
 * Who keeps the counters and histograms of a test registry: prom-client's own classes, or our
 * store (src/metrics/store/). Both must serialize to the same bytes (the golden files are written
 * from prom-client's), so the same updates are applied through either.
 */
type Keeper = 'prom-client' | 'store';
const KEEPERS: Keeper[] = ['prom-client', 'store'];
type Labels = Record<string, string>;
type Update = (labels: Labels, value: number, exemplar?: Labels) => void;
interface FamilyDef {
  name: string;
  help: string;
  labelNames?: string[];
  exemplars?: boolean;
}

/** prom-client's default buckets, given to the store explicitly. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

function families(keeper: Keeper, r: Registry<OpenMetricsContentType>): { counter(d: FamilyDef): Update; histogram(d: FamilyDef & { buckets?: number[] }): Update } {
  const registers = [r];
  if (keeper === 'store') {
    return {
      counter: (d) => {
        const f = new CounterFamily({ name: d.name, help: d.help, labelNames: d.labelNames ?? [], registers });
        return (labels, value, exemplar) => f.cell(labels).inc(value, exemplar);
      },
      histogram: (d) => {
        const f = new HistogramFamily({ name: d.name, help: d.help, labelNames: d.labelNames ?? [], buckets: d.buckets ?? DEFAULT_BUCKETS, registers });
        return (labels, value, exemplar) => f.cell(labels).observe(value, exemplar);
      },
    };
  }
  // prom-client types exemplar labels as the metric's own label names; any names are valid in OpenMetrics.
  return {
    counter: (d) => {
      const c = new Counter({ name: d.name, help: d.help, labelNames: d.labelNames ?? [], registers, enableExemplars: d.exemplars === true });
      return (labels, value, exemplar) => (d.exemplars === true ? c.inc({ labels, value, ...(exemplar === undefined ? {} : { exemplarLabels: exemplar }) } as never) : c.inc(labels, value));
    },
    histogram: (d) => {
      const h = new Histogram({ name: d.name, help: d.help, labelNames: d.labelNames ?? [], registers, enableExemplars: d.exemplars === true, ...(d.buckets === undefined ? {} : { buckets: d.buckets }) });
      return (labels, value, exemplar) => (d.exemplars === true ? h.observe({ labels, value, ...(exemplar === undefined ? {} : { exemplarLabels: exemplar }) } as never) : h.observe(labels, value));
    },
  };
}

/** The exposition written in one go, never sliced: what every sliced write must equal (layout: golden/). */
const oneShot = (r: Registry<OpenMetricsContentType>, format: ExpositionFormat): Promise<string> => serialize(r, format, { sliceMs: Infinity });

function registry(): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const c = new Counter({ name: 'celery_task_failed_total', help: 'Failed "tasks"', labelNames: ['name', 'exception'], registers: [r], enableExemplars: true });
  // prom-client types exemplar labels as the metric's own label names; any names are valid in OpenMetrics.
  c.inc({ labels: { name: 'app.t', exception: 'ValueError' }, value: 2, exemplarLabels: { trace_id: 'abc' } as unknown as Record<'name', string> });
  const h = new Histogram({ name: 'celery_task_runtime_seconds', help: 'Runtime', labelNames: ['name'], buckets: [1, 5], registers: [r] });
  h.observe({ name: 'a"b\\c' }, 2);
  return r;
}

describe('serialize', () => {
  it('writes Prometheus text with counters keeping _total, and stays the same when called again', async () => {
    const r = registry();
    const once = await serialize(r, 'prometheus');
    expect(once).toContain('# TYPE celery_task_failed_total counter');
    expect(once).toContain('celery_task_failed_total{name="app.t",exception="ValueError"} 2\n');
    expect(once).toContain('celery_task_runtime_seconds_bucket{le="+Inf",name="a\\"b\\\\c"} 1');
    expect(once).not.toContain('# EOF');
    expect(once).not.toContain('trace_id');
    await serialize(r, 'openmetrics');
    expect(await serialize(r, 'prometheus')).toBe(once);
  });

  it('writes OpenMetrics with counter families without _total, exemplars and # EOF', async () => {
    const text = await serialize(registry(), 'openmetrics');
    expect(text).toContain('# TYPE celery_task_failed counter');
    expect(text).toContain('# HELP celery_task_failed Failed \\"tasks\\"');
    expect(text).toMatch(/celery_task_failed_total\{name="app.t",exception="ValueError"\} 2 # \{trace_id="abc"\} 2 \d+(\.\d+)?\n/);
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('negotiates on Accept', () => {
    expect(negotiate(undefined)).toBe('prometheus');
    expect(negotiate('text/plain;version=0.0.4')).toBe('prometheus');
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')).toBe('openmetrics');
  });
});

/**
 * A registry shaped like the daemon's at scale: task counters by name, hostname and queue (with
 * exception classes), two histograms with exemplars, collect-time gauges, a summary, a counter
 * without _total and label values that need escaping. About 14k sample lines.
 */
function largeRegistry(keeper: Keeper = 'prom-client'): { r: Registry<OpenMetricsContentType>; events: { inc(labels: Labels, value: number): void } } {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [r];
  const define = families(keeper, r);
  for (const outcome of ['received', 'started', 'succeeded', 'failed']) {
    const withException = outcome === 'failed';
    const inc = define.counter({ name: `celery_task_${outcome}_total`, help: `Tasks ${outcome}`, labelNames: ['name', 'hostname', 'queue_name', ...(withException ? ['exception'] : [])], exemplars: withException });
    for (let n = 0; n < 100; n++) {
      for (let w = 0; w < 20; w++) {
        const labels = { name: `app.tasks.t${n}${n === 7 ? '"\\\n' : ''}`, hostname: `celery@w${w}`, queue_name: `q${n % 4}` };
        if (withException) inc({ ...labels, exception: 'ValueError' }, n + w, { trace_id: `t${n}` });
        else inc(labels, n * w + 0.5);
      }
    }
  }
  for (const name of ['celery_task_runtime_seconds', 'celery_task_queue_wait_seconds']) {
    const runtime = name.includes('runtime');
    const observe = define.histogram({ name, help: 'Seconds', labelNames: ['name', 'queue_name'], buckets: [0.01, 0.1, 0.5, 1, 5, 10, 60], exemplars: runtime });
    for (let n = 0; n < 200; n++) {
      for (const v of [0.005, 0.3, n / 10, 70]) observe({ name: `t${n}`, queue_name: `q${n % 4}` }, v, runtime ? { trace_id: `x${n}` } : undefined);
    }
  }
  define.histogram({ name: 'empty_seconds', help: 'never observed' });
  const eventsInc = define.counter({ name: 'celery_pulse_events_received_total', help: 'Events', labelNames: ['type'] });
  const events = { inc: (labels: Labels, value: number) => eventsInc(labels, value) };
  for (const type of ['task-received', 'task-started', 'worker-heartbeat']) events.inc({ type }, 10);
  define.counter({ name: 'no_suffix', help: 'A counter named without _total' })({}, 3);
  new Gauge({
    name: 'celery_worker_up',
    help: 'Up, set at collect time',
    labelNames: ['hostname'],
    registers,
    collect() {
      this.reset();
      for (let w = 0; w < 20; w++) this.set({ hostname: `celery@w${w}` }, w % 2);
    },
  });
  const s = new Summary({ name: 'some_summary_seconds', help: 'A summary', percentiles: [0.5, 0.9], registers });
  for (let i = 0; i < 10; i++) s.observe(i);
  return { r, events };
}

function sampleNames(text: string): Set<string> {
  const out = new Set<string>();
  for (const line of text.split('\n')) if (line !== '' && !line.startsWith('#')) out.add(/^[^{ ]+/.exec(line)![0]);
  return out;
}

describe('serialize in time slices', () => {
  it.each(KEEPERS.flatMap((keeper) => (['prometheus', 'openmetrics'] as const).map((format) => [format, keeper] as const)))('writes %s from a %s registry byte for byte as in one go, however it is sliced', async (format, keeper) => {
    const { r } = largeRegistry(keeper);
    const reference = await oneShot(r, format);
    expect(reference.split('\n').length).toBeGreaterThan(10_000);
    expect(await serialize(r, format, { sliceMs: Infinity })).toBe(reference);
    // A zero slice yields after every 64 samples: the most boundaries there can be.
    expect(await serialize(r, format, { sliceMs: 0 })).toBe(reference);
    expect(await serialize(r, format)).toBe(reference);
  });

  it('lets the event loop turn while it writes a large registry, and a one-shot write would not', async () => {
    const { r } = largeRegistry();
    // How many times a self-rescheduling setImmediate (what a broker socket's callbacks need: a
    // turn of the event loop) ran between the start of a scrape and its end.
    const turnsDuring = async (sliceMs: number): Promise<number> => {
      let turns = 0;
      let done = false;
      const scrape = serialize(r, 'prometheus', { sliceMs });
      const spin = (): void => {
        if (done) return;
        turns++;
        setImmediate(spin);
      };
      setImmediate(spin);
      await scrape;
      done = true;
      return turns;
    };
    expect(await turnsDuring(Infinity)).toBe(0);
    expect(await turnsDuring(0)).toBeGreaterThan(50);
    // The default slice on a registry of 14k lines: it takes more than one slice anywhere.
    expect(await turnsDuring(1)).toBeGreaterThan(0);
  });

  it.each(KEEPERS)('reads counters that move between slices, and never writes a torn line (%s)', async (keeper) => {
    const { r, events } = largeRegistry(keeper);
    let bumps = 0;
    let done = false;
    const bump = (): void => {
      if (done) return;
      events.inc({ type: 'task-received' }, 1);
      bumps++;
      setImmediate(bump);
    };
    setImmediate(bump);
    const text = await serialize(r, 'prometheus', { sliceMs: 0 });
    done = true;
    expect(bumps).toBeGreaterThan(0);
    const received = Number(/^celery_pulse_events_received_total\{type="task-received"\} (\d+)$/m.exec(text)![1]);
    expect(received).toBeGreaterThanOrEqual(10);
    expect(received).toBeLessThanOrEqual(10 + bumps);
    // Every sample line is whole: a name, optional labels, and a number.
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      expect(line).toMatch(/^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})? (-?[0-9.e+-]+|[+-]Inf|NaN)$/);
    }
  });

  it('serves concurrent scrapes each in full', async () => {
    const { r } = largeRegistry();
    const [prom, om] = [await oneShot(r, 'prometheus'), await oneShot(r, 'openmetrics')];
    const results = await Promise.all([
      serialize(r, 'prometheus', { sliceMs: 0 }),
      serialize(r, 'openmetrics', { sliceMs: 0 }),
      serialize(r, 'prometheus', { sliceMs: 0 }),
    ]);
    expect(results).toEqual([prom, om, prom]);
  });

  it('stops when its signal is aborted', async () => {
    const { r } = largeRegistry();
    const gone = new AbortController();
    const scrape = serialize(r, 'prometheus', { sliceMs: 0, signal: gone.signal });
    gone.abort(new Error('client went away'));
    await expect(scrape).rejects.toThrow('client went away');
  });
});

describe('our store and prom-client', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('write a registry of 14k lines byte for byte alike, whole and restricted by name[]', async () => {
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-02T03:04:05.678Z') });
    const prom = largeRegistry('prom-client').r;
    const store = largeRegistry('store').r;
    const restricted = new Set(['celery_task_failed_total', 'celery_task_runtime_seconds_count', 'celery_task_queue_wait_seconds_bucket', 'no_suffix_total']);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const whole = await oneShot(prom, format);
      expect(whole.includes('trace_id')).toBe(format === 'openmetrics');
      expect(await oneShot(store, format)).toBe(whole);
      expect(await serialize(store, format, { names: restricted, sliceMs: 0 })).toBe(await serialize(prom, format, { names: restricted }));
    }
  });
});

describe('name[] restriction', () => {
  it.each(KEEPERS)('keeps the samples written under a listed name, as prometheus_client does (%s)', async (keeper) => {
    const { r } = largeRegistry(keeper);
    // A counter's samples are written as x_total; a histogram's as x_bucket, x_sum and x_count.
    const events = await serialize(r, 'prometheus', { names: new Set(['celery_pulse_events_received_total']) });
    expect(events).toBe(
      '# HELP celery_pulse_events_received_total Events\n# TYPE celery_pulse_events_received_total counter\n' +
        'celery_pulse_events_received_total{type="task-received"} 10\ncelery_pulse_events_received_total{type="task-started"} 10\n' +
        'celery_pulse_events_received_total{type="worker-heartbeat"} 10\n',
    );
    const counts = await serialize(r, 'prometheus', { names: new Set(['celery_task_runtime_seconds_count', 'celery_worker_up', 'nope']) });
    expect(sampleNames(counts)).toEqual(new Set(['celery_task_runtime_seconds_count', 'celery_worker_up']));
    expect(counts).toContain('# TYPE celery_task_runtime_seconds histogram\n');
    expect(counts.split('\n').filter((l) => l.startsWith('celery_worker_up{')).length).toBe(20);
    // The family name of a histogram has no samples of its own; neither has a summary's _bucket.
    expect(await serialize(r, 'prometheus', { names: new Set(['celery_task_runtime_seconds', 'some_summary_seconds_bucket']) })).toBe('');
    expect(sampleNames(await serialize(r, 'prometheus', { names: new Set(['some_summary_seconds', 'some_summary_seconds_sum']) }))).toEqual(
      new Set(['some_summary_seconds', 'some_summary_seconds_sum']),
    );
  });

  it.each(KEEPERS)('writes the restricted samples exactly as the full exposition has them (%s)', async (keeper) => {
    const { r } = largeRegistry(keeper);
    for (const format of ['prometheus', 'openmetrics'] as const) {
      const full = await serialize(r, format);
      const names = new Set(['celery_task_failed_total', 'celery_task_runtime_seconds_bucket', 'no_suffix', 'no_suffix_total']);
      const part = await serialize(r, format, { names, sliceMs: 0 });
      // OpenMetrics has no histogram without its buckets, sum and count: asked for one, all are written.
      const whole = format === 'openmetrics' ? ['celery_task_runtime_seconds_sum', 'celery_task_runtime_seconds_count'] : [];
      const wanted = new Set([...names, ...whole]);
      const kept = full.split('\n').filter((l) => !l.startsWith('#') && wanted.has(/^[^{ ]+/.exec(l)?.[0] ?? ''));
      expect(part.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual(kept);
      // no_suffix is written as no_suffix in Prometheus text and no_suffix_total in OpenMetrics.
      expect(sampleNames(part)).toEqual(new Set(['celery_task_failed_total', 'celery_task_runtime_seconds_bucket', ...whole, format === 'openmetrics' ? 'no_suffix_total' : 'no_suffix']));
      if (format === 'openmetrics') {
        expect(part.endsWith('# EOF\n')).toBe(true);
        expect(part).toContain('# TYPE celery_task_failed counter\n');
        expect(part).toMatch(/celery_task_runtime_seconds_bucket\{le="0.01",name="t0",queue_name="q0"\} 2 # \{trace_id="x0"\} 0 /);
      }
    }
    expect(await serialize(r, 'openmetrics', { names: new Set(['nothing_total']) })).toBe('# EOF\n');
  });

  it.each(KEEPERS)('writes an OpenMetrics histogram whole when only its _sum is asked for (%s)', async (keeper) => {
    const { r } = largeRegistry(keeper);
    const om = await serialize(r, 'openmetrics', { names: new Set(['celery_task_queue_wait_seconds_sum']) });
    // 200 series of 7 buckets, +Inf, _sum and _count.
    expect(om.split('\n').filter((l) => l.startsWith('celery_task_queue_wait_seconds_')).length).toBe(200 * 10);
    expect(sampleNames(await serialize(r, 'prometheus', { names: new Set(['celery_task_queue_wait_seconds_sum']) }))).toEqual(new Set(['celery_task_queue_wait_seconds_sum']));
  });

  it('collects only the families it may write', async () => {
    const r = new Registry();
    let collected = 0;
    new Gauge({
      name: 'g',
      help: 'g',
      registers: [r],
      collect() {
        collected++;
        this.set(1);
      },
    });
    new Counter({ name: 'c_total', help: 'c', registers: [r] }).inc();
    expect(await serialize(r, 'prometheus', { names: new Set(['c_total']) })).toBe('# HELP c_total c\n# TYPE c_total counter\nc_total 1\n');
    expect(collected).toBe(0);
    expect(await serialize(r, 'prometheus', { names: new Set(['g']) })).toBe('# HELP g g\n# TYPE g gauge\ng 1\n');
    expect(collected).toBe(1);
  });

  it('reads name[] from the query string', () => {
    expect(requestedNames('/metrics')).toBeUndefined();
    expect(requestedNames('/metrics?x=1')).toBeUndefined();
    expect(requestedNames('/metrics?name[]=')).toBeUndefined();
    expect(requestedNames('/metrics?name[]=a_total&name%5B%5D=b_bucket&name[]=&other=c')).toEqual(new Set(['a_total', 'b_bucket']));
  });
});

/**
 * A small registry fed a fixed sequence of updates that touches every layout rule: counters with
 * and without _total, exemplars on a counter and a histogram, an empty histogram, label values
 * and help that need escaping, a collect-time gauge, a summary.
 */
function goldenRegistry(keeper: Keeper = 'prom-client'): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const registers = [r];
  const define = families(keeper, r);
  const failed = define.counter({ name: 'celery_task_failed_total', help: 'Failed "tasks"\\ by exception', labelNames: ['name', 'exception'], exemplars: true });
  failed({ name: 'app.add', exception: 'ValueError' }, 2, { trace_id: '0af7651916cd43dd8448eb211c80319c' });
  failed({ name: 'app."odd"\\\nname', exception: 'KeyError' }, 1);
  const received = define.counter({ name: 'celery_task_received_total', help: 'Received', labelNames: ['name', 'hostname'] });
  for (const [name, host, n] of [['app.add', 'celery@a', 3], ['app.mul', 'celery@a', 1], ['app.add', 'celery@b', 0.5]] as const) received({ name, hostname: host }, n);
  const runtime = define.histogram({ name: 'celery_task_runtime_seconds', help: 'Runtime', labelNames: ['name', 'outcome'], buckets: [0.1, 1, 10], exemplars: true });
  for (const v of [0.05, 0.1, 0.7, 12]) runtime({ name: 'app.add', outcome: 'succeeded' }, v, { trace_id: `t${v}` });
  runtime({ name: 'app.mul', outcome: 'failed' }, 3);
  define.histogram({ name: 'celery_task_queue_wait_seconds', help: 'never observed', labelNames: ['name'], buckets: [1] });
  define.counter({ name: 'celery_pulse_no_suffix', help: 'A counter named without _total' })({}, 3);
  new Gauge({
    name: 'celery_worker_up',
    help: 'Up, set at collect time',
    labelNames: ['hostname'],
    registers,
    collect() {
      this.set({ hostname: 'celery@a' }, 1);
      this.set({ hostname: 'celery@b' }, 0);
    },
  });
  const s = new Summary({ name: 'celery_pulse_some_summary_seconds', help: 'A summary', percentiles: [0.5], registers });
  for (const v of [1, 2, 3]) s.observe(v);
  return r;
}

describe('golden exposition', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const relabel: SerializeOptions = { relabel: { metricPrefix: 'celery_exporter_', staticLabels: { cluster: 'eu"1' } } };
  const cases: [string, ExpositionFormat, SerializeOptions][] = [
    ['exposition.prom', 'prometheus', {}],
    ['exposition.om', 'openmetrics', {}],
    ['relabelled.prom', 'prometheus', relabel],
    ['relabelled.om', 'openmetrics', relabel],
  ];
  // Written by CELERY_PULSE_WRITE_GOLDEN=1 once, from the registry above kept by prom-client;
  // read by every run after, for both keepers: our store must write prom-client's layout.
  it.each(KEEPERS.flatMap((keeper) => cases.map((c) => [c[0], keeper, c[1], c[2]] as const)))('writes golden/%s byte for byte from a %s registry, sliced or not', async (file, keeper, format, options) => {
    // Exemplar timestamps are the clock at the update: the registry is fed at a fixed time.
    vi.useFakeTimers({ toFake: ['Date'], now: new Date('2026-01-02T03:04:05.678Z') });
    const r = goldenRegistry(keeper);
    const text = await serialize(r, format, options);
    const path = new URL(`golden/${file}`, import.meta.url);
    if (process.env['CELERY_PULSE_WRITE_GOLDEN'] === '1' && keeper === 'prom-client') writeFileSync(path, text);
    expect(text).toBe(readFileSync(path, 'utf8'));
    expect(await serialize(r, format, { ...options, sliceMs: 0 })).toBe(text);
  });
});
