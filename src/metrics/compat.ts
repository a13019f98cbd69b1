import type { CounterFamily } from './store/counter.js';
import type { MetricRegistry } from './store/family.js';
import { HistogramFamily } from './store/histogram.js';

/**
 * --celery-exporter-compat: the series danihodovic/celery-exporter exposes under names or shapes of
 * its own, so its users' dashboards and celery-mixin alerts keep working unchanged:
 *
 * - its histograms have no unit suffix and carry `hostname`: `celery_task_runtime` (task-succeeded
 *   runtimes only, as it observes them) and `celery_task_queue_wait_time` (next to our
 *   `celery_task_runtime_seconds` / `celery_task_queue_wait_seconds`, which are per name and queue);
 * - it creates every outcome counter of a (name, hostname, queue) at 0 as soon as the task is seen,
 *   including `celery_task_failed_total{exception=""}`, so `succeeded / (succeeded + failed)` has a
 *   value for a task that never failed. Without it that ratio is empty.
 *
 * Everything else (counter names, `celery_worker_up`, `celery_worker_tasks_active`,
 * `celery_queue_length`, `celery_active_consumer_count`) already has its names and labels.
 * The choice is made once, at construction: without the flag the event path calls no-op observers.
 */

export interface Observer {
  observe(value: number): void;
}

/** The compat children of one (name, hostname, queue_name) label set. */
export interface CompatChildren {
  readonly runtime: Observer;
  readonly wait: Observer;
  /** A worker handled a task of this label set: create its outcome counters at 0 (once). */
  workerSeen(): void;
}

const NOOP: Observer = { observe: () => undefined };
export const NO_COMPAT: CompatChildren = { runtime: NOOP, wait: NOOP, workerSeen: () => undefined };

export interface CompatOptions {
  readonly runtimeBuckets: readonly number[];
  readonly queueWaitBuckets: readonly number[];
  readonly brokerLabel: boolean;
}

/** Counters the exporter creates at 0 for each task label set (all but sent, which clients label). */
export interface ZeroedCounters {
  readonly received: CounterFamily;
  readonly started: CounterFamily;
  readonly succeeded: CounterFamily;
  readonly failed: CounterFamily;
  readonly retried: CounterFamily;
  readonly rejected: CounterFamily;
  readonly revoked: CounterFamily;
}

export class CeleryExporterCompat {
  private readonly runtime: HistogramFamily;
  private readonly wait: HistogramFamily;

  constructor(registry: MetricRegistry, options: CompatOptions) {
    const labelNames = ['name', 'hostname', 'queue_name', ...(options.brokerLabel ? ['broker'] : [])];
    // celery-exporter's buckets (its --buckets, default 5 ms to 10 s), so its dashboards' quantiles
    // read the same; celery_task_runtime_seconds keeps ours (10 ms to 1 h by default).
    this.runtime = new HistogramFamily({
      name: 'celery_task_runtime',
      help: 'celery-exporter compatibility: run time of succeeded tasks, in seconds (see celery_task_runtime_seconds).',
      labelNames,
      buckets: options.runtimeBuckets,
      registers: [registry],
    });
    this.wait = new HistogramFamily({
      name: 'celery_task_queue_wait_time',
      help: 'celery-exporter compatibility: seconds from queued (or the ETA) to started (see celery_task_queue_wait_seconds).',
      labelNames,
      buckets: options.queueWaitBuckets,
      registers: [registry],
    });
  }

  /** Removes the histograms of one label set (a forgotten worker's, --worker-forget-after). */
  forget(labels: Record<string, string>): void {
    this.runtime.remove(labels);
    this.wait.remove(labels);
  }

  /**
   * Called once per new (name, hostname, queue_name) label set, when its counter children are made:
   * the returned children are kept with them, so the event path does no extra lookup. Counters are
   * zeroed on the first worker event only: label sets of task-sent carry the client's node name,
   * one per client process, and must not multiply into every outcome.
   */
  childrenFor(labels: Record<string, string>, counters: ZeroedCounters): CompatChildren {
    let zeroed = false;
    return {
      runtime: this.runtime.cell(labels),
      wait: this.wait.cell(labels),
      workerSeen: () => {
        if (zeroed) return;
        zeroed = true;
        // inc(0) creates the series at 0, or leaves a counted one as it is.
        for (const c of [counters.received, counters.started, counters.succeeded, counters.rejected, counters.revoked]) c.cell(labels).inc(0);
        counters.failed.cell({ ...labels, exception: '' }).inc(0);
        counters.retried.cell({ ...labels, exception: '' }).inc(0);
      },
    };
  }
}
