import { Counter, Gauge } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { WorkerFilter } from '../filter/worker-filter.js';

/** One broker's --only-worker filter, read at scrape time. */
export interface FilterWatch {
  readonly name: string;
  readonly filter: WorkerFilter;
}

/**
 * Sidecar mode's own series: what --only-worker left out, so a pattern that matches no worker
 * shows (everything filtered, nothing counted), and how many task-sent events are held in memory.
 */
export function defineFilterMetrics(registry: Registry<OpenMetricsContentType>, watches: readonly FilterWatch[], brokerLabel: boolean): void {
  const b = brokerLabel ? ['broker'] : [];
  const withBroker = (w: FilterWatch, labels: Record<string, string>): Record<string, string> => (brokerLabel ? { ...labels, broker: w.name } : labels);
  new Counter({
    name: 'celery_pulse_events_filtered_total',
    help: 'Events --only-worker left out: other_worker (sent by a worker not selected), sent_not_taken (task-sent of a task no selected worker took in time).',
    labelNames: ['reason', ...b],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watches) {
        this.inc(withBroker(w, { reason: 'other_worker' }), w.filter.otherWorker);
        this.inc(withBroker(w, { reason: 'sent_not_taken' }), w.filter.sentNotTaken);
      }
    },
  });
  new Counter({
    name: 'celery_pulse_messages_filtered_total',
    help: 'Broker messages --only-worker dropped before decoding: other_worker (published by a worker not selected; their events count in no other series).',
    labelNames: ['reason', ...b],
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watches) this.inc(withBroker(w, { reason: 'other_worker' }), w.filter.otherWorkerMessages);
    },
  });
  new Gauge({
    name: 'celery_pulse_held_task_sent',
    help: 'task-sent events held until a selected worker takes the task (--only-worker; bounded by --max-tracked-tasks and --task-ttl).',
    labelNames: b,
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watches) this.set(withBroker(w, {}), w.filter.heldSentCount);
    },
  });
}
