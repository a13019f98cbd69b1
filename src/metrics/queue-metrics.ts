import type { Gauge, OpenMetricsContentType, Registry } from 'prom-client';
import type { Logger } from 'pino';
import type { QueueDepthSource, QueueFigures } from '../brokers/driver.js';
import type { QueueDiscovery } from '../state/queue-discovery.js';
import { CollectorFamilies } from './collector.js';
import type { Collector } from './collector.js';

/** One broker's queue-depth reader and the queues to ask it about. */
export interface QueueWatch {
  readonly name: string;
  readonly source: QueueDepthSource;
  readonly queues: QueueDiscovery;
}

export interface QueueMetricsOptions {
  /** Add the `broker` label (more than one broker). */
  readonly brokerLabel: boolean;
  /** Longest a scrape waits for one broker, in milliseconds. */
  readonly timeoutMs: number;
  readonly logger: Logger;
}

interface Sample {
  readonly ok: boolean;
  readonly figures: ReadonlyMap<string, QueueFigures>;
  readonly seconds: number;
}

/**
 * Reads one broker at scrape time. A query still running from an earlier scrape is awaited again
 * rather than doubled, so a slow broker gets at most one question at a time; the scrape itself
 * waits at most `timeoutMs` and then reports the broker as failed for this round.
 */
class BrokerSampler {
  private inflight: Promise<Map<string, QueueFigures>> | undefined;
  private healthy = true;

  constructor(
    private readonly watch: QueueWatch,
    private readonly options: QueueMetricsOptions,
  ) {}

  async sample(): Promise<Sample> {
    const started = performance.now();
    if (this.inflight === undefined) {
      const p = this.watch.source.collect(this.watch.queues.names());
      this.inflight = p;
      const clear = (): void => {
        if (this.inflight === p) this.inflight = undefined;
      };
      p.then(clear, clear);
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.options.timeoutMs} ms`)), this.options.timeoutMs);
    });
    try {
      const figures = await Promise.race([this.inflight, timeout]);
      for (const q of figures.keys()) this.watch.queues.add(q);
      this.report(true, undefined);
      return { ok: true, figures, seconds: (performance.now() - started) / 1000 };
    } catch (err) {
      this.report(false, err as Error);
      return { ok: false, figures: new Map(), seconds: (performance.now() - started) / 1000 };
    } finally {
      clearTimeout(timer);
    }
  }

  /** Logs changes of health only: a broker down for an hour must not log every scrape. */
  private report(ok: boolean, err: Error | undefined): void {
    if (ok === this.healthy) return;
    this.healthy = ok;
    if (ok) this.options.logger.info({ broker: this.watch.name }, 'queue metrics readable again');
    else this.options.logger.warn({ broker: this.watch.name, err: err?.message }, 'could not read queue metrics; queue series of this broker are left out until it answers');
  }
}

/**
 * Queue depth families, read from the brokers when Prometheus scrapes (never on the event path):
 * every broker is asked at once in `update()`, which a `name[]` scrape restricted to other
 * families does not run. Names follow danihodovic/celery-exporter: celery_queue_length and
 * celery_active_consumer_count.
 */
export function queueCollector(registry: Registry<OpenMetricsContentType>, watches: readonly QueueWatch[], options: QueueMetricsOptions): Collector {
  const samplers = watches.map((w) => new BrokerSampler(w, options));
  const b = options.brokerLabel ? ['broker'] : [];
  const labelsFor = (i: number, labels: Record<string, string>): Record<string, string> => (options.brokerLabel ? { ...labels, broker: watches[i]!.name } : labels);
  const f = new CollectorFamilies('queues', registry);
  const perQueue: [Gauge<string>, (q: QueueFigures) => number | undefined][] = [
    [f.gauge({ name: 'celery_queue_length', help: 'Messages waiting in the broker queue (Redis: every priority sub-list; RabbitMQ: ready messages).', labelNames: ['queue_name', ...b] }), (q) => q.ready],
    [
      f.gauge({
        name: 'celery_queue_unacked_messages',
        help: 'Messages delivered to workers and not acknowledged yet: prefetched, ETA-held, or running with acks_late (Redis; RabbitMQ with --rabbitmq-management-url).',
        labelNames: ['queue_name', ...b],
      }),
      (q) => q.unacked,
    ],
    [f.gauge({ name: 'celery_active_consumer_count', help: 'Consumers attached to the broker queue (RabbitMQ only).', labelNames: ['queue_name', ...b] }), (q) => q.consumers],
  ];
  const success = f.gauge({ name: 'celery_pulse_queue_scrape_success', help: '1 if the broker answered the queue-depth queries of this scrape within --queue-metrics-timeout, else 0.', labelNames: b });
  const duration = f.gauge({ name: 'celery_pulse_queue_scrape_duration_seconds', help: 'Seconds the queue-depth queries of this scrape took, per broker.', labelNames: b });
  return f.collector(async () => {
    const samples = await Promise.all(samplers.map((s) => s.sample()));
    for (const [gauge] of perQueue) gauge.reset();
    success.reset();
    duration.reset();
    samples.forEach((s, i) => {
      for (const [queue, figures] of s.figures) {
        for (const [gauge, pick] of perQueue) {
          const v = pick(figures);
          if (v !== undefined) gauge.set(labelsFor(i, { queue_name: queue }), v);
        }
      }
      success.set(labelsFor(i, {}), s.ok ? 1 : 0);
      duration.set(labelsFor(i, {}), s.seconds);
    });
  }, 'broker');
}
