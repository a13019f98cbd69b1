import { performance } from 'node:perf_hooks';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import { CollectorFamilies } from './collector.js';
import type { Collector } from './collector.js';
import type { BrokerStatus } from './metrics-options.js';

type Labels = Record<string, string>;

/** Each broker's label set: the `broker` label only when more than one broker is watched. */
function brokerLabels(brokerLabel: boolean): (s: BrokerStatus, labels: Labels) => Labels {
  return (s, labels) => (brokerLabel ? { ...labels, broker: s.name } : labels);
}

/**
 * The workers and tasks each broker's state holds, read at scrape time (never on the event path).
 * Worker series are rebuilt from the registry each time, so a forgotten worker takes its series
 * with it.
 */
export function stateCollector(registry: Registry<OpenMetricsContentType>, brokers: readonly BrokerStatus[], brokerLabel: boolean): Collector {
  const b = brokerLabel ? ['broker'] : [];
  const withBroker = brokerLabels(brokerLabel);
  const f = new CollectorFamilies('state', registry);
  const workerUp = f.gauge({
    name: 'celery_worker_up',
    help: '1 while the worker sends heartbeats, 0 once they stop (missed --worker-timeout-heartbeats intervals) or it went offline.',
    labelNames: ['hostname', ...b],
  });
  const tasksActive = f.gauge({ name: 'celery_worker_tasks_active', help: 'Tasks the worker reports executing now (from its heartbeats).', labelNames: ['hostname', ...b] });
  const lastHeartbeat = f.gauge({ name: 'celery_worker_last_heartbeat_timestamp_seconds', help: "Worker's own timestamp of its last heartbeat, in Unix seconds.", labelNames: ['hostname', ...b] });
  const trackedTasks = f.gauge({ name: 'celery_pulse_tracked_tasks', help: 'Task ids held in memory (bounded by --max-tracked-tasks).', labelNames: ['state', ...b] });
  const evictions = f.counter({ name: 'celery_pulse_task_evictions_total', help: 'Task ids forgotten to keep memory bounded, by reason (capacity or age).', labelNames: ['reason', ...b] });
  const duplicates = f.counter({ name: 'celery_pulse_duplicate_events_total', help: 'Events delivered more than once (same task, type and timestamp) and counted once.', labelNames: b });
  const workersTracked = f.gauge({ name: 'celery_pulse_workers_tracked', help: 'Workers held in memory.', labelNames: b });
  const workersUntracked = f.counter({
    name: 'celery_pulse_workers_untracked_total',
    help: 'Events from new worker hostnames dropped from worker tracking because --max-label-values workers were already tracked.',
    labelNames: b,
  });
  return f.collector(() => {
    for (const family of [workerUp, tasksActive, lastHeartbeat, trackedTasks, evictions, duplicates, workersTracked, workersUntracked]) family.reset();
    const t = Date.now() / 1000;
    for (const s of brokers) {
      const { workers, tasks } = s.state;
      for (const w of workers.values()) {
        const labels = withBroker(s, { hostname: w.hostname });
        const up = workers.isUp(w, t);
        workerUp.set(labels, up ? 1 : 0);
        tasksActive.set(labels, up ? w.active : 0);
        if (w.lastHeartbeatTimestamp !== undefined) lastHeartbeat.set(labels, w.lastHeartbeatTimestamp);
      }
      trackedTasks.set(withBroker(s, { state: 'unfinished' }), tasks.unfinishedCount);
      trackedTasks.set(withBroker(s, { state: 'finished' }), tasks.size - tasks.unfinishedCount);
      evictions.inc(withBroker(s, { reason: 'capacity' }), tasks.evictions.capacity);
      evictions.inc(withBroker(s, { reason: 'age' }), tasks.evictions.age);
      duplicates.inc(withBroker(s, {}), s.state.duplicates);
      workersTracked.set(withBroker(s, {}), workers.size);
      workersUntracked.inc(withBroker(s, {}), workers.untracked);
    }
  });
}

/** Each broker's event-source connection: up or not, and how often it came back. */
export function brokerCollector(registry: Registry<OpenMetricsContentType>, brokers: readonly BrokerStatus[], brokerLabel: boolean): Collector {
  const b = brokerLabel ? ['broker'] : [];
  const withBroker = brokerLabels(brokerLabel);
  const f = new CollectorFamilies('brokers', registry);
  const up = f.gauge({ name: 'celery_pulse_broker_up', help: '1 while the event source is connected and subscribed to the broker, else 0.', labelNames: b });
  const reconnects = f.counter({ name: 'celery_pulse_broker_reconnects_total', help: 'Times the event source has reconnected to the broker since start.', labelNames: b });
  return f.collector(() => {
    up.reset();
    reconnects.reset();
    for (const s of brokers) {
      up.set(withBroker(s, {}), s.connected() ? 1 : 0);
      reconnects.inc(withBroker(s, {}), s.reconnects());
    }
  });
}

/** The daemon's own process: how busy its event loop is, and which build runs. */
export function processCollector(registry: Registry<OpenMetricsContentType>, version: string): Collector {
  const f = new CollectorFamilies('process', registry);
  const busy = f.counter({
    name: 'celery_pulse_event_loop_busy_seconds_total',
    help: 'Seconds the event loop spent busy (running JavaScript, garbage collection included) rather than waiting for I/O. Its rate is the share of one core that events, scrapes and timers take; near 1, events arrive faster than they are handled and Redis disconnects the daemon.',
  });
  const buildInfo = f.gauge({ name: 'celery_pulse_build_info', help: 'Version of celery-pulse and of the Node.js runtime; always 1.', labelNames: ['version', 'nodejs'] });
  return f.collector(() => {
    // Node measures it from the loop's start, in milliseconds; no timer or hook runs per event.
    busy.reset();
    busy.inc(performance.eventLoopUtilization().active / 1000);
    buildInfo.set({ version, nodejs: process.versions.node }, 1);
  });
}
