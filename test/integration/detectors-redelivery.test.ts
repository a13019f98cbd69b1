// Executions Celery does not shout about: a task run twice because Redis redelivered it after a
// short visibility_timeout (acks_late), and tasks that succeed only after several hidden retries.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

describe('duplicate executions and hidden retries', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  const workers: CeleryWorker[] = [];
  // acks_late with a 2 s visibility_timeout: a 6 s task stays unacknowledged past it.
  const env = { PULSE_VISIBILITY_TIMEOUT: '2', PULSE_ACKS_LATE: '1', PULSE_PREFETCH: '1' };

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    workers.push(await startWorker({ broker: redis.url, name: 'dup1@%h', pool: 'threads', concurrency: 1, env, extraArgs: ['--heartbeat-interval', '1'] }));
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  it('counts a task redelivered after visibility_timeout and started again as one duplicate execution', async () => {
    const [w1] = workers;
    const ids = await runWorkload(redis.url, 'sleepers', { ...env, PULSE_SLEEPERS: '1', PULSE_SLEEP_SECONDS: '6' });
    await waitFor('the task to start on the first worker', async () => (await daemon.metrics()).value('celery_task_running', { name: 'pulse.sleep' }) === 1);
    await sleep(2500);
    // kombu restores unacknowledged messages older than visibility_timeout when a consumer starts
    // polling (transport/redis.py on_poll_init -> restore_visible): the second worker gets it again.
    const w2 = await startWorker({ broker: redis.url, name: 'dup2@%h', pool: 'threads', concurrency: 1, env, extraArgs: ['--heartbeat-interval', '1'] });
    workers.push(w2);
    const m = await waitFor('both executions to finish', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_succeeded_total', { name: 'pulse.sleep' }) === 2 ? cur : undefined;
    }, 30_000);
    expect(m.value('celery_task_duplicate_executions_total', { name: 'pulse.sleep', queue_name: 'celery' })).toBe(1);
    expect(m.value('celery_task_started_total', { name: 'pulse.sleep', hostname: w1!.hostname })).toBe(1);
    expect(m.value('celery_task_started_total', { name: 'pulse.sleep', hostname: w2.hostname })).toBe(1);
    // Counted once per task, as one attempt: a redelivery is not a retry.
    expect(m.value('celery_task_attempts_count', { name: 'pulse.sleep', outcome: 'succeeded' })).toBe(1);
    expect(m.value('celery_task_attempts_bucket', { name: 'pulse.sleep', outcome: 'succeeded', le: '1' })).toBe(1);
    const line = daemon.proc.output.split('\n').find((l) => l.includes('duplicate execution'));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ uuid: ids['sleep']![0], firstWorker: w1!.hostname, secondWorker: w2.hostname });
  });

  it('shows how many attempts each task took before it succeeded', async () => {
    // A plain worker: retries wait out a countdown, which prefetch=1 with acks_late would hold up.
    for (const w of workers.splice(0)) await w.stop();
    workers.push(await startWorker({ broker: redis.url, name: 'retry1@%h', concurrency: 2 }));
    await runWorkload(redis.url, 'retries');
    const m = await waitFor('the retried tasks to succeed', async () => {
      const cur = await daemon.metrics();
      const done = cur.value('celery_task_succeeded_total', { name: 'pulse.flaky_retry' }) === 2 && cur.value('celery_task_succeeded_total', { name: 'pulse.ok' }) === 3;
      return done ? cur : undefined;
    }, 30_000);
    const bucket = (name: string, le: string): number => m.value('celery_task_attempts_bucket', { name, outcome: 'succeeded', le });
    // Two tasks failing three times then succeeding: four attempts each, nothing counted twice.
    expect(m.value('celery_task_attempts_count', { name: 'pulse.flaky_retry', outcome: 'succeeded' })).toBe(2);
    expect(m.value('celery_task_attempts_sum', { name: 'pulse.flaky_retry', outcome: 'succeeded' })).toBe(8);
    expect([bucket('pulse.flaky_retry', '3'), bucket('pulse.flaky_retry', '4')]).toEqual([0, 2]);
    expect([m.value('celery_task_attempts_count', { name: 'pulse.ok' }), m.value('celery_task_attempts_sum', { name: 'pulse.ok' })]).toEqual([3, 3]);
    expect(m.value('celery_task_retried_total', { name: 'pulse.flaky_retry', exception: 'ConnectionError' })).toBe(6);
    expect(m.value('celery_task_duplicate_executions_total', { name: 'pulse.flaky_retry' })).toBe(0);
  });
});
