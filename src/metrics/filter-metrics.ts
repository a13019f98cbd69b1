import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { WorkerFilter } from '../filter/worker-filter.js';
import { CollectorFamilies } from './collector.js';
import type { Collector } from './collector.js';

/** One broker's --only-worker filter, read at scrape time. */
export interface FilterWatch {
  readonly name: string;
  readonly filter: WorkerFilter;
}

/**
 * Sidecar mode's own series: what --only-worker left out, so a pattern that matches no worker
 * shows (everything filtered, nothing counted), and how many task-sent events are held in memory.
 */
export function filterCollector(registry: Registry<OpenMetricsContentType>, watches: readonly FilterWatch[], brokerLabel: boolean): Collector {
  const b = brokerLabel ? ['broker'] : [];
  const withBroker = (w: FilterWatch, labels: Record<string, string>): Record<string, string> => (brokerLabel ? { ...labels, broker: w.name } : labels);
  const f = new CollectorFamilies('filter', registry);
  const events = f.counter({
    name: 'celery_pulse_events_filtered_total',
    help: 'Events --only-worker left out: other_worker (sent by a worker not selected), sent_not_taken (task-sent of a task no selected worker took in time).',
    labelNames: ['reason', ...b],
  });
  const messages = f.counter({
    name: 'celery_pulse_messages_filtered_total',
    help: 'Broker messages --only-worker dropped before decoding: other_worker (published by a worker not selected; their events count in no other series).',
    labelNames: ['reason', ...b],
  });
  const held = f.gauge({
    name: 'celery_pulse_held_task_sent',
    help: 'task-sent events held until a selected worker takes the task (--only-worker; bounded by --max-tracked-tasks and --task-ttl).',
    labelNames: b,
  });
  return f.collector(() => {
    events.reset();
    messages.reset();
    held.reset();
    for (const w of watches) {
      events.inc(withBroker(w, { reason: 'other_worker' }), w.filter.otherWorker);
      events.inc(withBroker(w, { reason: 'sent_not_taken' }), w.filter.sentNotTaken);
      messages.inc(withBroker(w, { reason: 'other_worker' }), w.filter.otherWorkerMessages);
      held.set(withBroker(w, {}), w.filter.heldSentCount);
    }
  });
}
