import { Gauge } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { QueueWorkers } from '../control/worker-inspection.js';

/** One broker's latest worker inspection. */
export interface InspectionWatch {
  readonly name: string;
  readonly perQueue: () => ReadonlyMap<string, QueueWorkers>;
}

/**
 * celery-exporter's per-queue worker gauges, read from the last background inspection
 * (control/worker-inspection.ts): a scrape reads memory only, never asks the workers.
 */
export function defineInspectionMetrics(registry: Registry<OpenMetricsContentType>, watches: readonly InspectionWatch[], brokerLabel: boolean): void {
  const labelNames = ['queue_name', ...(brokerLabel ? ['broker'] : [])];
  const each = (gauge: Gauge<string>, pick: (f: QueueWorkers) => number): void => {
    gauge.reset();
    for (const w of watches) {
      for (const [queue, f] of w.perQueue()) gauge.set(brokerLabel ? { queue_name: queue, broker: w.name } : { queue_name: queue }, pick(f));
    }
  };
  new Gauge({
    name: 'celery_active_worker_count',
    help: 'Workers consuming from the queue, as of the last worker inspection (active_queues).',
    labelNames,
    registers: [registry],
    collect() {
      each(this, (f) => f.workers);
    },
  });
  new Gauge({
    name: 'celery_active_process_count',
    help: 'Pool processes of the workers consuming from the queue, as of the last worker inspection (stats).',
    labelNames,
    registers: [registry],
    collect() {
      each(this, (f) => f.processes);
    },
  });
}
