import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import type { DecodeErrorReason, TaskEvent } from '../protocol/events.js';
import type { TaskObserver } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import type { CeleryState } from '../state/machine.js';
import { defineScrapeTimeMetrics } from './scrape-metrics.js';

export interface MetricsOptions {
  readonly runtimeBuckets: readonly number[];
  readonly queueWaitBuckets: readonly number[];
  readonly defaultQueueName: string;
  readonly genericHostnameTaskSent: boolean;
  /** Add a `broker` label to every series: true when more than one broker is watched. */
  readonly brokerLabel: boolean;
  readonly version: string;
}

/** What the metrics need to read from one broker at scrape time. */
export interface BrokerStatus {
  readonly name: string;
  readonly state: CeleryState;
  readonly connected: () => boolean;
  readonly reconnects: () => number;
}

const TASK_LABELS = ['name', 'hostname', 'queue_name'] as const;
const OUTCOMES = ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'] as const;
type Outcome = (typeof OUTCOMES)[number];

type Labels = Record<string, string>;

/**
 * The Prometheus side of celery-pulse: metric families, created once, and the per-broker
 * observers that feed them. Names and labels of the task and worker families match
 * danihodovic/celery-exporter so its dashboards keep working.
 *
 * Metrics live in an OpenMetrics registry (exemplars need one); http/exposition.ts writes
 * either text format from it.
 */
export class CeleryMetrics {
  readonly registry = new Registry<OpenMetricsContentType>();
  readonly counters: Record<Outcome, Counter<string>>;
  readonly runtime: Histogram<string>;
  readonly queueWait: Histogram<string>;
  readonly eventsReceived: Counter<string>;
  readonly decodeErrors: Counter<string>;
  private readonly brokers: BrokerStatus[] = [];
  private readonly options: MetricsOptions;

  constructor(options: MetricsOptions) {
    this.options = options;
    this.registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    const registers = [this.registry];
    const b = options.brokerLabel ? ['broker'] : [];
    const help: Record<Outcome, string> = {
      sent: 'Tasks published by clients (task-sent events; needs task_send_sent_event on the client).',
      received: 'Tasks received by a worker (task-received events).',
      started: 'Task attempts started on a worker (task-started events).',
      succeeded: 'Tasks that succeeded (task-succeeded events).',
      failed: 'Tasks that failed, by exception class (task-failed events).',
      retried: 'Task attempts that ended in a retry, by exception class (task-retried events).',
      rejected: 'Tasks rejected by a worker (task-rejected events).',
      revoked: 'Tasks revoked, expired or terminated (task-revoked events).',
    };
    const withException = new Set<Outcome>(['failed', 'retried']);
    this.counters = Object.fromEntries(
      OUTCOMES.map((o) => [
        o,
        new Counter({
          name: `celery_task_${o}_total`,
          help: help[o],
          labelNames: [...TASK_LABELS, ...(withException.has(o) ? ['exception'] : []), ...b],
          registers,
        }),
      ]),
    ) as Record<Outcome, Counter<string>>;
    this.runtime = new Histogram({
      name: 'celery_task_runtime_seconds',
      help: 'Run time of task attempts that ended (succeeded, failed or retried), in seconds.',
      labelNames: ['name', 'queue_name', ...b],
      buckets: [...options.runtimeBuckets],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'celery_task_queue_wait_seconds',
      help: 'Seconds from when a task attempt was queued (task-sent, else task-received; or its ETA) to task-started.',
      labelNames: ['name', 'queue_name', ...b],
      buckets: [...options.queueWaitBuckets],
      registers,
    });
    this.eventsReceived = new Counter({
      name: 'celery_pulse_events_received_total',
      help: 'Celery events decoded, by event type.',
      labelNames: ['type', ...b],
      registers,
    });
    this.decodeErrors = new Counter({
      name: 'celery_pulse_decode_errors_total',
      help: 'Broker messages or events that could not be decoded and were skipped, by reason.',
      labelNames: ['reason', ...b],
      registers,
    });
    defineScrapeTimeMetrics(this.registry, this.brokers, options);
    collectDefaultMetrics({ register: this.registry });
  }

  /** The observer that turns one broker's transitions into series (with its `broker` label if any). */
  forBroker(name: string): BrokerMetrics {
    return new BrokerMetrics(this, this.options, this.options.brokerLabel ? { broker: name } : {});
  }

  /** Adds a broker's state and connection to what is read at scrape time. */
  watchBroker(status: BrokerStatus): void {
    this.brokers.push(status);
  }
}

interface TaskChildren {
  readonly sent: Counter.Internal;
  readonly received: Counter.Internal;
  readonly started: Counter.Internal;
  readonly succeeded: Counter.Internal;
  readonly rejected: Counter.Internal;
  readonly revoked: Counter.Internal;
}

/**
 * Feeds one broker's transitions into the shared families. Label children are looked up once per
 * (name, hostname, queue) and kept: prom-client hashes the label object on every labels() call,
 * which is the most expensive part of counting an event.
 */
