// One daemon, two brokers: a real redis-server and a real rabbitmq-server, each with its own Celery
// worker and workload. Every series carries the `broker` label, counts stay apart, and a broker
// that goes away stops nothing on the other one.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicWorkloadDone, runWorkload, startDaemon, startRabbit, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RabbitServer, RedisServer } from './harness.js';

const IDLE = 'pulse.idle';

describe('Redis and RabbitMQ in one daemon', () => {
  let redis: RedisServer;
  let rabbit: RabbitServer;
  let daemon: DaemonProc;
  let workers: CeleryWorker[] = [];
  let m: Metrics;

  const finished = (cur: Metrics, broker: string, times: number): boolean => basicWorkloadDone(cur, times, { broker });

  beforeAll(async () => {
    [redis, rabbit] = await Promise.all([startRedis(), startRabbit()]);
    daemon = await startDaemon([
      '--broker-url', `red=${redis.url}`,
      '--broker-url', `rab=${rabbit.url}`,
      '--rabbitmq-management-url', `rab=${rabbit.managementUrl}`,
      '--queues', IDLE,
      '--log-level', 'warn',
    ]);
    workers = await Promise.all([
      startWorker({ broker: redis.url, name: 'red1@%h' }),
      // A large prefetch window so RabbitMQ hands over the already expired task (see amqp-pipeline.test.ts).
      startWorker({ broker: rabbit.url, name: 'rab1@%h', env: { PULSE_PREFETCH: '100' } }),
    ]);
    await Promise.all([
      runWorkload(redis.url, 'basic'),
      runWorkload(rabbit.url, 'basic'),
      runWorkload(redis.url, 'to_queue', { PULSE_QUEUE: IDLE, PULSE_COUNT: '10' }),
      runWorkload(rabbit.url, 'to_queue', { PULSE_QUEUE: IDLE, PULSE_COUNT: '3' }),
    ]);
    m = await waitFor('both workloads to finish', async () => {
      const cur = await daemon.metrics();
      return finished(cur, 'red', 1) && finished(cur, 'rab', 1) ? cur : undefined;
    }, 60_000);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => w.stop()));
    await daemon?.stop();
    await Promise.all([redis?.stop(), rabbit?.stop()]);
  });

  it('counts each broker under its own label', () => {
    for (const broker of ['red', 'rab']) {
      expect(m.value('celery_task_succeeded_total', { broker, name: 'pulse.ok' })).toBe(5);
      expect(m.value('celery_task_retried_total', { broker, name: 'pulse.flaky_retry' })).toBe(4);
      expect(m.value('celery_task_failed_total', { broker, name: 'pulse.fail_value', exception: 'ValueError' })).toBe(3);
      expect(m.value('celery_pulse_broker_up', { broker })).toBe(1);
      expect(m.value('celery_pulse_queue_scrape_success', { broker })).toBe(1);
    }
    expect(m.value('celery_task_sent_total', { broker: 'red' })).toBe(19 + 10);
    expect(m.value('celery_task_sent_total', { broker: 'rab' })).toBe(19 + 3);
    expect(m.find('celery_worker_up', { broker: 'red' }).map((s) => s.labels['hostname'])).toEqual([workers[0]!.hostname]);
    expect(m.find('celery_worker_up', { broker: 'rab' }).map((s) => s.labels['hostname'])).toEqual([workers[1]!.hostname]);
  });

  it('reports each broker queue apart', () => {
    expect(m.value('celery_queue_length', { broker: 'red', queue_name: IDLE })).toBe(10);
    expect(m.value('celery_queue_length', { broker: 'rab', queue_name: IDLE })).toBe(3);
    expect(m.value('celery_active_consumer_count', { broker: 'rab', queue_name: 'celery' })).toBe(1);
    expect(m.find('celery_active_consumer_count', { broker: 'red' })).toEqual([]);
  });

  it('puts the broker label, a name and never a URL, on every series', () => {
    const families = /^celery_(task_|worker_|queue_|active_|pulse_broker_|pulse_queue_|pulse_events_)/;
    const unlabelled = m.series.filter((s) => families.test(s.name) && s.labels['broker'] === undefined);
    expect(unlabelled.map((s) => s.name)).toEqual([]);
    expect(new Set(m.series.filter((s) => s.labels['broker'] !== undefined).map((s) => s.labels['broker']))).toEqual(new Set(['red', 'rab']));
  });

  it('keeps counting one broker while the other is gone', async () => {
    await rabbit.stop();
    await waitFor('the RabbitMQ broker to be down', async () => (await daemon.metrics()).value('celery_pulse_broker_up', { broker: 'rab' }) === 0, 30_000);
    await runWorkload(redis.url, 'basic');
    const after = await waitFor('the second Redis workload to finish', async () => {
      const cur = await daemon.metrics();
      return finished(cur, 'red', 2) ? cur : undefined;
    }, 60_000);
    expect(after.value('celery_pulse_broker_up', { broker: 'red' })).toBe(1);
    expect(after.value('celery_pulse_queue_scrape_success', { broker: 'red' })).toBe(1);
    expect(after.value('celery_pulse_queue_scrape_success', { broker: 'rab' })).toBe(0);
    expect(after.value('celery_queue_length', { broker: 'red', queue_name: IDLE })).toBe(10);
    // The other broker's counters keep their values.
    expect(finished(after, 'rab', 1)).toBe(true);
    expect(daemon.proc.running).toBe(true);
  });
});
