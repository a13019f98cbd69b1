import { describe, expect, it } from 'vitest';
import { CeleryMetrics } from '../../../src/metrics/celery-metrics.js';
import { CeleryState } from '../../../src/state/machine.js';
import { STATE_OPTIONS, task, worker } from '../../detectors/fixtures.js';

describe('forgetting a worker', () => {
  it.each([false, true])('removes every task series labelled with its hostname (celery-exporter compat: %s)', async (compat) => {
    const metrics = new CeleryMetrics({
      runtimeBuckets: [1, 10], queueWaitBuckets: [1, 10], defaultQueueName: 'celery', genericHostnameTaskSent: false,
      brokerLabel: false, version: 'test', celeryExporterCompat: compat,
    });
    const view = metrics.forBroker('main');
    const state = new CeleryState(view, { ...STATE_OPTIONS, forgetAfter: 60 });
    const run = (uuid: string, host: string, t: number, outcome: 'task-succeeded' | 'task-failed'): void => {
      for (const e of [
        task('task-sent', uuid, t, { name: 'app.job', hostname: 'gen1@vm' }),
        task('task-received', uuid, t, { name: 'app.job', hostname: host }),
        task('task-started', uuid, t + 0.1, { hostname: host }),
        task(outcome, uuid, t + 0.2, { hostname: host, exception: "ValueError('x')", runtime: 0.1 }),
      ]) state.apply(e, t);
    };
    run('a', 'w1@vm', 100, 'task-succeeded');
    run('b', 'w1@vm', 100, 'task-failed');
    run('c', 'w2@vm', 130, 'task-succeeded');
    state.apply(worker('worker-heartbeat', 'w2@vm', 150), 150);
    const { forgottenWorkers } = state.tick(161);
    expect(forgottenWorkers).toEqual(['w1@vm']);
    for (const h of forgottenWorkers) view.forgetWorker(h);
    const text = await metrics.registry.metrics();
    expect(text).not.toContain('w1@vm');
    expect(text).toContain('celery_task_succeeded_total{name="app.job",hostname="w2@vm",queue_name="celery"} 1');
    expect(text).toContain('celery_task_sent_total{name="app.job",hostname="gen1@vm",queue_name="celery"} 3');
    // Back again: counted from zero under fresh children.
    run('d', 'w1@vm', 170, 'task-succeeded');
    expect(await metrics.registry.metrics()).toContain('celery_task_succeeded_total{name="app.job",hostname="w1@vm",queue_name="celery"} 1');
  });
});
