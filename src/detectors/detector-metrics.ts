import { Counter, Gauge, Histogram } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { BrokerDetectors } from './index.js';
import type { Finding } from './findings.js';
import { prefetchedPerWorker } from './prefetched-tasks.js';
import type { CeleryState } from '../state/machine.js';
import type { WorkerRecord } from '../state/workers.js';
import { counterCell, histogramCell } from '../metrics/fast-children.js';
import type { CounterCell, HistogramCell } from '../metrics/fast-children.js';
import { BoundedChildren, overflowCounter } from '../metrics/label-guard.js';
import type { LabelGuard } from '../metrics/label-guard.js';
import type { CeleryMetrics } from '../metrics/celery-metrics.js';

export interface DetectorMetricsOptions {
  /** Add a `broker` label to every series: true when more than one broker is watched (as in metrics/celery-metrics.ts). */
  readonly brokerLabel: boolean;
  readonly defaultQueueName: string;
}

/** One broker as the detector metrics read it at scrape time. */
export interface WatchedDetectors {
  readonly name: string;
  readonly state: CeleryState;
  readonly detectors: BrokerDetectors;
}

/** Attempts buckets: 1 is a plain run; the tail catches max_retries in the tens. */
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 50];

type Labels = Record<string, string>;

/**
 * The Prometheus side of the silent-failure detectors (src/detectors/), on the same registry as
 * CeleryMetrics. Findings become counter and histogram observations as they happen; everything
 * read from the state (running, stalled, prefetched, periodic times, gaps, events-off) is
 * computed at scrape time, so per-worker series vanish with the worker when the registry forgets it.
 */
/** What DetectorMetrics shares with CeleryMetrics: the registry and the label-value caps. */
export type MetricsHost = Pick<CeleryMetrics, 'registry' | 'labelGuard' | 'labelOverflow'>;

interface BrokerChildren {
  readonly lost: BoundedChildren<CounterCell>;
  readonly duplicates: BoundedChildren<CounterCell>;
  readonly attempts: BoundedChildren<HistogramCell>;
}

export class DetectorMetrics {
  private readonly lost: Counter<string>;
  private readonly duplicates: Counter<string>;
  private readonly attempts: Histogram<string>;
  private readonly guards: { lost: LabelGuard; duplicates: LabelGuard; attempts: LabelGuard };
  private readonly children = new Map<string, BrokerChildren>();
  private readonly brokers: WatchedDetectors[] = [];