export class BrokerMetrics implements TaskObserver {
  private readonly m: CeleryMetrics;
  private readonly extra: Labels;
  private readonly defaultQueue: string;
  private readonly genericSent: boolean;
  private readonly children = new Map<string, TaskChildren>();
  private readonly withException = new Map<string, Counter.Internal>();
  private readonly histograms = new Map<string, { runtime: Histogram.Internal<string>; wait: Histogram.Internal<string> }>();
  private readonly events = new Map<string, Counter.Internal>();
  private readonly errors = new Map<string, Counter.Internal>();

  constructor(metrics: CeleryMetrics, options: MetricsOptions, extra: Labels) {
    this.m = metrics;
    this.extra = extra;
    this.defaultQueue = options.defaultQueueName;
    this.genericSent = options.genericHostnameTaskSent;
  }

  eventReceived(type: string): void {
    let child = this.events.get(type);
    if (child === undefined) {
      child = this.m.eventsReceived.labels({ type, ...this.extra });
      this.events.set(type, child);
    }
    child.inc();
  }

  decodeError(reason: DecodeErrorReason): void {
    let child = this.errors.get(reason);
    if (child === undefined) {
      child = this.m.decodeErrors.labels({ reason, ...this.extra });
      this.errors.set(reason, child);
    }
    child.inc();
  }

  taskSent(task: TaskRecord, event: TaskEvent): void {
    this.task(task, this.genericSent ? 'generic' : event.hostname).sent.inc();
  }

  taskReceived(task: TaskRecord, event: TaskEvent): void {
    this.task(task, event.hostname).received.inc();
  }

  taskStarted(task: TaskRecord, event: TaskEvent, queueWait: number | undefined): void {
    this.task(task, event.hostname).started.inc();
    if (queueWait !== undefined) this.histogramsFor(task).wait.observe(queueWait);
  }

  taskSucceeded(task: TaskRecord, event: TaskEvent, runtime: number | undefined): void {
    this.task(task, event.hostname).succeeded.inc();
    if (runtime !== undefined) this.histogramsFor(task).runtime.observe(runtime);
  }

  taskFailed(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined): void {
    this.exceptionChild('failed', task, event.hostname, exception).inc();
    if (runtime !== undefined) this.histogramsFor(task).runtime.observe(runtime);
  }

  taskRetried(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined): void {
    this.exceptionChild('retried', task, event.hostname, exception).inc();
    if (runtime !== undefined) this.histogramsFor(task).runtime.observe(runtime);
  }

  taskRejected(task: TaskRecord, event: TaskEvent): void {
    this.task(task, event.hostname).rejected.inc();
  }

  taskRevoked(task: TaskRecord, event: TaskEvent): void {
    this.task(task, event.hostname).revoked.inc();
  }

  taskCancelled(): void {
    // No counter of its own in celery-exporter's set; the redelivered attempt is counted when it starts.
  }

  taskLost(): void {
    // Counted by the lost-task detector.
  }

  private queueOf(task: TaskRecord): string {
    return task.queue ?? this.defaultQueue;
  }

  private task(task: TaskRecord, hostname: string): TaskChildren {
    const name = task.name ?? 'unknown';
    const queue = this.queueOf(task);
    const key = `${name}\u0000${hostname}\u0000${queue}`;
    let c = this.children.get(key);
    if (c === undefined) {
      const labels = { name, hostname, queue_name: queue, ...this.extra };
      const k = this.m.counters;
      c = {
        sent: k.sent.labels(labels),
        received: k.received.labels(labels),
        started: k.started.labels(labels),
        succeeded: k.succeeded.labels(labels),
        rejected: k.rejected.labels(labels),
        revoked: k.revoked.labels(labels),
      };
      this.children.set(key, c);
    }
    return c;
  }

  private exceptionChild(outcome: 'failed' | 'retried', task: TaskRecord, hostname: string, exception: string): Counter.Internal {
    const name = task.name ?? 'unknown';
    const queue = this.queueOf(task);
    const key = `${outcome}\u0000${name}\u0000${hostname}\u0000${queue}\u0000${exception}`;
    let c = this.withException.get(key);
    if (c === undefined) {
      c = this.m.counters[outcome].labels({ name, hostname, queue_name: queue, exception, ...this.extra });
      this.withException.set(key, c);
    }
    return c;
  }

  private histogramsFor(task: TaskRecord): { runtime: Histogram.Internal<string>; wait: Histogram.Internal<string> } {
    const name = task.name ?? 'unknown';
    const queue = this.queueOf(task);
    const key = `${name}\u0000${queue}`;
    let h = this.histograms.get(key);
    if (h === undefined) {
      const labels = { name, queue_name: queue, ...this.extra };
      h = { runtime: this.m.runtime.labels(labels), wait: this.m.queueWait.labels(labels) };
      this.histograms.set(key, h);
    }
    return h;
  }
}
