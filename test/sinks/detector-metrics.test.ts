import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { BrokerDetectors } from '../../src/detectors/index.js';
import { DetectorMetrics } from '../../src/sinks/detector-metrics.js';
import { CeleryState } from '../../src/state/machine.js';
import { STATE_OPTIONS, task, worker } from '../detectors/fixtures.js';

function setup(brokerLabel: boolean): { registry: Registry<OpenMetricsContentType>; state: CeleryState; detectors: BrokerDetectors } {
  const registry = new Registry<OpenMetricsContentType>();
  const sink = new DetectorMetrics(registry, { brokerLabel, defaultQueueName: 'celery' });
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
});
