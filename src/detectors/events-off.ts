import type { WorkerRecord } from '../state/workers.js';
import type { Report } from './findings.js';

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
