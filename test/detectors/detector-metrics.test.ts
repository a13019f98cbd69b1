import { describe, expect, it } from 'vitest';
import { BrokerDetectors } from '../../src/detectors/index.js';
import { DetectorMetrics } from '../../src/detectors/detector-metrics.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import { overflowCounter } from '../../src/metrics/label-guard.js';
import { parseMetrics } from '../kit/metrics-text.js';
import type { MetricsOptions } from '../../src/metrics/metrics-options.js';
import { CeleryState } from '../../src/state/machine.js';
import { STATE_OPTIONS, task, worker } from './fixtures.js';

const METRICS_OPTIONS: MetricsOptions = { runtimeBuckets: [1], queueWaitBuckets: [1], defaultQueueName: 'celery', genericHostnameTaskSent: false, brokerLabel: false, version: 't' };

interface Setup {
  readonly state: CeleryState;
  readonly detectors: BrokerDetectors;
  /** What a scrape reads: the detectors' collectors run first, as the HTTP layer runs them. */
  scrape(): Promise<string>;
}

function setup(brokerLabel: boolean): Setup {
  const metrics = new CeleryMetrics({ ...METRICS_OPTIONS, brokerLabel, maxLabelValues: 3 });
  const registry = metrics.registry;
  const sink = new DetectorMetrics(metrics, { brokerLabel, defaultQueueName: 'celery' });
  const detectors = new BrokerDetectors(
    { stalled: { threshold: 60, perTask: {}, runtimeFactor: 10 }, expectedIntervals: { 'app.beat': 300 } },
    (f) => sink.record('main', f),
  );
  const state = new CeleryState(detectors.observer, STATE_OPTIONS);
  sink.watch({ name: 'main', state, detectors });
  const scrape = async (): Promise<string> => {
    for (const c of sink.collectors) await c.update();
    return registry.metrics();
  };
  return { state, detectors, scrape };
}

describe('detector metrics', () => {
  it('export findings and state-read series with the default queue, and a broker label only when asked', async () => {
    for (const brokerLabel of [false, true]) {
      const { scrape, state } = setup(brokerLabel);
      const now = Date.now() / 1000;
      state.apply(worker('worker-heartbeat', 'w1@vm', now - 10), now - 10);
      state.apply(task('task-received', 'a', now - 10, { name: 'app.job' }), now - 10);
      state.apply(task('task-started', 'a', now - 9.9), now - 9.9);
      state.tick(now);
      const text = await scrape();
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
    const { scrape, state } = setup(false);
    const now = Date.now() / 1000;
    state.apply(worker('worker-heartbeat', 'w1@vm', now - 10), now - 10);
    // Five task names, each started and lost with its worker: the cap (3) keeps three names.
    for (let i = 0; i < 5; i++) {
      state.apply(task('task-received', `t${i}`, now - 10, { name: `app.job${i}` }), now - 10);
      state.apply(task('task-started', `t${i}`, now - 9.9), now - 9.9);
    }
    state.tick(now);
    const text = await scrape();
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

  it('caps the running-task and periodic-task names per family, shared by two brokers, not per broker', async () => {
    const metrics = new CeleryMetrics({ ...METRICS_OPTIONS, brokerLabel: true, maxLabelValues: 3 });
    const sink = new DetectorMetrics(metrics, { brokerLabel: true, defaultQueueName: 'celery' });
    const now = Date.now() / 1000;
    // Broker a brings three task names, broker b three others: one family holds three in all.
    for (const [broker, names] of [['a', ['app.a0', 'app.a1', 'app.a2']], ['b', ['app.b0', 'app.b1', 'app.b2']]] as const) {
      const detectors = new BrokerDetectors(
        { stalled: { threshold: 60, perTask: {}, runtimeFactor: 10 }, expectedIntervals: {}, maxNames: 3, labelGuards: sink.labelGuards, overflow: overflowCounter(metrics.labelOverflow, { broker }) },
        (f) => sink.record(broker, f),
      );
      const state = new CeleryState(detectors.observer, STATE_OPTIONS);
      sink.watch({ name: broker, state, detectors });
      state.apply(worker('worker-heartbeat', `w@${broker}`, now - 10, { active: 3 }), now - 10);
      names.forEach((name, i) => {
        state.apply(task('task-received', `${broker}${i}`, now - 5, { name, hostname: `w@${broker}`, queue: 'celery' }), now - 5);
        state.apply(task('task-started', `${broker}${i}`, now - 4, { hostname: `w@${broker}` }), now - 4);
      });
    }
    for (const c of sink.collectors) await c.update();
    const m = parseMetrics(await metrics.registry.metrics());
    const series = (family: string): string[] => m.find(family).map((s) => `${s.labels['broker']}:${s.labels['name']}=${s.value}`).sort();
    expect(series('celery_task_running')).toEqual(['a:app.a0=1', 'a:app.a1=1', 'a:app.a2=1', 'b:__overflow__=3']);
    expect(series('celery_task_last_received_timestamp_seconds').map((s) => s.split('=')[0])).toEqual(['a:app.a0', 'a:app.a1', 'a:app.a2', 'b:__overflow__']);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_running', label: 'name', broker: 'b' })).toBe(3);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_last_received_timestamp_seconds', label: 'name', broker: 'b' })).toBe(3);
    expect(m.value('celery_pulse_label_overflow_total', { broker: 'a' })).toBe(0);
  });
});
