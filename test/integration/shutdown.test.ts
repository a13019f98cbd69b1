// Graceful shutdown of the real daemon process, as Kubernetes does it: SIGTERM (or SIGINT from a
// terminal) stops consuming, closes the HTTP server and exits 0 within a bounded time, even with
// a scraper holding a connection, a client stuck mid-request, or the broker gone.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startRedis, waitFor } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';

// src/cli.ts exits 1 if stopping takes longer than this; a clean stop must come well before it.
const SHUTDOWN_TIMEOUT_MS = 10_000;

async function stopWith(daemon: DaemonProc, signal: NodeJS.Signals): Promise<{ code: number | null; ms: number }> {
  const start = Date.now();
  daemon.proc.signal(signal);
  const code = await Promise.race([daemon.proc.exited, new Promise<'hung'>((r) => setTimeout(() => r('hung'), SHUTDOWN_TIMEOUT_MS + 5000))]);
  if (code === 'hung') throw new Error(`daemon still running after ${signal}:\n${daemon.proc.output}`);
  return { code, ms: Date.now() - start };
}

async function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.on('error', () => resolve(true));
  });
}

describe('shutdown on SIGTERM and SIGINT', () => {
  let redis: RedisServer;
  const daemons: DaemonProc[] = [];
  const sockets: Socket[] = [];

  const daemon = async (): Promise<DaemonProc> => {
    const d = await startDaemon(['--broker-url', redis.url, '--log-level', 'info', '--broker-ping-interval', '1s']);
    daemons.push(d);
    return d;
  };

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await Promise.all(daemons.map((d) => d.stop()));
    await redis?.stop();
  });

  it('SIGTERM: unsubscribes, closes the HTTP server (keep-alive scraper connected) and exits 0', async () => {
    const d = await daemon();
    expect(redis.cli('PUBSUB', 'NUMPAT')).toBe('1');
    // fetch keeps its connection open between requests, as Prometheus does.
    expect((await d.scrape()).length).toBeGreaterThan(0);
    const { code, ms } = await stopWith(d, 'SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
    expect(d.proc.output).toContain('"msg":"shutting down"');
    expect(d.proc.output).toContain('"signal":"SIGTERM"');
    expect(d.proc.output).toContain('"msg":"stopped"');
    expect(redis.cli('PUBSUB', 'NUMPAT')).toBe('0');
    expect(await refused(d.port)).toBe(true);
  });

  it('SIGINT: the same clean exit', async () => {
    const d = await daemon();
    const { code } = await stopWith(d, 'SIGINT');
    expect(code).toBe(0);
    expect(d.proc.output).toContain('"signal":"SIGINT"');
  });

  it('does not wait for a client stuck in the middle of a request', async () => {
    const d = await daemon();
    const stuck = connect(d.port, '127.0.0.1');
    sockets.push(stuck);
    await new Promise<void>((resolve) => stuck.on('connect', () => resolve()));
    stuck.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    const { code, ms } = await stopWith(d, 'SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });

  it('exits 0 while the broker is gone and reconnection is under way', async () => {
    const own = await startRedis();
    const d = await startDaemon(['--broker-url', own.url, '--log-level', 'info', '--broker-ping-interval', '1s']);
    daemons.push(d);
    await own.stop();
    await waitFor('broker_up to drop to 0', async () => (await d.metrics()).value('celery_pulse_broker_up') === 0, 15_000);
    const { code, ms } = await stopWith(d, 'SIGTERM');
    expect(code).toBe(0);
    expect(ms).toBeLessThan(SHUTDOWN_TIMEOUT_MS);
  });
});
