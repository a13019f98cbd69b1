import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { QueueDepthSource, QueueFigures } from '../../src/brokers/driver.js';
import { serialize } from '../../src/http/exposition.js';
import { queueCollector } from '../../src/metrics/queue-metrics.js';
import { QueueDiscovery } from '../../src/state/queue-discovery.js';
import { parseMetrics } from '../kit/metrics-text.js';

/** A broker that answers with `figures` (adding the queues it names), or never while `hung`. */
class FakeBroker implements QueueDepthSource {
  hung = false;
  asked = 0;
  constructor(private readonly figures: Record<string, QueueFigures>) {}
  collect(queues: readonly string[]): Promise<Map<string, QueueFigures>> {
    this.asked++;
    if (this.hung) return new Promise(() => undefined);
    const out = new Map<string, QueueFigures>();
    for (const q of queues) out.set(q, this.figures[q] ?? { ready: 0, unacked: undefined, consumers: undefined });
    for (const [q, f] of Object.entries(this.figures)) out.set(q, f);
    return Promise.resolve(out);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('queue collector', () => {
  it('asks every broker once per update, and leaves out only the series of one that does not answer in time', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    const redis = new FakeBroker({ 'redis.q': { ready: 5, unacked: 2, consumers: undefined } });
    const rabbit = new FakeBroker({ 'rabbit.q': { ready: 7, unacked: undefined, consumers: 3 } });
    const collector = queueCollector(
      registry,
      [
        { name: 'redis', source: redis, queues: new QueueDiscovery(['celery']) },
        { name: 'rabbit', source: rabbit, queues: new QueueDiscovery([]) },
      ],
      { brokerLabel: true, timeoutMs: 50, logger: pino({ level: 'silent' }) },
    );
    expect(collector.name).toBe('queues');
    expect(collector.families).toEqual([
      'celery_queue_length',
      'celery_queue_unacked_messages',
      'celery_active_consumer_count',
      'celery_pulse_queue_scrape_success',
      'celery_pulse_queue_scrape_duration_seconds',
    ]);
    await collector.update();
    let m = parseMetrics(await serialize(registry, 'prometheus'));
    const lengths = (): string[] => m.find('celery_queue_length').map((s) => `${s.labels['broker']}/${s.labels['queue_name']}=${s.value}`).sort();
    expect(lengths()).toEqual(['rabbit/rabbit.q=7', 'redis/celery=0', 'redis/redis.q=5']);
    expect(m.value('celery_queue_unacked_messages', { broker: 'redis', queue_name: 'redis.q' })).toBe(2);
    expect(m.find('celery_active_consumer_count').map((s) => [s.labels['broker'], s.value])).toEqual([['rabbit', 3]]);
    expect([m.value('celery_pulse_queue_scrape_success', { broker: 'redis' }), m.value('celery_pulse_queue_scrape_success', { broker: 'rabbit' })]).toEqual([1, 1]);
    expect([redis.asked, rabbit.asked]).toEqual([1, 1]);

    redis.hung = true;
    await collector.update();
    m = parseMetrics(await serialize(registry, 'prometheus'));
    expect(lengths()).toEqual(['rabbit/rabbit.q=7']);
    expect([m.value('celery_pulse_queue_scrape_success', { broker: 'redis' }), m.value('celery_pulse_queue_scrape_success', { broker: 'rabbit' })]).toEqual([0, 1]);
    // The hung query is awaited again by the next update, not doubled.
    await collector.update();
    expect([redis.asked, rabbit.asked]).toEqual([2, 3]);
  });
});
