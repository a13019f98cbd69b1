// Walking skeleton, end to end: a real redis-server, a real Celery worker running a workload whose
// outcome is known, the built daemon, and exact counts on /metrics.
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicWorkloadDone, runWorkload, settledMetrics, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RedisServer } from './harness.js';

describe('Redis events to /metrics with a real Celery worker', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let m: Metrics;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    worker = await startWorker({ broker: redis.url, name: 'skel1@%h', concurrency: 2 });
    await runWorkload(redis.url, 'basic');
    // Every final event of the workload: 5+2 succeeded, 5 failed, 1 rejected, 2 revoked.
    m = await settledMetrics(daemon, 'the workload to finish', (cur) => basicWorkloadDone(cur), 60_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  const host = (): string => worker.hostname;

  it('counts every outcome per task name on the worker that handled it', () => {
    const w = { hostname: host(), queue_name: 'celery' };
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_started_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_succeeded_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.fail_value' })).toBe(3);
    expect(m.value('celery_task_started_total', { ...w, name: 'pulse.fail_value' })).toBe(3);
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.fail_key' })).toBe(2);
    // Two tasks, each failing twice then succeeding: three attempts each.
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.flaky_retry' })).toBe(6);
    expect(m.value('celery_task_started_total', { ...w, name: 'pulse.flaky_retry' })).toBe(6);
    expect(m.value('celery_task_retried_total', { ...w, name: 'pulse.flaky_retry' })).toBe(4);
    expect(m.value('celery_task_succeeded_total', { ...w, name: 'pulse.flaky_retry' })).toBe(2);
    expect(m.value('celery_task_started_total', { ...w, name: 'pulse.reject' })).toBe(1);
    expect(m.value('celery_task_rejected_total', { ...w, name: 'pulse.reject' })).toBe(1);
    expect(m.value('celery_task_failed_total', { name: 'pulse.reject' })).toBe(0);
  });

  it('labels failures and retries with the exception class', () => {
    expect(m.find('celery_task_failed_total').map((s) => [s.labels['name'], s.labels['exception'], s.value]).sort()).toEqual([
      ['pulse.fail_key', 'KeyError', 2],
      ['pulse.fail_value', 'ValueError', 3],
    ]);
    expect(m.value('celery_task_retried_total', { name: 'pulse.flaky_retry', exception: 'ConnectionError' })).toBe(4);
  });

  it('counts revoked tasks, including ones never received, under the name from task-sent', () => {
    expect(m.value('celery_task_revoked_total', { name: 'pulse.ok', hostname: host() })).toBe(1);
    expect(m.value('celery_task_revoked_total', { name: 'pulse.sleep', hostname: host() })).toBe(1);
    expect(m.value('celery_task_received_total', { name: 'pulse.sleep' })).toBe(0);
  });

  it('counts task-sent from the clients, retries included', () => {
    // 5 ok + 1 expired ok; each flaky_retry is sent once by the client and twice more by its retries.
    expect(m.value('celery_task_sent_total', { name: 'pulse.ok' })).toBe(6);
    expect(m.value('celery_task_sent_total', { name: 'pulse.flaky_retry' })).toBe(6);
    expect(m.value('celery_task_sent_total', { name: 'pulse.sleep' })).toBe(1);
    expect(m.value('celery_task_sent_total')).toBe(6 + 3 + 2 + 6 + 1 + 1);
    for (const s of m.find('celery_task_sent_total')) expect(s.labels['hostname']).toMatch(/^gen\d+@/);
  });

  it('observes one runtime per finished attempt, under its outcome, and one queue wait per start', () => {
    const count = (metric: string, name: string): number => m.value(`${metric}_count`, { name, queue_name: 'celery' });
    const runtimes = (name: string): Record<string, number> =>
      Object.fromEntries(m.find('celery_task_runtime_seconds_count', { name, queue_name: 'celery' }).map((s) => [s.labels['outcome'], s.value]));
    expect(runtimes('pulse.ok')).toEqual({ succeeded: 5 });
    expect(runtimes('pulse.fail_value')).toEqual({ failed: 3 });
    expect(runtimes('pulse.fail_key')).toEqual({ failed: 2 });
    // Two tasks, each retried twice before it succeeds.
    expect(runtimes('pulse.flaky_retry')).toEqual({ retried: 4, succeeded: 2 });
    expect(runtimes('pulse.reject')).toEqual({});
    expect(count('celery_task_queue_wait_seconds', 'pulse.ok')).toBe(5);
    expect(count('celery_task_queue_wait_seconds', 'pulse.flaky_retry')).toBe(6);
    expect(count('celery_task_queue_wait_seconds', 'pulse.reject')).toBe(1);
    // Histograms are cumulative: the +Inf bucket equals the count.
    expect(m.value('celery_task_runtime_seconds_bucket', { name: 'pulse.ok', outcome: 'succeeded', le: '+Inf' })).toBe(5);
    // Retries wait out a countdown; the wait counts from the ETA, so it stays within a minute even
    // on a loaded machine (a wait counted from the first send would not be per attempt).
    expect(m.value('celery_task_queue_wait_seconds_bucket', { name: 'pulse.flaky_retry', le: '60' })).toBe(6);
  });

  it('reports the worker up with its heartbeat, and nothing undecodable', async () => {
    expect(m.value('celery_worker_up', { hostname: host() })).toBe(1);
    const hb = m.value('celery_worker_last_heartbeat_timestamp_seconds', { hostname: host() });
    expect(Math.abs(hb - Date.now() / 1000)).toBeLessThan(30);
    expect(m.value('celery_pulse_decode_errors_total')).toBe(0);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.value('celery_pulse_events_received_total', { type: 'task-succeeded' })).toBe(7);
  });

  it('serves an exposition that promtool check metrics parses, with no lint problem in our own families', async () => {
    const text = await daemon.scrape();
    expect(text).toContain('celery_task_runtime_seconds_bucket{');
    const check = spawnSync(process.env['CELERY_PULSE_PROMTOOL'] ?? 'promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(check.error).toBeUndefined();
    // Exit 3 is lint problems only (1 would be a parse error). The three named here are
    // prom-client's default process gauges (nodejs_active_*_total), not families of ours.
    const foreign = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'].map((n) => `${n} non-counter metrics should not have "_total" suffix`);
    expect({ code: check.status, out: (check.stdout + check.stderr).split('\n').filter((l) => l !== '') }).toEqual({ code: 3, out: foreign });
  });

  it('marks the worker down when it shuts down', async () => {
    await worker.stop();
    const after = await waitFor('worker_up to drop to 0', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_worker_up', { hostname: host() }) === 0 ? cur : undefined;
    }, 20_000);
    expect(after.value('celery_worker_tasks_active', { hostname: host() })).toBe(0);
  });
});
