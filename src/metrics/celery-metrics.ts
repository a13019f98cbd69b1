import { Registry, collectDefaultMetrics } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import type { DecodeErrorReason, TaskEvent } from '../protocol/events.js';
import type { TaskObserver } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import { TaskSlots } from '../state/per-task.js';
import { UNKNOWN_TASK_NAME } from '../state/machine.js';
import { BoundedChildren, LabelGuard, OVERFLOW_LABEL_VALUE, overflowCounter } from './label-guard.js';
import type { ExemplarSource } from './exemplars.js';
import { CeleryExporterCompat, NO_COMPAT } from './compat.js';
import { CounterFamily } from './store/counter.js';
import type { CounterCell } from './store/counter.js';
import { HistogramFamily } from './store/histogram.js';
import type { HistogramCell } from './store/histogram.js';
import type { CompatChildren } from './compat.js';

import type { MetricsOptions } from './metrics-options.js';

/**
 * The `name` of a task whose task-received was never seen. celery-exporter labels it "None"
 * (str() of celery.events.state.Task.name, None until received) and its dashboards and alerts
 * filter `name!~"None"`: with --celery-exporter-compat the same value is used so they leave it out.
 */
function unknownTaskName(compat: boolean): string {
  return compat ? 'None' : 'unknown';
}

const TASK_LABELS = ['name', 'hostname', 'queue_name'] as const;
const OUTCOMES = ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'] as const;
type Outcome = (typeof OUTCOMES)[number];

type Labels = Record<string, string>;

const DEFAULT_MAX_LABEL_VALUES = 1000;
const RUNTIME_METRIC = 'celery_task_runtime_seconds';

/** How an attempt ended, the `outcome` label of celery_task_runtime_seconds. */
type RuntimeOutcome = 'succeeded' | 'failed' | 'retried';
/**
 * The (name, queue) histograms. The three runtime series are made with the rest, so telling the
 * outcomes apart costs no lookup per event; each series appears on its first observation only.
 */
type HistogramChildren = {
  readonly labels: Labels;
  readonly succeeded: HistogramCell;
  readonly failed: HistogramCell;
  readonly retried: HistogramCell;
  readonly wait: HistogramCell;
};

/**
 * The Prometheus side of celery-pulse: metric families, created once, and the per-broker
 * observers that feed them. Names and labels of the task and worker families match
 * danihodovic/celery-exporter so its dashboards keep working.
 *
 * The task families are the store's own (store/: a counter is one addition per event, the
 * exposition writes them straight from their series); the process, Node.js and scrape-time
 * families are prom-client's, in the same registry. http/exposition.ts writes either text format
 * from it. Exemplars (trace ids) come with the observations when forBroker() is given a source.
 */
export class CeleryMetrics {
  readonly registry = new Registry<OpenMetricsContentType>();
  readonly counters: Record<Outcome, CounterFamily>;
  readonly runtime: HistogramFamily;
  readonly queueWait: HistogramFamily;
  readonly eventsReceived: CounterFamily;
  readonly decodeErrors: CounterFamily;
  readonly labelOverflow: CounterFamily;
  readonly compat: CeleryExporterCompat | undefined;
  /** Guards shared by every broker: the label-value cap is per family, not per broker. */
  readonly guards: {
    readonly outcomes: LabelGuard;
    readonly failed: LabelGuard;
    readonly retried: LabelGuard;
    readonly histograms: LabelGuard;
  };
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
        new CounterFamily({
          name: `celery_task_${o}_total`,
          help: help[o],
          labelNames: [...TASK_LABELS, ...(withException.has(o) ? ['exception'] : []), ...b],
          registers,
        }),
      ]),
    ) as Record<Outcome, CounterFamily>;
    this.runtime = new HistogramFamily({
      name: 'celery_task_runtime_seconds',
      help: 'Run time of task attempts that ended, in seconds, by how they ended (outcome: succeeded, failed or retried).',
      labelNames: ['name', 'queue_name', 'outcome', ...b],
      buckets: options.runtimeBuckets,
      registers,
    });
    this.queueWait = new HistogramFamily({
      name: 'celery_task_queue_wait_seconds',
      help: 'Seconds from when a task attempt was queued (task-sent, else task-received; or its ETA) to task-started.',
      labelNames: ['name', 'queue_name', ...b],
      buckets: options.queueWaitBuckets,
      registers,
    });
    this.eventsReceived = new CounterFamily({
      name: 'celery_pulse_events_received_total',
      help: 'Celery events decoded, by event type.',
      labelNames: ['type', ...b],
      registers,
    });
    this.decodeErrors = new CounterFamily({
      name: 'celery_pulse_decode_errors_total',
      help: 'Broker messages or events that could not be decoded and were skipped, by reason.',
      labelNames: ['reason', ...b],
      registers,
    });
    this.labelOverflow = new CounterFamily({
      name: 'celery_pulse_label_overflow_total',
      help: 'Observations recorded under the label value __overflow__ because the family already had --max-label-values distinct values of that label.',
      labelNames: ['metric', 'label', ...b],
      registers,
    });
    this.guards = {
      outcomes: this.labelGuard(TASK_LABELS),
      failed: this.labelGuard([...TASK_LABELS, 'exception']),
      retried: this.labelGuard([...TASK_LABELS, 'exception']),
      histograms: this.labelGuard(['name', 'queue_name']),
    };
    this.compat = options.celeryExporterCompat === true ? new CeleryExporterCompat(this.registry, {
            runtimeBuckets: options.compatRuntimeBuckets ?? options.runtimeBuckets,
            queueWaitBuckets: options.compatQueueWaitBuckets ?? options.queueWaitBuckets,
            brokerLabel: options.brokerLabel,
          }) : undefined;
    collectDefaultMetrics({ register: this.registry });
  }

  /** The observer that turns one broker's transitions into series (with its `broker` label if any). */
  forBroker(name: string, exemplars?: ExemplarSource): BrokerMetrics {
    return new BrokerMetrics(this, this.options, this.options.brokerLabel ? { broker: name } : {}, exemplars);
  }

  /** A label-value cap for one family (or families always labelled together); see label-guard.ts. */
  labelGuard(labelNames: readonly string[]): LabelGuard {
    return new LabelGuard(labelNames, this.options.maxLabelValues ?? DEFAULT_MAX_LABEL_VALUES);
  }
}

