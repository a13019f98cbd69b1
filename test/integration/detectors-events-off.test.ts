// "My metrics are empty": a worker started without -E sends heartbeats but no task events. The
// daemon flags it and says once how to fix it; a daemon run with --enable-events fixes it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

describe('workers with task events switched off', () => {
  let redis: RedisServer;
  let watcher: DaemonProc;
  let enabler: DaemonProc | undefined;
  let worker: CeleryWorker;
  const HINT = /processes tasks but sends no task events.*control enable_events.*-E/;

  beforeAll(async () => {
    redis = await startRedis();
    watcher = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    worker = await startWorker({ broker: redis.url, name: 'noe1@%h', events: false, extraArgs: ['--heartbeat-interval', '1'] });
  });

  afterAll(async () => {
    await worker?.stop();
    await enabler?.stop();
    await watcher?.stop();
    await redis?.stop();
  });

  it('flags the worker and logs one line saying how to enable events', async () => {
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '3', PULSE_SLEEP_SECONDS: '0.1' });
    const m = await waitFor('the worker to be flagged', async () => {
      const cur = await watcher.metrics();
      return cur.value('celery_worker_task_events_disabled', { hostname: worker.hostname }) === 1 ? cur : undefined;
    }, 30_000);
    expect(m.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
    expect(m.value('celery_task_received_total')).toBe(0);
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '2', PULSE_SLEEP_SECONDS: '0.1' });
    await sleep(3000); // more heartbeats with a growing processed count: still one line
    expect(watcher.proc.output.split('\n').filter((l) => HINT.test(l))).toHaveLength(1);
    expect(JSON.parse(watcher.proc.output.split('\n').find((l) => HINT.test(l))!)).toMatchObject({ level: 'warn', worker: worker.hostname, processed: 3 });
  });

  it('turns task events on with --enable-events, after which every task is counted', async () => {
    enabler = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--enable-events', '--enable-events-interval', '1s']);
    await waitFor('the worker to accept enable_events', () => /enabled by remote/.test(worker.proc.output), 10_000);
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '3', PULSE_SLEEP_SECONDS: '0.1' });
    for (const d of [watcher, enabler]) {
      const m = await waitFor('the three tasks to be counted', async () => {
        const cur = await d.metrics();
        return cur.value('celery_task_succeeded_total', { name: 'pulse.sleep' }) === 3 ? cur : undefined;
      }, 15_000);
      expect(m.value('celery_task_received_total', { name: 'pulse.sleep', hostname: worker.hostname })).toBe(3);
    }
    const cleared = await waitFor('the flag to clear', async () => {
      const cur = await watcher.metrics();
      return cur.value('celery_worker_task_events_disabled', { hostname: worker.hostname }) === 0 ? cur : undefined;
    }, 10_000);
    expect(cleared.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
  });
});
