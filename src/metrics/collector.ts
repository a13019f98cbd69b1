import { performance } from 'node:perf_hooks';
import { Counter, Gauge } from 'prom-client';
import type { CounterConfiguration, GaugeConfiguration, OpenMetricsContentType, Registry } from 'prom-client';
import type { RateLimitedLog } from '../log.js';

/**
 * One source of scrape-time series (the state's workers and tasks, a broker's queue depths, a
 * detector's readings): node_exporter's collector shape. Its families are plain prom-client
 * gauges and counters that `update()` sets from the source once per scrape, where the scrape
 * starts (Collectors below runs it), never on the event path and never from a collect() callback.
 */
export interface Collector {
  /** The `collector` label of celery_pulse_scrape_collector_*: short, from the domain. */
  readonly name: string;
  /** Registry names of the families `update()` writes; a `name[]` scrape runs it only if it asks for one. */
  readonly families: readonly string[];
  /** Brings the families up to date with the source. A throw (or rejection) is this collector's failure. */
  update(): Promise<void> | void;
  /**
   * `broker`: it asks another process (queue depths) and waits for the answer. Those are updated
   * first; the collectors that read memory then run last, right before the text is written, so
   * that their gauges and the event-path counters are read as close together as can be: in one
   * turn of the event loop for a scrape written in one time slice, a few milliseconds apart for a
   * larger one (a task declared lost in between is counted lost and still shown running in that
   * one scrape). Default `memory`.
   */
  readonly reads?: 'memory' | 'broker';
}

type Config<T> = Omit<T, 'registers' | 'collect'>;

/**
 * Defines a collector's families on the registry and remembers their names, so the families a
 * collector declares are exactly those it made.
 */
export class CollectorFamilies {
  private readonly names: string[] = [];

  constructor(
    readonly name: string,
    private readonly registry: Registry<OpenMetricsContentType>,
  ) {}

  gauge<L extends string>(config: Config<GaugeConfiguration<L>>): Gauge<L> {
    this.names.push(config.name);
    return new Gauge<L>({ ...config, registers: [this.registry] });
  }

  counter<L extends string>(config: Config<CounterConfiguration<L>>): Counter<L> {
    this.names.push(config.name);
    return new Counter<L>({ ...config, registers: [this.registry] });
  }

  /** The collector whose `update()` writes the families defined so far. */
  collector(update: () => Promise<void> | void, reads: 'memory' | 'broker' = 'memory'): Collector {
    return { name: this.name, families: [...this.names], update, reads };
  }
}

/** Which families a scrape asks for (a registry name each); undefined asks for all of them. */
export type FamilyFilter = ((family: string) => boolean) | undefined;

/**
 * Every collector, run where a scrape starts. Each `update()` asked for is timed and its outcome
 * reported per collector (celery_pulse_scrape_collector_duration_seconds and _success, as
 * node_exporter does): one failing source shows as such and the others are served all the same.
 *
 * A failed collector's families are emptied until one of its updates succeeds again, as
 * node_exporter serves nothing of a collector that failed: a stale worker count or queue length
 * read as current is worse than a gap, which `absent()` and the success gauge both show. A collector still updating when the next
 * scrape starts (a slow broker) is awaited again rather than run twice at once.
 */
export class Collectors {
  private readonly all: Collector[] = [];
  private readonly running = new Map<Collector, Promise<void>>();
  private readonly duration: Gauge<'collector'>;
  private readonly success: Gauge<'collector'>;

  constructor(
    private readonly registry: Registry<OpenMetricsContentType>,
    private readonly failures: RateLimitedLog,
  ) {
    this.duration = new Gauge({
      name: 'celery_pulse_scrape_collector_duration_seconds',
      help: 'Seconds the last update of each scrape-time collector took.',
      labelNames: ['collector'],
      registers: [registry],
    });
    this.success = new Gauge({
      name: 'celery_pulse_scrape_collector_success',
      help: '1 if the last update of the scrape-time collector succeeded, 0 if it failed (its families are then left out).',
      labelNames: ['collector'],
      registers: [registry],
    });
  }

  register(...collectors: readonly Collector[]): void {
    for (const c of collectors) {
      if (this.all.some((known) => known.name === c.name)) throw new Error(`collector ${c.name} is registered twice`);
      this.all.push(c);
    }
  }

  /**
   * Runs the update of every collector with a family `wants` asks for: those that wait on a broker
   * together first, then those that read memory (see Collector.reads); never rejects.
   */
  async update(wants: FamilyFilter = undefined): Promise<void> {
    const asked = wants === undefined ? this.all : this.all.filter((c) => c.families.some(wants));
    const waiting = asked.filter((c) => c.reads === 'broker');
    if (waiting.length > 0) await Promise.all(waiting.map((c) => this.updateOne(c)));
    await Promise.all(asked.filter((c) => c.reads !== 'broker').map((c) => this.updateOne(c)));
  }

  private updateOne(c: Collector): Promise<void> {
    let run = this.running.get(c);
    if (run === undefined) {
      // Only one run of a collector is ever in the map, so the one that ends is the one to drop.
      run = this.timed(c).finally(() => this.running.delete(c));
      this.running.set(c, run);
    }
    return run;
  }

  private async timed(c: Collector): Promise<void> {
    const started = performance.now();
    let ok = true;
    try {
      await c.update();
    } catch (err) {
      ok = false;
      await this.empty(c.families);
      this.failures.warn(`collector:${c.name}`, { collector: c.name, err: err instanceof Error ? err.message : String(err) }, 'a scrape-time collector failed; its series are left out until it succeeds again');
    }
    this.duration.set({ collector: c.name }, (performance.now() - started) / 1000);
    this.success.set({ collector: c.name }, ok ? 1 : 0);
  }

  private async empty(families: readonly string[]): Promise<void> {
    for (const family of families) {
      const metric = this.registry.getSingleMetric(family);
      if (metric === undefined) continue;
      metric.reset();
      // prom-client resets a family without labels to one series at 0, which would read as a
      // figure (celery_pulse_broker_up 0: down): that series is removed too.
      if ((await metric.get()).values.length > 0) metric.remove();
    }
  }
}