interface TaskChildren {
  /** The label values these children were made for, and who made them (per-task memo, `task()`). */
  readonly name: string;
  readonly hostname: string;
  readonly queue: string;
  readonly owner: BrokerMetrics;
  /** Made for exactly these values: none is the overflow value, so a task with them may keep it. */
  readonly own: boolean;
  /** `BrokerMetrics.generation` when last found in the cache: older ones may have been forgotten. */
  generation: number;
  /** The (name, queue) histograms, once looked up without overflow; see `histogramsOf`. */
  histograms: HistogramChildren | undefined;
  readonly sent: CounterCell;
  readonly received: CounterCell;
  readonly started: CounterCell;
  readonly succeeded: CounterCell;
  readonly rejected: CounterCell;
  readonly revoked: CounterCell;
  /** celery-exporter's histograms of this label set, or no-ops without --celery-exporter-compat. */
  readonly compat: CompatChildren;
}

/**
 * Feeds one broker's transitions into the shared families. Cells are looked up once per
 * (name, hostname, queue) and kept, so counting an event is a memo check and an addition. New
 * label sets pass the family's LabelGuard, so hostile or runaway values end up under
 * `__overflow__` (label-guard.ts). forgetWorker() removes series; a cell of a removed series
 * starts a fresh one if it counts again (store/family.ts).
 */
export class BrokerMetrics implements TaskObserver {
  private readonly m: CeleryMetrics;
  private readonly extra: Labels;
  private readonly defaultQueue: string;
  private readonly genericSent: boolean;
  private readonly genericWorker: boolean;
  private readonly unknownName: string;
  private readonly compatOn: boolean;
  private readonly children: BoundedChildren<TaskChildren>;
  private readonly failed: BoundedChildren<CounterCell>;
  private readonly retried: BoundedChildren<CounterCell>;
  private readonly histograms: BoundedChildren<HistogramChildren>;
  /** With --traces: the trace ids that runtimes and failures carry as exemplars (exemplars.ts). */
  private readonly exemplars: ExemplarSource | undefined;
  private readonly events = new Map<string, CounterCell>();
  /**
   * Per task: the label children its last event was counted under, so its next events skip the
   * label lookup.
   */
  private readonly memos = new TaskSlots<TaskChildren>();
  /** Bumped whenever children are forgotten, so no task's memo outlives its children. */
  private generation = 0;
  private readonly errors = new Map<string, CounterCell>();

