import type { TaskEvent } from '../../src/protocol/events.js';
import type { ExemplarSource } from '../../src/metrics/exemplars.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import { CeleryState } from '../../src/state/machine.js';

/**
 * The real state machine feeding the real task metrics of one broker, in memory (runtime buckets
 * 0.1, 1, 10), and `apply()` for events stamped at their own timestamp.
 */
export function taskMetrics(exemplars?: ExemplarSource): { metrics: CeleryMetrics; state: CeleryState; apply: (e: TaskEvent) => void } {
  const metrics = new CeleryMetrics({
    runtimeBuckets: [0.1, 1, 10],
    queueWaitBuckets: [1],
    defaultQueueName: 'celery',
    genericHostnameTaskSent: false,
    brokerLabel: false,
    version: 'test',
  });
  const state = new CeleryState(metrics.forBroker('b', exemplars), { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 });
  return { metrics, state, apply: (e) => state.apply(e, e.timestamp) };
}
