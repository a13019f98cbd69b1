import type { TaskEvent } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { LabelGuard, OVERFLOW_LABEL_VALUE } from '../metrics/label-guard.js';
import type { DetectorOutput } from './output.js';

const UNKNOWN_NAME = 'unknown';
/** The queue of a task that reported none (the metrics show --default-queue-name). */
const NO_QUEUE = '';

export interface StalledTaskOptions {
  /** Seconds in STARTED after which a task of a name with no override and no learned threshold is stalled. */
  readonly threshold: number;
  /** Per task name overrides, seconds. */
  readonly perTask: Readonly<Record<string, number>>;
  /** A learned threshold is this many times the name's 95th percentile runtime; 0 turns learning off. */
  readonly runtimeFactor: number;
}

/** The --max-label-values bounds on the running-task families' label values and on the learned thresholds. */
export interface NameBound {
  /** Most task names whose runtimes are kept to learn a threshold from (memory of this broker's detector). */
  readonly maxNames: number;
  /** The (name, queue) values the running-task families may use, shared by every broker; the rest share OVERFLOW_LABEL_VALUE. */
  readonly labels: LabelGuard;
  /** Told of each task-started whose name or queue is recorded as OVERFLOW_LABEL_VALUE. */
  readonly overflow: (label: string) => void;
}

/** Successful runs of a name needed before its own runtime sets its threshold. */
export const MIN_RUNTIME_SAMPLES = 20;
/** Runtimes kept per name (the most recent ones). */
const RUNTIME_SAMPLES = 100;
/**
 * A learned threshold is never below this: a task that normally takes 20 ms is not stuck at
 * 200 ms, and scrape intervals are seconds anyway.
 */
export const MIN_LEARNED_THRESHOLD = 10;

/** The most recent successful runtimes of one task name, and the threshold learned from them. */
interface RuntimeRing {
  readonly samples: number[];
  next: number;
  /** undefined: not computed since the last sample. */
  threshold: number | undefined;
}

/** What is running now for one (name, queue). */
export interface RunningTasks {
  readonly name: string;
  readonly queue: string | undefined;
  running: number;
  stalled: number;
  /** Seconds since the oldest of them started (local clock of its task-started). */
  oldestAge: number;
  readonly threshold: number;
}

/**
 * Tasks in STARTED for longer than their name's threshold: an explicit per-name one, else a
 * multiple of the name's own observed runtime once enough samples exist, else the global one.
 * Ages use the daemon's clock at the task-started event, so worker clock skew does not age tasks.
 * Lost tasks are not STARTED any more, so they are neither running nor stalled.
 */
export class StalledTaskDetector extends IgnoringObserver {
  private readonly runtimes = new Map<string, RuntimeRing>();
  private readonly labels: LabelGuard;

  constructor(
    private readonly options: StalledTaskOptions,
    private readonly bound: NameBound = { maxNames: Infinity, labels: new LabelGuard(['name', 'queue_name'], Infinity), overflow: () => undefined },
  ) {
    super();
    this.labels = bound.labels;
  }

  /** Admits the task's (name, queue) to the running-task families on its start, or counts its overflow. */
  override taskStarted(task: TaskRecord): void {
    const replaced = this.labels.cap([task.name ?? UNKNOWN_NAME, task.queue ?? NO_QUEUE]);
    if (replaced !== undefined) for (const i of replaced) this.bound.overflow(this.labels.labelNames[i]!);
  }

  override taskSucceeded(task: TaskRecord, _event: TaskEvent, runtime: number | undefined): void {
    if (runtime === undefined || task.name === undefined || this.options.runtimeFactor === 0) return;
    let ring = this.runtimes.get(task.name);
    if (ring === undefined) {
      // Names past the cap are not learned: they keep the global threshold.
      if (this.runtimes.size >= this.bound.maxNames) return;
      ring = { samples: [], next: 0, threshold: undefined };
      this.runtimes.set(task.name, ring);
    }
    if (ring.samples.length < RUNTIME_SAMPLES) ring.samples.push(runtime);
    else ring.samples[ring.next] = runtime;
    ring.next = (ring.next + 1) % RUNTIME_SAMPLES;
    // Recomputed when read (at scrape time), not here on the event path: it sorts the samples.
    ring.threshold = undefined;
  }

