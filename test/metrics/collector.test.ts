import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { serialize } from '../../src/http/exposition.js';
import { RateLimitedLog } from '../../src/log.js';
import { CollectorFamilies, Collectors } from '../../src/metrics/collector.js';
import type { Collector } from '../../src/metrics/collector.js';
import { parseMetrics } from '../kit/metrics-text.js';

/** Log lines written, as pino writes them (one JSON object each). */
function logSink(): { log: RateLimitedLog; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { log: new RateLimitedLog(logger), lines };
}

/** A collector of one gauge that sets `value()` and counts its updates; `value` may throw. */
function gaugeCollector(registry: Registry<OpenMetricsContentType>, name: string, family: string, value: () => number): Collector & { updates: number } {
  const f = new CollectorFamilies(name, registry);
  const gauge = f.gauge({ name: family, help: family, labelNames: ['queue_name'] });
  const c = f.collector(() => {
    c.updates++;
    gauge.reset();
    gauge.set({ queue_name: 'a' }, value());
  }) as Collector & { updates: number };
  c.updates = 0;
  return c;
}

function setup(): { registry: Registry<OpenMetricsContentType>; collectors: Collectors; lines: Record<string, unknown>[] } {
  const registry = new Registry<OpenMetricsContentType>();
  const { log, lines } = logSink();
  return { registry, collectors: new Collectors(registry, log), lines };
}

