import { Counter } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';

/** One broker's state, as far as naming tasks goes. */
export interface NamingWatch {
  readonly name: string;
  readonly state: { readonly unnamed: number; readonly seeded: number };
}

/**
 * How well tasks in flight across a daemon start or reconnection were named: those seeded from the
 * workers' answers (control/task-seeding.ts), and those counted as `unknown` all the same.
 */
export function defineNamingMetrics(registry: Registry<OpenMetricsContentType>, watches: readonly NamingWatch[], brokerLabel: boolean): void {
  const labelNames = brokerLabel ? ['broker'] : [];
  const labels = (w: NamingWatch): Record<string, string> => (brokerLabel ? { broker: w.name } : {});
  new Counter({
    name: 'celery_pulse_tasks_seeded_total',
    help: 'Tasks in flight added to the task table from the workers (inspect active, reserved, scheduled) at start-up or reconnection.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watches) this.inc(labels(w), w.state.seeded);
    },
  });
  new Counter({
    name: 'celery_pulse_tasks_unnamed_total',
    help: 'Tasks whose events were counted under name="unknown": no event and no worker inspection named them within --unknown-task-grace.',
    labelNames,
    registers: [registry],
    collect() {
      this.reset();
      for (const w of watches) this.inc(labels(w), w.state.unnamed);
    },
  });
}
