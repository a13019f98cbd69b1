// A worker SIGKILLed in the middle of its tasks (the OOM killer's way): it sends no worker-offline
// and no final events. Real redis-server, a real Celery worker beating every 2 s (Celery's default), the built
// daemon with the default 3-heartbeat timeout and a 2 s stalled threshold.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

describe('dead workers, lost, stalled and prefetched tasks', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--worker-timeout-heartbeats', '3', '--stalled-threshold', '2s', '--worker-forget-after', '15s']);
    // Threads pool: tasks run beside the event loop, so heartbeats keep coming during long tasks.
    worker = await startWorker({ broker: redis.url, name: 'loss1@%h', pool: 'threads', concurrency: 2, extraArgs: ['--heartbeat-interval', '2'] });
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  it('shows a task running past its threshold as stalled, and not once it finished', async () => {
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '1', PULSE_SLEEP_SECONDS: '6' });
    const m = await waitFor('the task to stall', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_stalled', { name: 'pulse.sleep' }) === 1 ? cur : undefined;
    }, 15_000);
    expect(m.value('celery_task_running', { name: 'pulse.sleep', queue_name: 'celery' })).toBe(1);
    expect(m.value('celery_task_stalled_threshold_seconds', { name: 'pulse.sleep' })).toBe(2);
    expect(m.value('celery_task_oldest_running_age_seconds', { name: 'pulse.sleep' })).toBeGreaterThan(2);
    const done = await waitFor('the task to finish', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_succeeded_total', { name: 'pulse.sleep' }) === 1 ? cur : undefined;
    }, 15_000);
    expect(done.find('celery_task_stalled')).toEqual([]);
    expect(done.find('celery_task_running')).toEqual([]);
  });

  it('declares a SIGKILLed worker down within its timeout and its tasks lost exactly once', async () => {
    // Up to two run (concurrency 2), the rest wait in the worker's prefetch. Celery's threads pool
    // sometimes starts only one, so the split is read back rather than assumed.
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '3', PULSE_SLEEP_SECONDS: '60' });
    const before = await waitFor('all three received, at least one running', async () => {
      const cur = await daemon.metrics();
      const running = cur.value('celery_task_running', { name: 'pulse.sleep' });
      const prefetched = cur.value('celery_worker_tasks_prefetched', { hostname: worker.hostname });
      if (cur.value('celery_task_lost_total') > 0) throw new Error('tasks declared lost before the kill');
      return running >= 1 && running + prefetched === 3 ? cur : undefined;
    }, 20_000);
    expect(before.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
    expect(before.value('celery_pulse_tracked_tasks', { state: 'unfinished' })).toBe(3);

    const killedAt = Date.now();
    worker.proc.signal('SIGKILL');
    await worker.proc.exited;
    await waitFor('the worker to be declared down', async () => (await daemon.metrics()).value('celery_worker_up', { hostname: worker.hostname }) === 0, 15_000, 50);
    const downAfter = (Date.now() - killedAt) / 1000;
    // freq 2 s x 3 heartbeats after the last one (sent up to 2 s before the kill), plus the 1 s
    // housekeeping tick, scrape polling and a loaded machine.
    expect(downAfter).toBeGreaterThanOrEqual(4);
    expect(downAfter).toBeLessThan(10);

    const lost = await waitFor('the tasks to be counted lost', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_lost_total', { name: 'pulse.sleep' }) === 3 ? cur : undefined;
    }, 10_000);
    expect(lost.value('celery_task_lost_total', { name: 'pulse.sleep', queue_name: 'celery', reason: 'worker-lost' })).toBe(3);
    expect(lost.find('celery_task_running')).toEqual([]);
    expect(lost.find('celery_task_stalled')).toEqual([]);
    expect(lost.value('celery_worker_tasks_prefetched', { hostname: worker.hostname })).toBe(0);
    expect(lost.value('celery_pulse_tracked_tasks', { state: 'unfinished' })).toBe(0);
    // The attempts histogram counts the lost tasks that had started (one sleep ran in the first test).
    const startedHere = lost.value('celery_task_started_total', { name: 'pulse.sleep' }) - 1;
    expect(startedHere).toBeGreaterThanOrEqual(1);
    expect(lost.value('celery_task_attempts_count', { name: 'pulse.sleep', outcome: 'lost' })).toBe(startedHere);
    // Counted once: further housekeeping rounds add nothing.
    await new Promise((r) => setTimeout(r, 2500));
    const later = await daemon.metrics();
    expect(later.value('celery_task_lost_total')).toBe(3);
    expect(daemon.proc.output.match(/"msg":"task lost: /g)).toHaveLength(3);
  });

  it('drops every series of the dead worker once it is forgotten, and keeps the loss counted', async () => {
    const gone = await waitFor('the worker to be forgotten', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_workers_tracked') === 0 ? cur : undefined;
    }, 25_000);
    expect(gone.series.filter((s) => s.labels['hostname'] === worker.hostname)).toEqual([]);
    expect(gone.value('celery_task_lost_total', { name: 'pulse.sleep', reason: 'worker-lost' })).toBe(3);
  });
});
