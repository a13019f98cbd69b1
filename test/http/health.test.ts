// /health, celery-exporter's probe (its chart's liveness and readiness path): 200 while every
// broker is connected, 503 naming those that are not.
import pino from 'pino';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../src/http/server.js';
import type { HttpServer } from '../../src/http/server.js';

describe('/health', () => {
  let down: string[] = [];
  let server: HttpServer;
  let base: string;

  beforeAll(async () => {
    server = await startHttpServer({ host: '127.0.0.1', port: 0, metricsPath: '/metrics', registry: new Registry(), notReady: () => down, version: 'test', logger: pino({ level: 'silent' }) });
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    await server.close();
  });

  it('answers 200 while connected and 503 naming the brokers that are not', async () => {
    down = [];
    const ok = await fetch(`${base}/health`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('Connected to the broker\n');
    down = ['redis-a'];
    const bad = await fetch(`${base}/health`);
    expect(bad.status).toBe(503);
    expect(await bad.text()).toBe('Failed to connect to broker: redis-a\n');
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