  thresholdFor(name: string): number {
    const override = this.options.perTask[name];
    if (override !== undefined) return override;
    const ring = this.runtimes.get(name);
    if (ring === undefined || ring.samples.length < MIN_RUNTIME_SAMPLES) return this.options.threshold;
    ring.threshold ??= learnedThreshold(ring.samples, this.options.runtimeFactor);
    return ring.threshold;
  }

  /**
   * One pass over the unfinished tasks: what runs, per (name, queue) as exported. A task with no
   * queue is exported under `defaultQueue`, so it shares the row of tasks named with that queue
   * (seeded tasks know their queue, tasks seen only from task-received do not).
   */
  scan(unfinished: Iterable<TaskRecord>, now: number, defaultQueue: string): RunningTasks[] {
    const byKey = new Map<string, RunningTasks>();
    for (const task of unfinished) {
      if (task.state !== 'STARTED' || task.startedSeenAt === undefined) continue;
      const own = task.name ?? UNKNOWN_NAME;
      // Already admitted at task-started (counted there if not): this only looks the values up.
      const values = [own, task.queue ?? NO_QUEUE];
      this.labels.cap(values);
      const [name, queue] = values as [string, string];
      const key = `${name}\u0000${queue === NO_QUEUE ? defaultQueue : queue}`;
      let row = byKey.get(key);
      if (row === undefined) {
        const threshold = name === OVERFLOW_LABEL_VALUE ? this.options.threshold : this.thresholdFor(name);
        row = { name, queue: queue === NO_QUEUE ? undefined : queue, running: 0, stalled: 0, oldestAge: 0, threshold };
        byKey.set(key, row);
      }
      const age = Math.max(0, now - task.startedSeenAt);
      row.running++;
      // Each task against its own name's threshold, also when it is counted under the overflow row.
      if (age > (name === own ? row.threshold : this.thresholdFor(own))) row.stalled++;
      if (age > row.oldestAge) row.oldestAge = age;
    }
    return [...byKey.values()];
  }
}

function learnedThreshold(samples: readonly number[], factor: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  const p95 = sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.95))] ?? 0;
  return Math.max(MIN_LEARNED_THRESHOLD, p95 * factor);
}

/** The running-task families, set from one scan of each broker's unfinished tasks per scrape. */
export const stalledTaskOutput: DetectorOutput<{ readonly stalled: StalledTaskDetector }> = {
  collector: ({ brokers, b, withBroker, queue, families }) => {
    const f = families('stalled_tasks');
    const byName = ['name', 'queue_name', ...b];
    const running = f.gauge({ name: 'celery_task_running', help: 'Tasks in STARTED now (lost ones excluded).', labelNames: byName });
    const stalled = f.gauge({ name: 'celery_task_stalled', help: 'Tasks in STARTED for longer than their stalled threshold (see celery_task_stalled_threshold_seconds).', labelNames: byName });
    const oldest = f.gauge({ name: 'celery_task_oldest_running_age_seconds', help: 'Seconds since the oldest task in STARTED of this name started (daemon clock).', labelNames: byName });
    const threshold = f.gauge({
      name: 'celery_task_stalled_threshold_seconds',
      help: 'Stalled threshold in force for each task name running now: --stalled-threshold NAME=, else learned from its runtime, else the global one.',
      labelNames: ['name', ...b],
    });
    return f.collector(() => {
      for (const g of [running, stalled, oldest, threshold]) g.reset();
      const t = Date.now() / 1000;
      for (const s of brokers) {
        for (const r of s.detectors.stalled.scan(s.state.tasks.unfinishedTasks(), t, queue(undefined))) {
          const labels = withBroker(s, { name: r.name, queue_name: queue(r.queue) });
          running.set(labels, r.running);
          stalled.set(labels, r.stalled);
          oldest.set(labels, r.oldestAge);
          threshold.set(withBroker(s, { name: r.name }), r.threshold);
        }
      }
    });
  },
};
