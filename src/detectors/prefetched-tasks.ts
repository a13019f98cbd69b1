import type { TaskRecord } from '../state/task-table.js';
import type { WorkerRecord } from '../state/workers.js';
import type { DetectorOutput } from './output.js';

/**
 * Per worker, tasks it has received but not started: reserved by prefetch (or waiting for an ETA
 * or countdown) and invisible in the queue length. Every known worker gets a row, zero included,
 * so a worker forgotten by the registry takes its series with it.
 */
export function prefetchedPerWorker(workers: Iterable<WorkerRecord>, unfinished: Iterable<TaskRecord>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of workers) counts.set(worker.hostname, 0);
  for (const task of unfinished) {
    if (task.state !== 'RECEIVED' || task.worker === undefined) continue;
    const n = counts.get(task.worker);
    if (n !== undefined) counts.set(task.worker, n + 1);
  }
  return counts;
}

/** celery_worker_tasks_prefetched, read from the state at scrape time. */
export const prefetchedTaskOutput: DetectorOutput = {
  collector: ({ brokers, b, withBroker, families }) => {
    const f = families('prefetched_tasks');
    const prefetched = f.gauge({
      name: 'celery_worker_tasks_prefetched',
      help: 'Tasks the worker has received but not started (reserved by prefetch, or waiting for their ETA).',
      labelNames: ['hostname', ...b],
    });
    return f.collector(() => {
      prefetched.reset();
      for (const s of brokers) {
        for (const [hostname, n] of prefetchedPerWorker(s.state.workers.values(), s.state.tasks.unfinishedTasks())) prefetched.set(withBroker(s, { hostname }), n);
      }
    });
  },
};
