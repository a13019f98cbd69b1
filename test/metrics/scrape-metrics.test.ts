import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { serialize } from '../../src/http/exposition.js';
import { brokerCollector, processCollector, stateCollector } from '../../src/metrics/scrape-metrics.js';
import type { BrokerStatus } from '../../src/metrics/metrics-options.js';
import { CeleryState } from '../../src/state/machine.js';
import { IgnoringObserver } from '../../src/state/ignoring-observer.js';
import { taskEvent, workerHeartbeat } from '../fixtures/events.js';
import { parseMetrics } from '../kit/metrics-text.js';

const STATE_OPTIONS = { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 60 };

function broker(name: string, connected: boolean, reconnects: number): BrokerStatus & { state: CeleryState } {
  return { name, state: new CeleryState(new IgnoringObserver(), STATE_OPTIONS), connected: () => connected, reconnects: () => reconnects };
}

describe('scrape-time state, broker and process collectors', () => {
  it('set each broker\'s workers, tasks and connection, and drop a forgotten worker\'s series', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    const a = broker('a', true, 2);
    const b = broker('b', false, 0);
    const collectors = [stateCollector(registry, [a, b], true), brokerCollector(registry, [a, b], true), processCollector(registry, '1.2.3')];
    expect(collectors.map((c) => c.name)).toEqual(['state', 'brokers', 'process']);
    const now = Date.now() / 1000;
    a.state.apply(workerHeartbeat('w1@a', now - 100, { active: 2 }), now - 100);
    a.state.apply(workerHeartbeat('w2@a', now, { active: 1 }), now);
    b.state.apply(taskEvent('task-received', 't1', now, { name: 'app.job' }), now);
    const scrape = async (): Promise<ReturnType<typeof parseMetrics>> => {
      for (const c of collectors) await c.update();
      return parseMetrics(await serialize(registry, 'prometheus'));
    };
    let m = await scrape();
    const up = (): string[] => m.find('celery_worker_up').map((s) => `${s.labels['broker']}/${s.labels['hostname']}=${s.value}`).sort();
    // w1 has been silent for 100 s, past 2 x its 2 s freq; b's task-received names w1@vm.
    expect(up()).toEqual(['a/w1@a=0', 'a/w2@a=1', 'b/w1@vm=1']);
    expect(m.value('celery_worker_tasks_active', { broker: 'a', hostname: 'w1@a' })).toBe(0);
    expect(m.value('celery_worker_tasks_active', { broker: 'a', hostname: 'w2@a' })).toBe(1);
    expect(m.value('celery_pulse_tracked_tasks', { broker: 'b', state: 'unfinished' })).toBe(1);
    expect(m.value('celery_pulse_workers_tracked', { broker: 'a' })).toBe(2);
    expect([m.value('celery_pulse_broker_up', { broker: 'a' }), m.value('celery_pulse_broker_up', { broker: 'b' })]).toEqual([1, 0]);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'a' })).toBe(2);
    expect(m.find('celery_pulse_build_info').map((s) => s.labels['version'])).toEqual(['1.2.3']);
    expect(m.find('celery_pulse_event_loop_busy_seconds_total')).toHaveLength(1);
    // Silent past --worker-forget-after (60 s here): the registry forgets w1 and so do the series.
    a.state.tick(now + 30);
    m = await scrape();
    expect(up()).toEqual(['a/w2@a=1', 'b/w1@vm=1']);
  });
});
