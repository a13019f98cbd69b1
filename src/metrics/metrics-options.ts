import type { CeleryState } from '../state/machine.js';

// What the metrics sink is built with, in a module of its own so that the scrape-time families
// (scrape-metrics.ts) can name it without importing the sink.

export interface MetricsOptions {
  readonly runtimeBuckets: readonly number[];
  readonly queueWaitBuckets: readonly number[];
  readonly defaultQueueName: string;
  readonly genericHostnameTaskSent: boolean;
  /** Add a `broker` label to every series: true when more than one broker is watched. */
  readonly brokerLabel: boolean;
  readonly version: string;
  /** Most distinct values of each label per metric family (--max-label-values); default 1000. */
  readonly maxLabelValues?: number;
  /** --celery-exporter-compat: also expose celery-exporter's own histogram names (compat.ts). */
  readonly celeryExporterCompat?: boolean;
  /** Buckets of those histograms (--buckets; --queue-wait-buckets); default: the runtime/queue-wait ones above. */
  readonly compatRuntimeBuckets?: readonly number[];
  readonly compatQueueWaitBuckets?: readonly number[];
  /** --generic-hostname-worker-task-metric: worker-side task series say hostname="generic". */
  readonly genericHostnameWorkerTask?: boolean;
}

/** What the metrics need to read from one broker at scrape time. */
export interface BrokerStatus {
  readonly name: string;
  readonly state: CeleryState;
  readonly connected: () => boolean;
  readonly reconnects: () => number;
}
