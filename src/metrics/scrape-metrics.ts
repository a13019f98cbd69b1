import { performance } from 'node:perf_hooks';
import { Counter, Gauge } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { BrokerStatus, MetricsOptions } from './metrics-options.js';

type Labels = Record<string, string>;

/**
 * Series computed at scrape time from the state (workers, memory, connections), never on the
 * event path: each family's collect() reads every watched broker when Prometheus asks.
 */
export function defineScrapeTimeMetrics(registry: Registry<OpenMetricsContentType>, brokers: readonly BrokerStatus[], options: MetricsOptions): void {
  const b = options.brokerLabel ? ['broker'] : [];
  const registers = [registry];
  const withBroker = (s: BrokerStatus, labels: Labels): Labels => (options.brokerLabel ? { ...labels, broker: s.name } : labels);
  const now = (): number => Date.now() / 1000;
  new Gauge({
    name: 'celery_worker_up',
    help: '1 while the worker sends heartbeats, 0 once they stop (missed --worker-timeout-heartbeats intervals) or it went offline.',
    labelNames: ['hostname', ...b],
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const s of brokers) for (const w of s.state.workers.values()) this.set(withBroker(s, { hostname: w.hostname }), s.state.workers.isUp(w, t) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'celery_worker_tasks_active',
    help: 'Tasks the worker reports executing now (from its heartbeats).',
    labelNames: ['hostname', ...b],
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const s of brokers) for (const w of s.state.workers.values()) this.set(withBroker(s, { hostname: w.hostname }), s.state.workers.isUp(w, t) ? w.active : 0);
    },
  });
  new Gauge({
    name: 'celery_worker_last_heartbeat_timestamp_seconds',
    help: "Worker's own timestamp of its last heartbeat, in Unix seconds.",
    labelNames: ['hostname', ...b],
    registers,
    collect() {
      this.reset();
      for (const s of brokers) {
        for (const w of s.state.workers.values()) {
          if (w.lastHeartbeatTimestamp !== undefined) this.set(withBroker(s, { hostname: w.hostname }), w.lastHeartbeatTimestamp);
        }
      }
    },
  });
  new Gauge({
    name: 'celery_pulse_broker_up',
    help: '1 while the event source is connected and subscribed to the broker, else 0.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.set(withBroker(s, {}), s.connected() ? 1 : 0);
    },
  });
  new Counter({
    name: 'celery_pulse_broker_reconnects_total',
    help: 'Times the event source has reconnected to the broker since start.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.inc(withBroker(s, {}), s.reconnects());
    },
  });
  new Gauge({
    name: 'celery_pulse_tracked_tasks',
    help: 'Task ids held in memory (bounded by --max-tracked-tasks).',
    labelNames: ['state', ...b],
    registers,
    collect() {
      this.reset();
      for (const s of brokers) {
        this.set(withBroker(s, { state: 'unfinished' }), s.state.tasks.unfinishedCount);
        this.set(withBroker(s, { state: 'finished' }), s.state.tasks.size - s.state.tasks.unfinishedCount);
      }
    },
  });
  new Counter({
    name: 'celery_pulse_task_evictions_total',
    help: 'Task ids forgotten to keep memory bounded, by reason (capacity or age).',
    labelNames: ['reason', ...b],
    registers,
    collect() {
      this.reset();
      for (const s of brokers) {
        this.inc(withBroker(s, { reason: 'capacity' }), s.state.tasks.evictions.capacity);
        this.inc(withBroker(s, { reason: 'age' }), s.state.tasks.evictions.age);
      }
    },
  });
  new Counter({
    name: 'celery_pulse_duplicate_events_total',
    help: 'Events delivered more than once (same task, type and timestamp) and counted once.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.inc(withBroker(s, {}), s.state.duplicates);
    },
  });
  new Gauge({
    name: 'celery_pulse_workers_tracked',
    help: 'Workers held in memory.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.set(withBroker(s, {}), s.state.workers.size);
    },
  });
  new Counter({
    name: 'celery_pulse_workers_untracked_total',
    help: 'Events from new worker hostnames dropped from worker tracking because --max-label-values workers were already tracked.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.inc(withBroker(s, {}), s.state.workers.untracked);
    },
  });
  new Counter({
    name: 'celery_pulse_event_loop_busy_seconds_total',
    help: 'Seconds the event loop spent busy (running JavaScript, garbage collection included) rather than waiting for I/O. Its rate is the share of one core that events, scrapes and timers take; near 1, events arrive faster than they are handled and Redis disconnects the daemon.',
    registers,
    collect() {
      // Node measures it from the loop's start, in milliseconds; no timer or hook runs per event.
      this.reset();
      this.inc(performance.eventLoopUtilization().active / 1000);
    },
  });
  const version = options.version;
  new Gauge({
    name: 'celery_pulse_build_info',
    help: 'Version of celery-pulse and of the Node.js runtime; always 1.',
    labelNames: ['version', 'nodejs'],
    registers,
    collect() {
      this.set({ version, nodejs: process.versions.node }, 1);
    },
  });
}
