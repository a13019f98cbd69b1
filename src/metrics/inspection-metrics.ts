import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { QueueWorkers } from '../control/worker-inspection.js';
import { CollectorFamilies } from './collector.js';
import type { Collector } from './collector.js';

/** One broker's latest worker inspection. */
export interface InspectionWatch {
  readonly name: string;
  readonly perQueue: () => ReadonlyMap<string, QueueWorkers>;
}

/**
 * celery-exporter's per-queue worker gauges, read from the last background inspection
 * (control/worker-inspection.ts): a scrape reads memory only, never asks the workers.
 */
export function inspectionCollector(registry: Registry<OpenMetricsContentType>, watches: readonly InspectionWatch[], brokerLabel: boolean): Collector {
  const labelNames = ['queue_name', ...(brokerLabel ? ['broker'] : [])];
  const f = new CollectorFamilies('inspection', registry);
  const workers = f.gauge({ name: 'celery_active_worker_count', help: 'Workers consuming from the queue, as of the last worker inspection (active_queues).', labelNames });
  const processes = f.gauge({ name: 'celery_active_process_count', help: 'Pool processes of the workers consuming from the queue, as of the last worker inspection (stats).', labelNames });
  return f.collector(() => {
    workers.reset();
    processes.reset();
    for (const w of watches) {
      for (const [queue, figures] of w.perQueue()) {
        const labels = brokerLabel ? { queue_name: queue, broker: w.name } : { queue_name: queue };
        workers.set(labels, figures.workers);
        processes.set(labels, figures.processes);
      }
    }
  });
}