describe('Collectors', () => {
  it('declares exactly the families a collector defined', () => {
    const f = new CollectorFamilies('queues', new Registry<OpenMetricsContentType>());
    f.gauge({ name: 'celery_queue_length', help: 'h' });
    f.counter({ name: 'celery_pulse_x_total', help: 'h' });
    expect(f.collector(() => undefined)).toMatchObject({ name: 'queues', families: ['celery_queue_length', 'celery_pulse_x_total'] });
  });

  it('updates every collector and reports its duration and success', async () => {
    const { registry, collectors } = setup();
    const depth = gaugeCollector(registry, 'queues', 'celery_queue_length', () => 7);
    const workers = gaugeCollector(registry, 'inspection', 'celery_active_worker_count', () => 2);
    collectors.register(depth, workers);
    await collectors.update();
    const m = parseMetrics(await serialize(registry, 'prometheus'));
    expect(m.value('celery_queue_length', { queue_name: 'a' })).toBe(7);
    expect(m.value('celery_active_worker_count', { queue_name: 'a' })).toBe(2);
    expect(m.find('celery_pulse_scrape_collector_success').map((s) => [s.labels['collector'], s.value])).toEqual([['queues', 1], ['inspection', 1]]);
    const durations = m.find('celery_pulse_scrape_collector_duration_seconds');
    expect(durations.map((s) => s.labels['collector'])).toEqual(['queues', 'inspection']);
    for (const d of durations) expect(d.value).toBeGreaterThanOrEqual(0);
    expect([depth.updates, workers.updates]).toEqual([1, 1]);
  });

  it('reports a throwing collector as failed, empties its families, logs it, and still updates the others', async () => {
    const { registry, collectors, lines } = setup();
    let broken = false;
    const depth = gaugeCollector(registry, 'queues', 'celery_queue_length', () => {
      if (broken) throw new Error('broker said no');
      return 7;
    });
    const workers = gaugeCollector(registry, 'inspection', 'celery_active_worker_count', () => 2 + workers.updates);
    collectors.register(depth, workers);
    await collectors.update();
    broken = true;
    await collectors.update();
    const m = parseMetrics(await serialize(registry, 'prometheus'));
    expect(m.find('celery_queue_length')).toEqual([]);
    expect(m.value('celery_active_worker_count', { queue_name: 'a' })).toBe(4);
    expect(m.value('celery_pulse_scrape_collector_success', { collector: 'queues' })).toBe(0);
    expect(m.value('celery_pulse_scrape_collector_success', { collector: 'inspection' })).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ collector: 'queues', err: 'broker said no' });
    // It comes back on the next update that succeeds.
    broken = false;
    await collectors.update();
    const again = parseMetrics(await serialize(registry, 'prometheus'));
    expect(again.value('celery_queue_length', { queue_name: 'a' })).toBe(7);
    expect(again.value('celery_pulse_scrape_collector_success', { collector: 'queues' })).toBe(1);
  });

  it('counts a rejected update as a failure too', async () => {
    const { registry, collectors } = setup();
    const f = new CollectorFamilies('queues', registry);
    f.gauge({ name: 'celery_queue_length', help: 'h' }).set(3);
    collectors.register(f.collector(() => Promise.reject(new Error('timeout'))));
    await collectors.update();
    const m = parseMetrics(await serialize(registry, 'prometheus'));
    expect(m.find('celery_queue_length')).toEqual([]);
    expect(m.value('celery_pulse_scrape_collector_success', { collector: 'queues' })).toBe(0);
  });

  it('runs only the collectors whose families the scrape asks for', async () => {
    const { registry, collectors } = setup();
    const depth = gaugeCollector(registry, 'queues', 'celery_queue_length', () => 7);
    const workers = gaugeCollector(registry, 'inspection', 'celery_active_worker_count', () => 2);
    collectors.register(depth, workers);
    await collectors.update((family) => family === 'celery_active_worker_count');
    expect([depth.updates, workers.updates]).toEqual([0, 1]);
    const m = parseMetrics(await serialize(registry, 'prometheus'));
    expect(m.find('celery_pulse_scrape_collector_success').map((s) => s.labels['collector'])).toEqual(['inspection']);
    await collectors.update((family) => family === 'nothing_served');
    expect([depth.updates, workers.updates]).toEqual([0, 1]);
    await collectors.update();
    expect([depth.updates, workers.updates]).toEqual([1, 2]);
  });

  it('shares an update still running with the next scrape rather than running it twice', async () => {
    const { registry, collectors } = setup();
    const f = new CollectorFamilies('queues', registry);
    const gauge = f.gauge({ name: 'celery_queue_length', help: 'h' });
    let release: () => void = () => undefined;
    let updates = 0;
    collectors.register(
      f.collector(async () => {
        updates++;
        await new Promise<void>((resolve) => (release = resolve));
        gauge.set(updates);
      }),
    );
    const first = collectors.update();
    const second = collectors.update();
    release();
    await Promise.all([first, second]);
    expect(updates).toBe(1);
    await Promise.all([collectors.update(), Promise.resolve().then(() => release())]);
    expect(updates).toBe(2);
  });

  it('updates the collectors that read memory after those waiting on a broker answered', async () => {
    const { registry, collectors } = setup();
    const order: string[] = [];
    let answer: () => void = () => undefined;
    const queues = new CollectorFamilies('queues', registry);
    queues.gauge({ name: 'celery_queue_length', help: 'h' });
    const state = new CollectorFamilies('state', registry);
    state.gauge({ name: 'celery_task_running', help: 'h' });
    collectors.register(
      state.collector(() => void order.push('state')),
      queues.collector(async () => {
        order.push('queues asked');
        await new Promise<void>((resolve) => (answer = resolve));
        order.push('queues answered');
      }, 'broker'),
    );
    const scrape = collectors.update();
    await new Promise((resolve) => setImmediate(resolve));
    expect(order).toEqual(['queues asked']);
    answer();
    await scrape;
    expect(order).toEqual(['queues asked', 'queues answered', 'state']);
  });

  it('refuses two collectors of one name', () => {
    const { registry, collectors } = setup();
    collectors.register(gaugeCollector(registry, 'queues', 'a', () => 1));
    expect(() => collectors.register(gaugeCollector(registry, 'queues', 'b', () => 1))).toThrow('collector queues is registered twice');
  });
});
