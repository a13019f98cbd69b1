// Sidecar mode: two real Celery workers with different node names on one broker (redis-server,
// then rabbitmq-server), one celery-pulse per worker with --only-worker, and a standalone one
// watching everything. The two sidecars' counts add up to the truth of the `basic` workload, each
// event counted exactly once, though each drops the other worker's messages before decoding them.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicWorkloadDone, runWorkload, sleep, startDaemon, startRabbit, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics } from './harness.js';

const TASK_COUNTERS = ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'].map((o) => `celery_task_${o}_total`);
const HISTOGRAM_COUNTS = ['celery_task_runtime_seconds_count', 'celery_task_queue_wait_seconds_count'];

/** Every series of `names`, summed over the given scrapes, by full label set. */
function byLabels(scrapes: Metrics[], names: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of scrapes) {
    for (const s of m.series) {
      if (!names.includes(s.name)) continue;
      const key = `${s.name}${JSON.stringify(Object.entries(s.labels).sort())}`;
      out[key] = (out[key] ?? 0) + s.value;
    }
  }
  return out;
}

// On RabbitMQ, Celery turns the workload's already-expired task into an AMQP expiration of 0,
// which the broker drops unless a consumer has room for it at once: a prefetch window with room
// (see amqp-pipeline.test.ts). Deliveries go round-robin to the two consumers, so both take part.
const BROKERS = [
  { kind: 'redis', start: startRedis, prefetch: '1' },
  { kind: 'rabbitmq', start: () => startRabbit(), prefetch: '100' },
] as const;

describe.each(BROKERS)('sidecar filtering on $kind: one celery-pulse per worker, summed once', ({ start, prefetch }) => {
  let broker: { url: string; stop(): Promise<void> };
  let w1: CeleryWorker;
  let w2: CeleryWorker;
  let side1: DaemonProc;
  let side2: DaemonProc;
  let standalone: DaemonProc;
  let m1: Metrics;
  let m2: Metrics;
  let all: Metrics;
  let ids: Record<string, string[]>;

  beforeAll(async () => {
    broker = await start();
    const common = ['--broker-url', broker.url, '--log-level', 'warn', '--no-queue-metrics'];
    [w1, w2] = await Promise.all([
      startWorker({ broker: broker.url, name: 'side1@%h', concurrency: 1, env: { PULSE_PREFETCH: prefetch } }),
      startWorker({ broker: broker.url, name: 'side2@%h', concurrency: 1, env: { PULSE_PREFETCH: prefetch } }),
    ]);
    // One sidecar with the exact node name (as celery@$(POD_NAME) gives it), one with a glob from the environment.
    [side1, side2, standalone] = await Promise.all([
      startDaemon([...common, '--only-worker', w1.hostname]),
      startDaemon(common, { CELERY_PULSE_ONLY_WORKER: 'side2@*' }),
      startDaemon(['--broker-url', broker.url, '--log-level', 'warn']),
    ]);
    ids = await runWorkload(broker.url, 'basic');
    await waitFor('the standalone daemon to see the whole workload', async () => basicWorkloadDone(await standalone.metrics()), 60_000);
    await waitFor('the sidecars together to see the whole workload', async () => {
      const sum = byLabels([await side1.metrics(), await side2.metrics()], ['celery_task_succeeded_total', 'celery_task_revoked_total']);
      return Object.values(sum).reduce((a, b) => a + b, 0) === 9;
    }, 30_000);
    // Anything counted twice, or late, would show up now.
    await sleep(1500);
    [m1, m2, all] = await Promise.all([side1.metrics(), side2.metrics(), standalone.metrics()]);
  });

  afterAll(async () => {
    await Promise.all([w1?.stop(), w2?.stop()]);
    await Promise.all([side1?.stop(), side2?.stop(), standalone?.stop()]);
    await broker?.stop();
  });

  it('gives each sidecar only its own worker', () => {
    for (const [m, mine, other] of [[m1, w1, w2], [m2, w2, w1]] as const) {
      expect(m.find('celery_worker_up').map((s) => [s.labels['hostname'], s.value])).toEqual([[mine.hostname, 1]]);
      for (const name of TASK_COUNTERS.filter((n) => n !== 'celery_task_sent_total')) {
        for (const s of m.find(name)) expect(s.labels['hostname']).toBe(mine.hostname);
      }
      expect(m.value('celery_task_received_total', { hostname: other.hostname })).toBe(0);
    }
    // Both workers took part, or the sum below would prove nothing.
    expect(m1.value('celery_task_received_total')).toBeGreaterThanOrEqual(1);
    expect(m2.value('celery_task_received_total')).toBeGreaterThanOrEqual(1);
  });

  it('adds up to the known truth of the workload', () => {
    const sum = (name: string, labels: Record<string, string> = {}): number => m1.value(name, labels) + m2.value(name, labels);
    expect(sum('celery_task_sent_total')).toBe(6 + 3 + 2 + 6 + 1 + 1);
    expect(sum('celery_task_received_total')).toBe(5 + 3 + 2 + 6 + 1);
    expect(sum('celery_task_started_total')).toBe(5 + 3 + 2 + 6 + 1);
    expect(sum('celery_task_succeeded_total')).toBe(7);
    expect(sum('celery_task_failed_total')).toBe(5);
    expect(sum('celery_task_retried_total')).toBe(4);
    expect(sum('celery_task_rejected_total')).toBe(1);
    expect(sum('celery_task_revoked_total')).toBe(2);
    expect(sum('celery_task_revoked_total', { name: 'pulse.sleep' })).toBe(1);
    expect(sum('celery_task_runtime_seconds_count')).toBe(5 + 3 + 2 + 6);
    expect(sum('celery_task_runtime_seconds_count', { outcome: 'succeeded' })).toBe(7);
    expect(sum('celery_task_runtime_seconds_count', { outcome: 'failed' })).toBe(5);
    expect(sum('celery_task_runtime_seconds_count', { outcome: 'retried' })).toBe(4);
    expect(sum('celery_task_queue_wait_seconds_count')).toBe(5 + 3 + 2 + 6 + 1);
    expect(sum('celery_pulse_decode_errors_total')).toBe(0);
  });

  it('holds each task\'s latest task-sent in exactly one sidecar: the one whose worker did not take it', () => {
    // One held entry per task id (a retry's task-sent replaces the one before it).
    expect(m1.value('celery_pulse_held_task_sent') + m2.value('celery_pulse_held_task_sent')).toBe(new Set(Object.values(ids).flat()).size);
    for (const m of [m1, m2]) {
      expect(m.value('celery_pulse_events_filtered_total', { reason: 'sent_not_taken' })).toBe(0);
      // The other worker's messages were dropped before decoding, by the sender they carry: none
      // of its events was decoded to be filtered afterwards.
      expect(m.value('celery_pulse_messages_filtered_total', { reason: 'other_worker' })).toBeGreaterThanOrEqual(1);
      expect(m.value('celery_pulse_events_filtered_total', { reason: 'other_worker' })).toBe(0);
      expect(m.value('celery_pulse_events_received_total', { type: 'worker-heartbeat' })).toBeGreaterThanOrEqual(1);
    }
    expect(all.find('celery_pulse_held_task_sent')).toEqual([]);
  });

  it('matches the standalone daemon series by series, names, queues and client hostnames included', () => {
    expect(byLabels([m1, m2], [...TASK_COUNTERS, ...HISTOGRAM_COUNTS])).toEqual(byLabels([all], [...TASK_COUNTERS, ...HISTOGRAM_COUNTS]));
  });
});