  constructor(metrics: CeleryMetrics, options: MetricsOptions, extra: Labels, exemplars?: ExemplarSource) {
    this.m = metrics;
    this.extra = extra;
    this.defaultQueue = options.defaultQueueName;
    this.genericSent = options.genericHostnameTaskSent;
    this.genericWorker = options.genericHostnameWorkerTask === true;
    this.compatOn = options.celeryExporterCompat === true;
    this.unknownName = unknownTaskName(this.compatOn);
    const overflow = overflowCounter(metrics.labelOverflow, extra);
    const k = metrics.counters;
    this.children = new BoundedChildren(
      metrics.guards.outcomes,
      ([name, hostname, queue]) => {
        const labels = { name: name!, hostname: hostname!, queue_name: queue!, ...extra };
        return {
          name: name!,
          hostname: hostname!,
          queue: queue!,
          owner: this,
          own: name !== OVERFLOW_LABEL_VALUE && hostname !== OVERFLOW_LABEL_VALUE && queue !== OVERFLOW_LABEL_VALUE,
          generation: this.generation,
          histograms: undefined,
          sent: k.sent.cell(labels),
          received: k.received.cell(labels),
          started: k.started.cell(labels),
          succeeded: k.succeeded.cell(labels),
          rejected: k.rejected.cell(labels),
          revoked: k.revoked.cell(labels),
          compat: metrics.compat?.childrenFor(labels, k) ?? NO_COMPAT,
        };
      },
      overflow,
    );
    const withException = (family: CounterFamily) => ([name, hostname, queue, exception]: readonly string[]) =>
      family.cell({ name: name!, hostname: hostname!, queue_name: queue!, exception: exception!, ...extra });
    this.failed = new BoundedChildren(metrics.guards.failed, withException(k.failed), overflow);
    this.retried = new BoundedChildren(metrics.guards.retried, withException(k.retried), overflow);
    this.histograms = new BoundedChildren(
      metrics.guards.histograms,
      ([name, queue]) => {
        const labels = { name: name!, queue_name: queue!, ...extra };
        const runtime = (outcome: RuntimeOutcome): HistogramCell => metrics.runtime.cell({ name: name!, queue_name: queue!, outcome, ...extra });
        return { labels, succeeded: runtime('succeeded'), failed: runtime('failed'), retried: runtime('retried'), wait: metrics.queueWait.cell(labels) };
      },
      overflow,
    );
    this.exemplars = exemplars;
  }

  eventReceived(type: string): void {
    let child = this.events.get(type);
    if (child === undefined) {
      child = this.m.eventsReceived.cell({ type, ...this.extra });
      this.events.set(type, child);
    }
    child.inc();
  }

  decodeError(reason: DecodeErrorReason): void {
    let child = this.errors.get(reason);
    if (child === undefined) {
      child = this.m.decodeErrors.cell({ reason, ...this.extra });
      this.errors.set(reason, child);
    }
    child.inc();
  }

  taskSent(task: TaskRecord, event: TaskEvent): void {
    this.task(task, this.genericSent ? 'generic' : event.hostname, 'celery_task_sent_total').sent.inc();
  }

  taskReceived(task: TaskRecord, event: TaskEvent): void {
    const c = this.task(task, this.workerHost(event.hostname), 'celery_task_received_total');
    c.received.inc();
    c.compat.workerSeen();
  }

  taskStarted(task: TaskRecord, event: TaskEvent, queueWait: number | undefined): void {
    const c = this.task(task, this.workerHost(event.hostname), 'celery_task_started_total');
    c.started.inc();
    c.compat.workerSeen();
    if (queueWait !== undefined) {
      this.histogramsOf(c, task, 'celery_task_queue_wait_seconds').wait.observe(queueWait);
      c.compat.wait.observe(queueWait);
    }
  }

  taskSucceeded(task: TaskRecord, event: TaskEvent, runtime: number | undefined): void {
    const c = this.task(task, this.workerHost(event.hostname), 'celery_task_succeeded_total');
    c.succeeded.inc();
    c.compat.workerSeen();
    if (runtime !== undefined) {
      this.histogramsOf(c, task, RUNTIME_METRIC).succeeded.observe(runtime, this.exemplars?.exemplarFor(task));
      c.compat.runtime.observe(runtime);
    }
  }

  taskFailed(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined): void {
    const host = this.workerHost(event.hostname);
    // celery-exporter creates the other counters at 0 on any worker event; a failure is one too.
    if (this.compatOn) this.task(task, host, 'celery_task_failed_total').compat.workerSeen();
    this.exceptionChild('failed', task, host, exception).inc(1, this.exemplars?.exemplarFor(task));
    if (runtime !== undefined) this.histogramsFor(task, RUNTIME_METRIC).failed.observe(runtime, this.exemplars?.exemplarFor(task));
  }

  taskRetried(task: TaskRecord, event: TaskEvent, exception: string, runtime: number | undefined): void {
    const host = this.workerHost(event.hostname);
    if (this.compatOn) this.task(task, host, 'celery_task_retried_total').compat.workerSeen();
    this.exceptionChild('retried', task, host, exception).inc();
    if (runtime !== undefined) this.histogramsFor(task, RUNTIME_METRIC).retried.observe(runtime, this.exemplars?.exemplarFor(task));
  }

