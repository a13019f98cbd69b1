// celery-exporter's label values where celery-pulse's differ: name="None" for tasks never named
// (compat), hostname="generic" with --generic-hostname-worker-task-metric, and --metric-prefix /
// --static-label applied to every family as it is written.
import { describe, expect, it } from 'vitest';
import { serialize } from '../../../src/http/exposition.js';
import type { TaskEvent } from '../../../src/protocol/events.js';
import { CeleryMetrics } from '../../../src/metrics/celery-metrics.js';
import type { MetricsOptions } from '../../../src/metrics/metrics-options.js';
import { CeleryState } from '../../../src/state/machine.js';
import { taskEvent as ev } from '../../fixtures/events.js';

const T0 = 1_795_310_000;

function metricsAfterWorkload(options: Partial<MetricsOptions>): CeleryMetrics {
  const metrics = new CeleryMetrics({ runtimeBuckets: [1], queueWaitBuckets: [1], defaultQueueName: 'celery', genericHostnameTaskSent: false, brokerLabel: false, version: 'test', ...options });
  const state = new CeleryState(metrics.forBroker('b'), { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 });
  const apply = (e: TaskEvent, now = e.timestamp): void => state.apply(e, now);
  apply(ev('task-received', 'a', T0, { name: 'app.ok' }));
  apply(ev('task-started', 'a', T0 + 1));
  apply(ev('task-succeeded', 'a', T0 + 2, { runtime: 0.5 }));
  // A task whose task-received came before the daemon: counted unnamed after the grace.
  apply(ev('task-failed', 'z', T0 + 3, { exception: "KeyError('k')" }));
  state.tick(T0 + 10);
  return metrics;
}

const samples = (text: string, prefix: string): string[] => text.split('\n').filter((l) => l.startsWith(prefix)).sort();

describe("celery-exporter's label values", () => {
  it('labels a task never named "None" with compat output (celery-mixin filters it), "unknown" without', async () => {
    const compat = await serialize(metricsAfterWorkload({ celeryExporterCompat: true }).registry, 'prometheus');
    expect(samples(compat, 'celery_task_failed_total{name="None"')).toEqual([
      'celery_task_failed_total{name="None",hostname="w1@vm",queue_name="celery",exception=""} 0',
      'celery_task_failed_total{name="None",hostname="w1@vm",queue_name="celery",exception="KeyError"} 1',
    ]);
    expect(compat).not.toContain('name="unknown"');
    const own = await serialize(metricsAfterWorkload({}).registry, 'prometheus');
    expect(samples(own, 'celery_task_failed_total{name="unknown"')).toHaveLength(1);
  });

  it('--generic-hostname-worker-task-metric: hostname="generic" on the worker-side task series', async () => {
    const text = await serialize(metricsAfterWorkload({ genericHostnameWorkerTask: true, celeryExporterCompat: true }).registry, 'prometheus');
    expect(samples(text, 'celery_task_succeeded_total{name="app.ok"')).toEqual(['celery_task_succeeded_total{name="app.ok",hostname="generic",queue_name="celery"} 1']);
    expect(samples(text, 'celery_task_runtime_count')).toEqual(['celery_task_runtime_count{name="app.ok",hostname="generic",queue_name="celery"} 1']);
    expect(text).not.toContain('w1@vm');
  });

  it('--metric-prefix renames every celery_ family and --static-label labels every series', async () => {
    const registry = metricsAfterWorkload({ celeryExporterCompat: true }).registry;
    const text = await serialize(registry, 'prometheus', { relabel: { metricPrefix: 'myapp_', staticLabels: { team: 'core' } } });
    const names = new Set(text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).map((l) => /^[^{ ]+/.exec(l)![0]));
    expect([...names].filter((n) => n.startsWith('celery_'))).toEqual([]);
    expect(names).toContain('myapp_task_succeeded_total');
    expect(text).toContain('# TYPE myapp_pulse_events_received_total counter');
    expect(text).toContain('myapp_task_succeeded_total{name="app.ok",hostname="w1@vm",queue_name="celery",team="core"} 1');
    expect(text).toContain('myapp_task_runtime_bucket{le="1",name="app.ok",hostname="w1@vm",queue_name="celery",team="core"} 1');
    expect(text).toContain('# TYPE myapp_task_runtime histogram');
    const unlabelled = text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.includes('team="core"'));
    expect(unlabelled).toEqual([]);
    // name[] takes the names as served.
    const only = await serialize(registry, 'prometheus', { names: new Set(['myapp_task_succeeded_total']), relabel: { metricPrefix: 'myapp_', staticLabels: {} } });
    expect(samples(only, 'myapp_')).toEqual([
      'myapp_task_succeeded_total{name="None",hostname="w1@vm",queue_name="celery"} 0',
      'myapp_task_succeeded_total{name="app.ok",hostname="w1@vm",queue_name="celery"} 1',
    ]);
  });
});

describe('compat counters at 0 on any worker event, as celery-exporter does', () => {
  it('creates succeeded at 0 for a task whose first event seen for its label set is its failure', async () => {
    const metrics = new CeleryMetrics({ runtimeBuckets: [1], queueWaitBuckets: [1], defaultQueueName: 'celery', genericHostnameTaskSent: false, brokerLabel: false, version: 'test', celeryExporterCompat: true });
    const state = new CeleryState(metrics.forBroker('b'), { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 });
    // Received on w1, failed reported by w2 (a redelivery): w2's label set is first seen failing.
    state.apply(ev('task-received', 'a', T0, { name: 'app.f' }), T0);
    state.apply(ev('task-failed', 'a', T0 + 1, { hostname: 'w2@vm', exception: "KeyError('k')" }), T0 + 1);
    const text = await serialize(metrics.registry, 'prometheus');
    expect(samples(text, 'celery_task_succeeded_total')).toEqual([
      'celery_task_succeeded_total{name="app.f",hostname="w1@vm",queue_name="celery"} 0',
      'celery_task_succeeded_total{name="app.f",hostname="w2@vm",queue_name="celery"} 0',
    ]);
  });
});
