// Holes in history: the daemon cut from Redis for a few seconds (redis-server restarted on the
// same port), and a worker whose heartbeats stop for a while (SIGSTOP) while the broker stays up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

describe('event-stream gaps', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--worker-timeout-heartbeats', '6']);
    worker = await startWorker({ broker: redis.url, name: 'gap1@%h', pool: 'threads', concurrency: 1, extraArgs: ['--heartbeat-interval', '1'] });
  });

  afterAll(async () => {
    worker?.proc.signal('SIGCONT');
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  it('counts one gap and its seconds when Redis goes away, and loses no task over it', async () => {
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '1', PULSE_SLEEP_SECONDS: '10' });
    await waitFor('the task to run', async () => (await daemon.metrics()).value('celery_task_running', { name: 'pulse.sleep' }) === 1);
    const before = await daemon.metrics();
    expect([before.value('celery_pulse_event_stream_gaps_total'), before.value('celery_pulse_event_stream_gap_seconds_total')]).toEqual([0, 0]);

    const port = redis.port;
    const cutAt = Date.now();
    await redis.stop();
    await sleep(3000);
    redis = await startRedis([], port);
    const m = await waitFor('the daemon to resubscribe', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_broker_up') === 1 ? cur : undefined;
    }, 20_000);
    const outage = (Date.now() - cutAt) / 1000;
    expect(m.value('celery_pulse_event_stream_gaps_total')).toBe(1);
    const seconds = m.value('celery_pulse_event_stream_gap_seconds_total');
    expect(seconds).toBeGreaterThanOrEqual(3);
    expect(seconds).toBeLessThanOrEqual(outage);

    // The worker reconnects on its own back-off (2 s, then 4 s: later than the daemon) and is not
    // blamed for the outage: no task of it is declared lost, it is up again.
    await waitFor('the worker to reconnect', async () => (await daemon.metrics()).value('celery_pulse_events_received_total', { type: 'worker-online' }) === 2, 20_000);
    await sleep(3000);
    const after = await daemon.metrics();
    expect(after.value('celery_task_lost_total')).toBe(0);
    expect(after.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
    expect(after.value('celery_pulse_event_stream_gaps_total')).toBe(1);
    expect(after.value('celery_pulse_event_stream_gap_seconds_total')).toBe(seconds);
    expect(after.value('celery_worker_heartbeat_gaps_total', { hostname: worker.hostname })).toBe(0);
  });

  it('counts a gap in a worker’s heartbeats while the broker stayed connected', async () => {
    await waitFor('heartbeats to flow', async () => (await daemon.metrics()).value('celery_worker_up', { hostname: worker.hostname }) === 1);
    await sleep(2000);
    worker.proc.signal('SIGSTOP');
    await sleep(3500);
    worker.proc.signal('SIGCONT');
    const m = await waitFor('the late heartbeat', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_worker_heartbeat_gaps_total', { hostname: worker.hostname }) === 1 ? cur : undefined;
    }, 10_000);
    const missing = m.value('celery_worker_heartbeat_gap_seconds_total', { hostname: worker.hostname });
    // About 3.5 s without a heartbeat, one of which was due anyway.
    expect(missing).toBeGreaterThan(2);
    expect(missing).toBeLessThan(4.5);
    await sleep(2500);
    const later = await daemon.metrics();
    expect(later.value('celery_worker_heartbeat_gaps_total', { hostname: worker.hostname })).toBe(1);
    expect(later.value('celery_pulse_event_stream_gaps_total')).toBe(1);
  });
});