  constructor(
    private readonly host: MetricsHost,
    private readonly options: DetectorMetricsOptions,
  ) {
    const registry = host.registry;
    const b = options.brokerLabel ? ['broker'] : [];
    const registers = [registry];
    this.lost = new Counter({
      name: 'celery_task_lost_total',
      help: 'Tasks that will get no final event: their worker died with them received or started (reason="worker-lost"), or they were forgotten unfinished (reason="evicted").',
      labelNames: ['name', 'queue_name', 'reason', ...b],
      registers,
    });
    this.duplicates = new Counter({
      name: 'celery_task_duplicate_executions_total',
      help: 'Task ids started again with no retry in between (broker redelivery after visibility_timeout or a lost worker).',
      labelNames: ['name', 'queue_name', ...b],
      registers,
    });
    this.attempts = new Histogram({
      name: 'celery_task_attempts',
      help: 'Attempts (retries + 1) each task took before its final outcome.',
      labelNames: ['name', 'outcome', ...b],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    // Task names come from the wire: the same --max-label-values caps as the task counters.
    this.guards = {
      lost: host.labelGuard(['name', 'queue_name', 'reason']),
      duplicates: host.labelGuard(['name', 'queue_name']),
      attempts: host.labelGuard(['name', 'outcome']),
    };
    defineScrapeGauges(registry, this.brokers, options);
  }

  watch(broker: WatchedDetectors): void {
    this.brokers.push(broker);
  }

  /** Counts one finding of `broker`'s detectors. */
  record(broker: string, finding: Finding): void {
    switch (finding.kind) {
      case 'task-lost':
        this.of(broker).lost.get([finding.name, finding.queue ?? this.options.defaultQueueName, finding.reason], 'celery_task_lost_total').inc();
        return;
      case 'duplicate-execution':
        this.of(broker).duplicates.get([finding.name, finding.queue ?? this.options.defaultQueueName], 'celery_task_duplicate_executions_total').inc();
        return;
      case 'attempts':
        this.of(broker).attempts.get([finding.name, finding.outcome], 'celery_task_attempts').observe(finding.attempts);
        return;
      case 'lost-task-reported':
      case 'task-events-off':
        return; // log lines only (detector-log.ts)
    }
  }

  private of(broker: string): BrokerChildren {
    let c = this.children.get(broker);
    if (c === undefined) {
      const extra: Labels = this.options.brokerLabel ? { broker } : {};
      const overflow = overflowCounter(this.host.labelOverflow, extra);
      c = {
        lost: new BoundedChildren(this.guards.lost, ([name, queue, reason]) => counterCell(this.lost, { name: name!, queue_name: queue!, reason: reason!, ...extra }), overflow),
        duplicates: new BoundedChildren(this.guards.duplicates, ([name, queue]) => counterCell(this.duplicates, { name: name!, queue_name: queue!, ...extra }), overflow),
        attempts: new BoundedChildren(this.guards.attempts, ([name, outcome]) => histogramCell(this.attempts, { name: name!, outcome: outcome!, ...extra }), overflow),
      };
      this.children.set(broker, c);
    }
    return c;
  }
}

function defineScrapeGauges(registry: Registry<OpenMetricsContentType>, brokers: readonly WatchedDetectors[], options: DetectorMetricsOptions): void {
  const b = options.brokerLabel ? ['broker'] : [];
  const registers = [registry];
  const withBroker = (s: WatchedDetectors, labels: Labels): Labels => (options.brokerLabel ? { ...labels, broker: s.name } : labels);
  const now = (): number => Date.now() / 1000;
  const queue = (q: string | undefined): string => q ?? options.defaultQueueName;

  // The running-task families share one scan of the unfinished tasks per scrape: the registry
  // collects families in registration order, so the first one scans and the next three reuse it.
  type Scan = { s: WatchedDetectors; rows: ReturnType<BrokerDetectors['stalled']['scan']> }[];
  let scan: Scan = [];
  const running = (): Scan => scan;
  new Gauge({
    name: 'celery_task_running',
    help: 'Tasks in STARTED now (lost ones excluded).',
    labelNames: ['name', 'queue_name', ...b],
    registers,
    collect() {
      this.reset();
      const t = now();
      scan = brokers.map((s) => ({ s, rows: s.detectors.stalled.scan(s.state.tasks.unfinishedTasks(), t) }));
      for (const { s, rows } of scan) for (const r of rows) this.set(withBroker(s, { name: r.name, queue_name: queue(r.queue) }), r.running);
    },
  });
  new Gauge({
    name: 'celery_task_stalled',
    help: 'Tasks in STARTED for longer than their stalled threshold (see celery_task_stalled_threshold_seconds).',
    labelNames: ['name', 'queue_name', ...b],
    registers,
    collect() {
      this.reset();
      for (const { s, rows } of running()) for (const r of rows) this.set(withBroker(s, { name: r.name, queue_name: queue(r.queue) }), r.stalled);
    },
  });
  new Gauge({
    name: 'celery_task_oldest_running_age_seconds',
    help: 'Seconds since the oldest task in STARTED of this name started (daemon clock).',
    labelNames: ['name', 'queue_name', ...b],
    registers,
    collect() {
      this.reset();
      for (const { s, rows } of running()) for (const r of rows) this.set(withBroker(s, { name: r.name, queue_name: queue(r.queue) }), r.oldestAge);
    },
  });
  new Gauge({
    name: 'celery_task_stalled_threshold_seconds',
    help: 'Stalled threshold in force for each task name running now: --stalled-threshold NAME=, else learned from its runtime, else the global one.',
    labelNames: ['name', ...b],
    registers,
    collect() {
      this.reset();
      for (const { s, rows } of running()) for (const r of rows) this.set(withBroker(s, { name: r.name }), r.threshold);
    },
  });
  new Gauge({
    name: 'celery_worker_tasks_prefetched',
    help: 'Tasks the worker has received but not started (reserved by prefetch, or waiting for their ETA).',
    labelNames: ['hostname', ...b],
    registers,
    collect() {
      this.reset();
      for (const s of brokers) {
        for (const [hostname, n] of prefetchedPerWorker(s.state.workers.values(), s.state.tasks.unfinishedTasks())) this.set(withBroker(s, { hostname }), n);
      }
    },
  });
  const periodicGauge = (name: string, help: string, pick: (t: { lastSent: number | undefined; lastReceived: number | undefined; detectedInterval: number | undefined; jitterRatio: number | undefined }) => number | undefined): void => {
    new Gauge({
      name,
      help,
      labelNames: ['name', ...b],
      registers,
      collect() {
        this.reset();
        for (const s of brokers) {
          for (const [task, times] of s.detectors.periodic.byName) {
            const v = pick(times);
            if (v !== undefined) this.set(withBroker(s, { name: task }), v);
          }
        }
      },
    });
  };
  periodicGauge('celery_task_last_sent_timestamp_seconds', 'Sender timestamp of the newest task-sent of this task name, Unix seconds.', (t) => t.lastSent);
  periodicGauge('celery_task_last_received_timestamp_seconds', 'Sender timestamp of the newest task-received of this task name, Unix seconds.', (t) => t.lastReceived);
  periodicGauge('celery_task_detected_interval_seconds', 'Regular interval between new task ids of this name, when the last ones arrived on a cadence (Beat).', (t) => t.detectedInterval);
  periodicGauge('celery_task_arrival_jitter_ratio', 'Largest deviation of the last 8 intervals between new task ids of this name from their median, as a share of the median: near 0 for a Beat schedule; absent until 9 have arrived.', (t) => t.jitterRatio);
  new Gauge({
    name: 'celery_task_expected_interval_seconds',
    help: 'Interval declared with --expect-task NAME=INTERVAL: alert when time() - last received exceeds it.',
    labelNames: ['name', ...b],
    registers,
    collect() {
      this.reset();
      for (const s of brokers) for (const [task, seconds] of Object.entries(s.detectors.expectedIntervals)) this.set(withBroker(s, { name: task }), seconds);
    },
  });
  new Counter({
    name: 'celery_pulse_event_stream_gaps_total',
    help: 'Disconnections from the broker after the first connection: events published meanwhile are lost.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      for (const s of brokers) this.inc(withBroker(s, {}), s.detectors.gaps.gaps);
    },
  });
  new Counter({
    name: 'celery_pulse_event_stream_gap_seconds_total',
    help: 'Seconds spent disconnected from the broker after the first connection, the current gap included.',
    labelNames: b,
    registers,
    collect() {
      this.reset();
      const t = now();
      for (const s of brokers) this.inc(withBroker(s, {}), s.detectors.gaps.seconds(t));
    },
  });
  const workerFamily = (type: 'counter' | 'gauge', name: string, help: string, pick: (w: WorkerRecord) => number): void => {
    const config = {
      name,
      help,
      labelNames: ['hostname', ...b],
      registers,
      collect(this: Counter<string> | Gauge<string>) {
        this.reset();
        for (const s of brokers) {
          for (const w of s.state.workers.values()) {
            const v = pick(w);
            if (this instanceof Gauge) this.set(withBroker(s, { hostname: w.hostname }), v);
            else this.inc(withBroker(s, { hostname: w.hostname }), v);
          }
        }
      },
    };
    if (type === 'counter') new Counter(config);
    else new Gauge(config);
  };
  workerFamily('counter', 'celery_worker_heartbeat_gaps_total', 'Heartbeats that came more than 2 x freq after the previous one while the broker stayed connected (events lost in transit, or a blocked worker).', (w) => w.heartbeatGaps);
  workerFamily('counter', 'celery_worker_heartbeat_gap_seconds_total', 'Seconds of heartbeats missing in those gaps (each gap minus one freq).', (w) => w.heartbeatGapSeconds);
  workerFamily('gauge', 'celery_worker_task_events_disabled', '1 while the worker processes tasks (its heartbeat processed count grows) but sends no task events: enable them with -E or `celery control enable_events`.', (w) => (w.taskEventsOff ? 1 : 0));
}
