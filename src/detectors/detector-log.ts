import type { Logger } from 'pino';
import type { Finding } from './findings.js';
import type { RateLimitedLog } from '../log.js';

/**
 * Log lines for detector findings that a person should read: lost tasks, duplicate executions,
 * late reports of lost tasks, and workers with task events off. One line per finding; attempts
 * are metrics only. Per-task lines go through `limited`: a dead worker with a hundred prefetched
 * tasks must not write a hundred lines a second (the counters have the exact numbers).
 */
export function logFinding(logger: Logger, limited: RateLimitedLog, broker: string, finding: Finding): void {
  switch (finding.kind) {
    case 'task-lost':
      limited.warn(
        `task-lost:${broker}:${finding.reason}`,
        { broker, task: finding.name, uuid: finding.uuid, worker: finding.worker, reason: finding.reason },
        finding.reason === 'worker-lost'
          ? 'task lost: its worker stopped sending heartbeats while the task was received or running, and no final event came'
          : 'task forgotten unfinished to bound memory (--task-ttl / --max-tracked-tasks); counted as lost',
      );
      return;
    case 'lost-task-reported':
      limited.warn(
        `lost-task-reported:${broker}`,
        { broker, task: finding.name, uuid: finding.uuid, worker: finding.worker, state: finding.state },
        'a task declared lost reported a final event after all (its worker was alive but unheard, or the task was redelivered); it stays counted as lost and is counted under its outcome too',
      );
      return;
    case 'duplicate-execution':
      limited.warn(
        `duplicate-execution:${broker}`,
        { broker, task: finding.name, uuid: finding.uuid, firstWorker: finding.firstWorker, secondWorker: finding.secondWorker },
        'duplicate execution: the task started again with no retry in between (broker redelivery after visibility_timeout or a lost worker)',
      );
      return;
    case 'task-events-off':
      logger.warn(
        { broker, worker: finding.hostname, processed: finding.processed },
        `worker ${finding.hostname} processes tasks but sends no task events, so its tasks are invisible to celery-pulse. ` +
          'Enable them with `celery -A <app> control enable_events`, start the worker with -E (or set worker_send_task_events = True), ' +
          'or run celery-pulse with --enable-events',
      );
      return;
    case 'attempts':
      return;
  }
}