  taskRejected(task: TaskRecord, event: TaskEvent): void {
    const c = this.task(task, this.workerHost(event.hostname), 'celery_task_rejected_total');
    c.rejected.inc();
    c.compat.workerSeen();
  }

  taskRevoked(task: TaskRecord, event: TaskEvent): void {
    const c = this.task(task, this.workerHost(event.hostname), 'celery_task_revoked_total');
    c.revoked.inc();
    c.compat.workerSeen();
  }

  taskCancelled(): void {
    // No counter of its own in celery-exporter's set; the redelivered attempt is counted when it starts.
  }

  taskLost(): void {
    // Counted by the lost-task detector.
  }

  taskForgotten(task: TaskRecord): void {
    this.memos.forget(task);
  }

  /**
   * Removes every task series labelled with this worker's hostname, when the state forgot the
   * worker (--worker-forget-after): pod churn must not grow the series count forever.
   */
  forgetWorker(hostname: string): void {
    const k = this.m.counters;
    this.generation++;
    for (const [name, host, queue] of this.children.forget((v) => v[1] === hostname)) {
      const labels = { name: name!, hostname: host!, queue_name: queue!, ...this.extra };
      for (const family of [k.sent, k.received, k.started, k.succeeded, k.rejected, k.revoked]) family.remove(labels);
      // --celery-exporter-compat zeroes these and keeps histograms per hostname (compat.ts).
      k.failed.remove({ ...labels, exception: '' });
      k.retried.remove({ ...labels, exception: '' });
      this.m.compat?.forget(labels);
    }
    for (const [outcome, children] of [['failed', this.failed], ['retried', this.retried]] as const) {
      for (const [name, host, queue, exception] of children.forget((v) => v[1] === hostname)) {
        k[outcome].remove({ name: name!, hostname: host!, queue_name: queue!, exception: exception!, ...this.extra });
      }
    }
  }

  private queueOf(task: TaskRecord): string {
    return task.queue ?? this.defaultQueue;
  }

  /**
   * The outcome counters of the task's (name, hostname, queue). A task's events mostly come from
   * one worker, so the children found for one event are remembered on the record and the next
   * event compares three strings instead of walking the cache and allocating a key: a fifth less
   * CPU after decoding in bench/inproc.ts. Only children made for exactly these values are
   * remembered: an overflowed label set goes through the guard every time, which counts the
   * overflow. forgetWorker() bumps `generation`, so no memo outlives the series it counts into.
   */
  private task(task: TaskRecord, hostname: string, metric: string): TaskChildren {
    const name = this.nameOf(task);
    const queue = this.queueOf(task);
    const memo = this.memos.get(task);
    if (memo !== undefined && memo.hostname === hostname && memo.name === name && memo.queue === queue && memo.owner === this && memo.generation === this.generation) return memo;
    const c = this.children.get([name, hostname, queue], metric);
    if (c.own && c.hostname === hostname && c.name === name && c.queue === queue) {
      c.generation = this.generation;
      this.memos.set(task, c);
    }
    return c;
  }

  /**
   * The (name, queue) histograms of `c`'s label set, remembered on `c` once found without overflow.
   * `c` comes from task() for this same task, so its name and queue are the task's.
   */
  private histogramsOf(c: TaskChildren, task: TaskRecord, metric: string): HistogramChildren {
    if (c.histograms !== undefined) return c.histograms;
    const h = this.histogramsFor(task, metric);
    if (c.own && h.labels['name'] === c.name && h.labels['queue_name'] === c.queue) c.histograms = h;
    return h;
  }

  private exceptionChild(outcome: 'failed' | 'retried', task: TaskRecord, hostname: string, exception: string): CounterCell {
    const values = [this.nameOf(task), hostname, this.queueOf(task), exception];
    return outcome === 'failed' ? this.failed.get(values, 'celery_task_failed_total') : this.retried.get(values, 'celery_task_retried_total');
  }

  /** The state names a task it never saw named UNKNOWN_TASK_NAME once its grace is over. */
  private nameOf(task: TaskRecord): string {
    const name = task.name;
    return name === undefined || name === UNKNOWN_TASK_NAME ? this.unknownName : name;
  }

  private workerHost(hostname: string): string {
    return this.genericWorker ? 'generic' : hostname;
  }

  private histogramsFor(task: TaskRecord, metric: string): HistogramChildren {
    return this.histograms.get([this.nameOf(task), this.queueOf(task)], metric);
  }
}
