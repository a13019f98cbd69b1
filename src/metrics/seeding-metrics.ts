import type { OpenMetricsContentType, Registry } from 'prom-client';
import { CollectorFamilies } from './collector.js';
import type { Collector } from './collector.js';

/** One broker's state, as far as naming tasks goes. */
export interface NamingWatch {
  readonly name: string;
  readonly state: { readonly unnamed: number; readonly seeded: number };
}

/**
 * How well tasks in flight across a daemon start or reconnection were named: those seeded from the
 * workers' answers (control/task-seeding.ts), and those counted as `unknown` all the same.
 */
export function namingCollector(registry: Registry<OpenMetricsContentType>, watches: readonly NamingWatch[], brokerLabel: boolean): Collector {
  const labelNames = brokerLabel ? ['broker'] : [];
  const labels = (w: NamingWatch): Record<string, string> => (brokerLabel ? { broker: w.name } : {});
  const f = new CollectorFamilies('naming', registry);
  const seeded = f.counter({
    name: 'celery_pulse_tasks_seeded_total',
    help: 'Tasks in flight added to the task table from the workers (inspect active, reserved, scheduled) at start-up or reconnection.',
    labelNames,
  });
  const unnamed = f.counter({
    name: 'celery_pulse_tasks_unnamed_total',
    help: 'Tasks whose events were counted under name="unknown": no event and no worker inspection named them within --unknown-task-grace.',
    labelNames,
  });
  return f.collector(() => {
    seeded.reset();
    unnamed.reset();
    for (const w of watches) {
      seeded.inc(labels(w), w.state.seeded);
      unnamed.inc(labels(w), w.state.unnamed);
    }
  });
}
