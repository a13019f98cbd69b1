import type { Logger } from 'pino';
import type { EventSource } from '../brokers/source.js';
import { inspectWorkers, parseActiveQueues, parseStats } from './inspect.js';

export interface WorkerInspectionOptions {
  /** Seconds between inspections. */
  readonly interval: number;
  /** Seconds each inspection waits for replies. */
  readonly timeout: number;
  /** Queues always reported, at 0 when no worker consumes them (--queues). */
  readonly initialQueues: readonly string[];
  /** A queue a worker consumes from was seen (fed to queue discovery, so its length is reported too). */
  readonly onQueue?: (name: string) => void;
  /** Sidecar mode (--only-worker): only these workers count, so sidecars do not each count every worker. */
  readonly counts?: (hostname: string) => boolean;
}

/** Workers and their pool processes per queue, as of the last inspection that got an answer. */
export interface QueueWorkers {
  readonly workers: number;
  readonly processes: number;
}

/** Bound on what one inspection holds: a stats reply is ~2 KB; 8 MB is thousands of workers. */
const MAX_REPLY_BYTES = 8 * 1024 * 1024;

/**
 * celery-exporter's celery_active_worker_count and celery_active_process_count, gathered in the
 * background: every `interval`, `active_queues` then `stats` (it asks the same two, but inline in
 * every scrape, which makes its scrapes take seconds). A worker counts for each queue it consumes
 * from, with the number of its pool processes (`len(stats.pool.processes)`, as celery-exporter
 * counts them). Queues seen once stay reported, at 0 when nobody consumes them, as celery-exporter's
 * queue cache does. Runs never overlap; a broker that cannot be asked keeps the last figures.
 */
export class WorkerInspection {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private warned = false;
  private readonly seen = new Set<string>();
  private figures = new Map<string, QueueWorkers>();

  constructor(
    private readonly source: EventSource,
    private readonly broker: string,
    private readonly options: WorkerInspectionOptions,
    private readonly logger: Logger,
  ) {
    for (const q of options.initialQueues) this.seen.add(q);
  }

  start(): void {
    if (this.source.request === undefined) return;
    this.timer = setInterval(() => void this.run(), this.options.interval * 1000);
    this.timer.unref();
  }

  /** The source is (again) attached: inspect now rather than an interval later. */
  connected(): void {
    if (this.timer !== undefined) void this.run();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Every queue seen, with its workers and processes (0 and 0 when none consumes it now). */
  perQueue(): ReadonlyMap<string, QueueWorkers> {
    const out = new Map<string, QueueWorkers>();
    for (const q of this.seen) out.set(q, this.figures.get(q) ?? { workers: 0, processes: 0 });
    return out;
  }

  /** One inspection; resolves when it is done (tests await it). */
  async run(): Promise<void> {
    if (this.running || !this.source.connected) return;
    this.running = true;
    try {
      const limits = { timeoutMs: this.options.timeout * 1000, maxBytes: MAX_REPLY_BYTES };
      // One after the other: on Redis both would wait on the same reply connection anyway.
      const queues = await inspectWorkers(this.source, 'active_queues', {}, parseActiveQueues, limits);
      const stats = queues.size === 0 ? new Map() : await inspectWorkers(this.source, 'stats', {}, parseStats, { ...limits, maxReplies: queues.size });
      const figures = new Map<string, QueueWorkers>();
      for (const [worker, names] of queues) {
        if (this.options.counts !== undefined && !this.options.counts(worker)) continue;
        const processes = stats.get(worker)?.processes ?? 0;
        for (const name of new Set(names)) {
          const f = figures.get(name) ?? { workers: 0, processes: 0 };
          figures.set(name, { workers: f.workers + 1, processes: f.processes + processes });
          if (!this.seen.has(name)) {
            this.seen.add(name);
            this.options.onQueue?.(name);
          }
        }
      }
      this.figures = figures;
      this.warned = false;
      this.logger.debug({ broker: this.broker, workers: queues.size }, 'inspected the workers');
    } catch (err) {
      // Stopping closes the connections under an inspection in flight: nothing to report then.
      if (this.timer === undefined) return;
      if (!this.warned) this.logger.warn({ broker: this.broker, err: (err as Error).message }, 'could not inspect the workers');
      this.warned = true;
    } finally {
      this.running = false;
    }
  }
}
