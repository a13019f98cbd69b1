// Celery 5.5's soft shutdown (worker_soft_shutdown_timeout), with a real current-Celery worker (this
// file runs only in the integration-celery-current project: vitest.config.ts). On a cold shutdown
// (SIGQUIT, or SIGTERM with REMAP_SIGTERM=SIGQUIT, as Celery's docs advise for Kubernetes) the worker
// lets running tasks go on for the timeout, then cancels them (task-cancelled) and, with acks_late,
// leaves their messages unacked for the broker to hand to another worker. Such a task is not lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { celeryMinor, runWorkload, settledMetrics, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';

describe('soft shutdown (Celery 5.5+)', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;

  beforeAll(async () => {
    const [major, minor] = celeryMinor();
    if (major * 100 + minor < 505) throw new Error(`soft shutdown needs Celery 5.5+, the workers run ${major}.${minor}`);
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--worker-timeout-heartbeats', '3']);
  });

  afterAll(async () => {
    await daemon?.stop();
    await redis?.stop();
  });

  it('does not count a task lost when its worker requeues it on soft shutdown and goes offline; its redelivery runs once more', async () => {
    const env = { PULSE_ACKS_LATE: '1', PULSE_SOFT_SHUTDOWN_TIMEOUT: '1', REMAP_SIGTERM: 'SIGQUIT' };
    const first = await startWorker({ broker: redis.url, name: 'soft1@%h', concurrency: 1, env, extraArgs: ['--heartbeat-interval', '1'] });
    await runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '1', PULSE_SLEEP_SECONDS: '8' });
    await waitFor('the task to run', async () => (await daemon.metrics()).value('celery_task_running', { name: 'pulse.sleep' }) === 1, 20_000);

    first.proc.signal('SIGTERM');
    await first.proc.exited;
    expect(first.proc.output).toMatch(/Initiating Soft Shutdown/);
    // Past the 3-heartbeat silence timeout (1 s beats) and a housekeeping round.
    await waitFor('the worker to be down', async () => (await daemon.metrics()).value('celery_worker_up', { hostname: first.hostname }) === 0, 10_000);
    await sleep(5000);
    const between = await daemon.metrics();
    expect(between.value('celery_task_lost_total')).toBe(0);
    expect(between.find('celery_task_running')).toEqual([]);
    expect(between.value('celery_pulse_tracked_tasks', { state: 'unfinished' })).toBe(1);

    const second = await startWorker({ broker: redis.url, name: 'soft2@%h', concurrency: 1, env: { PULSE_ACKS_LATE: '1' } });
    try {
      const m = await settledMetrics(daemon, 'the redelivered task to succeed', (cur) => cur.value('celery_task_succeeded_total', { name: 'pulse.sleep' }) === 1, 30_000);
      expect(m.value('celery_task_succeeded_total', { name: 'pulse.sleep', hostname: second.hostname })).toBe(1);
      expect(m.value('celery_task_started_total', { name: 'pulse.sleep' })).toBe(2);
      expect(m.value('celery_task_lost_total')).toBe(0);
      expect(m.value('celery_task_duplicate_executions_total')).toBe(0);
      expect(m.value('celery_task_attempts_count', { name: 'pulse.sleep', outcome: 'succeeded' })).toBe(1);
      expect(m.value('celery_pulse_tracked_tasks', { state: 'unfinished' })).toBe(0);
    } finally {
      await second.stop();
    }
  });
});
