import { request } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialize } from '../../src/http/exposition.js';
import { startHttpServer } from '../../src/http/server.js';
import type { HttpServer } from '../../src/http/server.js';
import { RateLimitedLog } from '../../src/log.js';
import { CollectorFamilies, Collectors } from '../../src/metrics/collector.js';
import { parseMetrics } from '../kit/metrics-text.js';

// /metrics over real HTTP: name[] restriction, HEAD, concurrent scrapes of a large registry.
describe('HTTP /metrics', () => {
  const registry = new Registry();
  let collects = 0;
  let server: HttpServer;
  let base: string;

  beforeAll(async () => {
    const events = new Counter({ name: 'celery_pulse_events_received_total', help: 'Events', labelNames: ['type'], registers: [registry] });
    events.inc({ type: 'task-received' }, 5);
    events.inc({ type: 'task-succeeded' }, 4);
    const tasks = new Counter({ name: 'celery_task_succeeded_total', help: 'Tasks', labelNames: ['name', 'hostname'], registers: [registry] });
    for (let n = 0; n < 500; n++) for (let w = 0; w < 20; w++) tasks.inc({ name: `t${n}`, hostname: `w${w}` }, n + w);
    new Gauge({
      name: 'celery_worker_up',
      help: 'Up',
      registers: [registry],
      collect() {
        collects++;
        this.set(1);
      },
    });
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metricsPath: '/metrics', registry, notReady: () => [], version: 'test', logger: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('serves only the families listed with name[]', async () => {
    const res = await fetch(`${base}/metrics?name[]=celery_pulse_events_received_total&name%5B%5D=celery_worker_up`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe(
      '# HELP celery_pulse_events_received_total Events\n# TYPE celery_pulse_events_received_total counter\n' +
        'celery_pulse_events_received_total{type="task-received"} 5\ncelery_pulse_events_received_total{type="task-succeeded"} 4\n\n' +
        '# HELP celery_worker_up Up\n# TYPE celery_worker_up gauge\ncelery_worker_up 1\n',
    );
    const om = await fetch(`${base}/metrics?name[]=celery_pulse_events_received_total`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    expect(await om.text()).toMatch(/^# HELP celery_pulse_events_received Events\n# TYPE celery_pulse_events_received counter\n.*\n.*\n# EOF\n$/);
    // A name nothing is written under: an empty exposition, not an error.
    const none = await fetch(`${base}/metrics?name[]=celery_pulse_events_received`);
    expect(none.status).toBe(200);
    expect(await none.text()).toBe('');
  });

  it('serves two concurrent full scrapes, each complete', async () => {
    const want = await serialize(registry, 'prometheus', { sliceMs: Infinity });
    expect(want.split('\n').length).toBeGreaterThan(10_000);
    const bodies = await Promise.all([fetch(`${base}/metrics`), fetch(`${base}/metrics`)].map(async (p) => (await p).text()));
    expect(bodies).toEqual([want, want]);
  });

  it('answers HEAD with the headers and no body, without collecting', async () => {
    const before = collects;
    const { status, headers, body } = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = request(`${base}/metrics`, { method: 'HEAD' }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
    expect(headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(body).toBe('');
    expect(collects).toBe(before);
    // The connection is still usable afterwards (no stray body on a kept-alive socket).
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('survives a client that leaves during a scrape', async () => {
    const gone = new AbortController();
    const p = fetch(`${base}/metrics`, { signal: gone.signal }).catch(() => undefined);
    setTimeout(() => gone.abort(), 1);
    await p;
    expect((await fetch(`${base}/metrics?name[]=celery_worker_up`)).status).toBe(200);
  });
});

// The collect phase runs where the scrape starts, for the families the scrape asks for.
describe('HTTP /metrics with collectors', () => {
  const registry = new Registry<OpenMetricsContentType>();
  const updates = { queues: 0, state: 0 };
  let server: HttpServer;
  let base: string;

  beforeAll(async () => {
    const collectors = new Collectors(registry, new RateLimitedLog(pino({ level: 'silent' })));
    const queues = new CollectorFamilies('queues', registry);
    const length = queues.gauge({ name: 'celery_queue_length', help: 'Length', labelNames: ['queue_name'] });
    const state = new CollectorFamilies('state', registry);
    const up = state.gauge({ name: 'celery_worker_up', help: 'Up', labelNames: ['hostname'] });
    collectors.register(
      queues.collector(() => length.set({ queue_name: 'celery' }, ++updates.queues)),
      state.collector(() => up.set({ hostname: 'w1' }, ++updates.state)),
    );
    const relabel = { metricPrefix: 'myapp_', staticLabels: {} };
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metricsPath: '/metrics', registry, collectors, relabel, notReady: () => [], version: 'test', logger: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('updates only the collectors of the families name[] asks for (as served, prefix included), and none on HEAD', async () => {
    expect(await (await fetch(`${base}/metrics?name[]=myapp_worker_up`)).text()).toBe('# HELP myapp_worker_up Up\n# TYPE myapp_worker_up gauge\nmyapp_worker_up{hostname="w1"} 1\n');
    expect(updates).toEqual({ queues: 0, state: 1 });
    // The registry's own name is not what is served under --metric-prefix: nothing to collect.
    await (await fetch(`${base}/metrics?name[]=celery_queue_length`)).text();
    expect(updates).toEqual({ queues: 0, state: 1 });
    expect(await (await fetch(`${base}/metrics?name[]=myapp_queue_length`)).text()).toContain('myapp_queue_length{queue_name="celery"} 1\n');
    expect(updates).toEqual({ queues: 1, state: 1 });
    expect((await fetch(`${base}/metrics`, { method: 'HEAD' })).status).toBe(200);
    expect(updates).toEqual({ queues: 1, state: 1 });
    const all = parseMetrics(await (await fetch(`${base}/metrics`)).text());
    expect(updates).toEqual({ queues: 2, state: 2 });
    expect(all.value('myapp_queue_length')).toBe(2);
    expect(all.find('myapp_pulse_scrape_collector_success').map((s) => [s.labels['collector'], s.value])).toEqual([['state', 1], ['queues', 1]]);
  });
});
