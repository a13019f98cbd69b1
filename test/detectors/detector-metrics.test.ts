import type { OpenMetricsContentType, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BrokerDetectors } from '../../src/detectors/index.js';
import { DetectorMetrics } from '../../src/detectors/detector-metrics.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import type { MetricsOptions } from '../../src/metrics/celery-metrics.js';
import { CeleryState } from '../../src/state/machine.js';
import { STATE_OPTIONS, task, worker } from './fixtures.js';

const METRICS_OPTIONS: MetricsOptions = { runtimeBuckets: [1], queueWaitBuckets: [1], defaultQueueName: 'celery', genericHostnameTaskSent: false, brokerLabel: false, version: 't' };

function setup(brokerLabel: boolean): { registry: Registry<OpenMetricsContentType>; state: CeleryState; detectors: BrokerDetectors } {
  const metrics = new CeleryMetrics({ ...METRICS_OPTIONS, brokerLabel, maxLabelValues: 3 });
  const registry = metrics.registry;
  const sink = new DetectorMetrics(metrics, { brokerLabel, defaultQueueName: 'celery' });
  const detectors = new BrokerDetectors(
    { stalled: { threshold: 60, perTask: {}, runtimeFactor: 10 }, expectedIntervals: { 'app.beat': 300 } },
    (f) => sink.record('main', f),
  );
  const state = new CeleryState(detectors.observer, STATE_OPTIONS);
  sink.watch({ name: 'main', state, detectors });
  return { registry, state, detectors };
}

describe('detector metrics', () => {
  it('export findings and state-read series with the default queue, and a broker label only when asked', async () => {
    for (const brokerLabel of [false, true]) {
      const { registry, state } = setup(brokerLabel);
      const now = Date.now() / 1000;
      state.apply(worker('worker-heartbeat', 'w1@vm', now - 10), now - 10);
      state.apply(task('task-received', 'a', now - 10, { name: 'app.job' }), now - 10);
      state.apply(task('task-started', 'a', now - 9.9), now - 9.9);
      state.tick(now);
      const text = await registry.metrics();
      const b = brokerLabel ? ',broker="main"' : '';
      expect(text).toContain(`celery_task_lost_total{name="app.job",queue_name="celery",reason="worker-lost"${b}} 1`);
      expect(text).toContain(`celery_task_attempts_count{name="app.job",outcome="lost"${b}} 1`);
      expect(text).toContain(`celery_task_expected_interval_seconds{name="app.beat"${b}} 300`);
      expect(text).toContain(`celery_worker_tasks_prefetched{hostname="w1@vm"${b}} 0`);
      expect(text).toContain(`celery_pulse_event_stream_gaps_total${brokerLabel ? '{broker="main"}' : ''} 0`);
      expect(text).not.toContain('celery_task_running{');
    }
  });

  it('caps task names from the wire at --max-label-values, with the overflow counted', async () => {
    const { registry, state } = setup(false);
    const now = Date.now() / 1000;
    state.apply(worker('worker-heartbeat', 'w1@vm', now - 10), now - 10);
    // Five task names, each started and lost with its worker: the cap (3) keeps three names.
    for (let i = 0; i < 5; i++) {
      state.apply(task('task-received', `t${i}`, now - 10, { name: `app.job${i}` }), now - 10);
      state.apply(task('task-started', `t${i}`, now - 9.9), now - 9.9);
    }
    state.tick(now);
    const text = await registry.metrics();
    const lost = text.split('\n').filter((l) => l.startsWith('celery_task_lost_total{'));
    expect(lost).toEqual([
      'celery_task_lost_total{name="app.job0",queue_name="celery",reason="worker-lost"} 1',
      'celery_task_lost_total{name="app.job1",queue_name="celery",reason="worker-lost"} 1',
      'celery_task_lost_total{name="app.job2",queue_name="celery",reason="worker-lost"} 1',
      'celery_task_lost_total{name="__overflow__",queue_name="celery",reason="worker-lost"} 2',
    ]);
    expect(text).toContain('celery_task_attempts_count{name="__overflow__",outcome="lost"} 2');
    expect(text).toContain('celery_pulse_label_overflow_total{metric="celery_task_lost_total",label="name"} 2');
    expect(text).toContain('celery_pulse_label_overflow_total{metric="celery_task_attempts",label="name"} 2');
  });
});
