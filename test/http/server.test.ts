import { request } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serialize } from '../../src/http/exposition.js';
import { startHttpServer } from '../../src/http/server.js';
import type { HttpServer } from '../../src/http/server.js';

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
