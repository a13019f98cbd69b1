// Queue depth on Redis with a real redis-server and real Celery clients and workers, under a
// global_keyprefix: priority sub-lists summed, unacked messages split by queue, queues found in
// kombu's bindings, a queue that empties keeps reporting 0, and --no-queue-metrics.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

const PREFIX = 'pfx:';
const IDLE = 'pulse.idle';
const MISSING = 'pulse.missing';
const SLOW = 'pulse.slow';
const BOUND = 'pulse.bound';

describe('Redis queue depth', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  const celeryEnv = { PULSE_KEYPREFIX: PREFIX };

  beforeAll(async () => {
    redis = await startRedis();
    // Consumes SLOW and BOUND; nobody ever sends to BOUND, so only kombu's binding names it.
    // One process, prefetch 4, acks_late: four messages stay in `unacked` while the first runs.
    worker = await startWorker({
      broker: redis.url,
      name: 'rq1@%h',
      concurrency: 1,
      // Not solo: its event loop must keep fetching while the first task runs.
      pool: 'prefork',
      queues: [SLOW, BOUND],
      env: { ...celeryEnv, PULSE_PREFETCH: '4', PULSE_ACKS_LATE: '1' },
    });
    daemon = await startDaemon([
      '--broker-url', redis.url,
      '--broker-transport-option', `global_keyprefix=${PREFIX}`,
      '--queues', IDLE,
      '--queues', MISSING,
      '--log-level', 'warn',
    ]);
    await Promise.all([
      runWorkload(redis.url, 'to_queue', { ...celeryEnv, PULSE_QUEUE: IDLE }),
      runWorkload(redis.url, 'to_queue', { ...celeryEnv, PULSE_QUEUE: SLOW, PULSE_COUNT: '8', PULSE_SLEEP_SECONDS: '20' }),
    ]);
  });

  afterAll(async () => {
    worker?.proc.signal('SIGKILL');
    await worker?.proc.exited;
    await daemon?.stop();
    await redis?.stop();
  });

  it('sums the priority sub-lists kombu spreads a queue over', async () => {
    // Priorities 0..9 went to IDLE, IDLE\x06\x163, IDLE\x06\x166 and IDLE\x06\x169 (kombu _q_for_pri).
    const llen = (key: string): number => Number(redis.cli('LLEN', key));
    expect([IDLE, `${IDLE}\x06\x163`, `${IDLE}\x06\x166`, `${IDLE}\x06\x169`].map((q) => llen(PREFIX + q))).toEqual([3, 3, 3, 1]);
    const m = await daemon.metrics();
    expect(m.value('celery_queue_length', { queue_name: IDLE })).toBe(10);
    expect(m.find('celery_queue_length', { queue_name: MISSING }).map((s) => s.value)).toEqual([0]);
    expect(m.value('celery_pulse_queue_scrape_success')).toBe(1);
    // Redis has no consumer count: the family has no series rather than a made-up 0.
    expect(m.find('celery_active_consumer_count')).toEqual([]);
  });

  it('splits unacknowledged messages by queue', async () => {
    const m = await waitFor('the slow worker to hold four messages', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_queue_unacked_messages', { queue_name: SLOW }) === 4 ? cur : undefined;
    }, 30_000);
    expect(m.value('celery_queue_length', { queue_name: SLOW })).toBe(4);
    expect(m.value('celery_queue_unacked_messages', { queue_name: IDLE })).toBe(0);
    expect(Number(redis.cli('HLEN', `${PREFIX}unacked`))).toBe(4);
  });

  it('finds queues from kombu bindings and from task-sent events', async () => {
    const m = await daemon.metrics();
    expect(m.find('celery_queue_length', { queue_name: BOUND }).map((s) => s.value)).toEqual([0]);
    // Named nowhere but in the task-sent events of the workload.
    expect(m.find('celery_queue_length', { queue_name: SLOW })).toHaveLength(1);
    expect(m.find('celery_queue_length').map((s) => s.labels['queue_name']).sort()).toEqual([BOUND, MISSING, IDLE, SLOW].sort());
  });

  it('keeps reporting a queue that emptied, as 0', async () => {
    redis.cli('DEL', PREFIX + IDLE, `${PREFIX}${IDLE}\x06\x163`, `${PREFIX}${IDLE}\x06\x166`, `${PREFIX}${IDLE}\x06\x169`);
    const m = await waitFor('the idle queue to read 0', async () => {
      const cur = await daemon.metrics();
      return cur.find('celery_queue_length', { queue_name: IDLE })[0]?.value === 0 ? cur : undefined;
    });
    expect(m.find('celery_queue_length', { queue_name: IDLE })).toHaveLength(1);
  });

  it('answers the scrape when the broker hangs, without its queue series', async () => {
    redis.proc.signal('SIGSTOP');
    try {
      // --queue-metrics-timeout (2 s) ends the wait; the scrape itself succeeds.
      const m = await daemon.metrics();
      expect(m.value('celery_pulse_queue_scrape_success')).toBe(0);
      expect(m.find('celery_queue_length')).toEqual([]);
      expect(m.value('celery_task_sent_total')).toBe(18);
    } finally {
      redis.proc.signal('SIGCONT');
    }
    const back = await waitFor('queue metrics to come back', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_queue_scrape_success') === 1 ? cur : undefined;
    });
    expect(back.value('celery_queue_length', { queue_name: SLOW })).toBe(4);
  });

  it('reads no queue at all with --no-queue-metrics', async () => {
    const plain = await startDaemon(['--broker-url', redis.url, '--broker-transport-option', `global_keyprefix=${PREFIX}`, '--queues', IDLE, '--no-queue-metrics', '--log-level', 'warn']);
    try {
      const text = await plain.scrape();
      expect(text).not.toMatch(/celery_queue_length|celery_queue_unacked_messages|celery_pulse_queue_scrape/);
      expect((await plain.metrics()).value('celery_pulse_broker_up')).toBe(1);
    } finally {
      await plain.stop();
    }
  });
});
