import type { WorkerRecord } from '../state/workers.js';
import type { Report } from './findings.js';
import type { DetectorOutput } from './output.js';

/**
 * Workers that process tasks but send no task events (started without -E, or after
 * `disable_events`): the state flags them (workers.ts noteProcessed); this reports each once per
 * episode, so the log carries one clear line per worker rather than one per heartbeat.
 */
export class EventsOffDetector {
  private readonly reported = new Set<string>();

  constructor(private readonly report: Report) {}

  check(workers: Iterable<WorkerRecord>): void {
    const flagged = new Set<string>();
    for (const worker of workers) {
      if (!worker.taskEventsOff) continue;
      flagged.add(worker.hostname);
      if (this.reported.has(worker.hostname)) continue;
      this.reported.add(worker.hostname);
      this.report({ kind: 'task-events-off', hostname: worker.hostname, processed: worker.processed });
    }
    for (const hostname of this.reported) if (!flagged.has(hostname)) this.reported.delete(hostname);
  }
}

/** celery_worker_task_events_disabled, and the log line that says how to turn events on. */
export const eventsOffOutput: DetectorOutput = {
  collector: ({ brokers, b, withBroker, families }) => {
    const f = families('events_off');
    const disabled = f.gauge({
      name: 'celery_worker_task_events_disabled',
      help: '1 while the worker processes tasks (its heartbeat processed count grows) but sends no task events: enable them with -E or `celery control enable_events`.',
      labelNames: ['hostname', ...b],
    });
    return f.collector(() => {
      disabled.reset();
      for (const s of brokers) for (const w of s.state.workers.values()) disabled.set(withBroker(s, { hostname: w.hostname }), w.taskEventsOff ? 1 : 0);
    });
  },
  logLines: {
    'task-events-off': (logger, _limited, broker, f) =>
      logger.warn(
        { broker, worker: f.hostname, processed: f.processed },
        `worker ${f.hostname} processes tasks but sends no task events, so its tasks are invisible to celery-pulse. ` +
          'Enable them with `celery -A <app> control enable_events`, start the worker with -E (or set worker_send_task_events = True), ' +
          'or run celery-pulse with --enable-events',
      ),
  },
};
