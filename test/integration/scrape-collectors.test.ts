// The scrape-time collectors of a real daemon on a real redis-server: each one reports its update,
// and a `name[]` scrape of other families sends the broker no queue-depth query at all (counted
// by redis-server itself, INFO commandstats).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseMetrics, startDaemon, startRedis } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';

/** Priority sub-lists kombu spreads a Redis queue over by default (priority_steps 0, 3, 6, 9). */
const SUB_LISTS = 4;

describe('scrape-time collectors', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;

  /** LLEN commands redis-server has answered since it started: only queue depth sends them. */
  const llenCalls = (): number => Number(/cmdstat_llen:calls=(\d+)/.exec(redis.cli('INFO', 'commandstats'))?.[1] ?? 0);
  const scrape = async (query = ''): Promise<string> => {
    const res = await fetch(`${daemon.base}/metrics${query}`);
    expect(res.status).toBe(200);
    return res.text();
  };

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--queues', 'pulse.a', '--queues', 'pulse.b', '--log-level', 'warn']);
  });

  afterAll(async () => {
    await daemon?.stop();
    await redis?.stop();
  });

  it('reports every collector of the default configuration as updated', async () => {
    const m = parseMetrics(await scrape());
    const success = m.find('celery_pulse_scrape_collector_success').map((s) => [s.labels['collector'], s.value]);
    expect(success.sort()).toEqual(
      ['brokers', 'events_off', 'inspection', 'naming', 'periodic_tasks', 'prefetched_tasks', 'process', 'queues', 'stalled_tasks', 'state', 'stream_gaps'].map((c) => [c, 1]),
    );
    expect(m.find('celery_pulse_scrape_collector_duration_seconds')).toHaveLength(11);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.find('celery_queue_length').map((s) => [s.labels['queue_name'], s.value]).sort()).toEqual([['pulse.a', 0], ['pulse.b', 0]]);
  });

  it('queries queue depth only for a scrape that asks for a queue family', async () => {
    const before = llenCalls();
    const workers = await scrape('?name[]=celery_pulse_broker_up&name[]=celery_worker_up');
    expect(parseMetrics(workers).value('celery_pulse_broker_up')).toBe(1);
    expect(llenCalls()).toBe(before);
    // The self-metrics alone run no collector either.
    await scrape('?name[]=celery_pulse_scrape_collector_success');
    expect(llenCalls()).toBe(before);
    const queues = parseMetrics(await scrape('?name[]=celery_queue_length'));
    expect(queues.find('celery_queue_length')).toHaveLength(2);
    expect(llenCalls()).toBe(before + 2 * SUB_LISTS);
    await scrape();
    expect(llenCalls()).toBe(before + 4 * SUB_LISTS);
  });
});
