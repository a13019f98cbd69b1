import type { TaskEvent } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';

export interface StalledTaskOptions {
  /** Seconds in STARTED after which a task of a name with no override and no learned threshold is stalled. */
  readonly threshold: number;
  /** Per task name overrides, seconds. */
  readonly perTask: Readonly<Record<string, number>>;
  /** A learned threshold is this many times the name's 95th percentile runtime; 0 turns learning off. */
  readonly runtimeFactor: number;
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

  constructor(private readonly options: StalledTaskOptions) {
    super();
  }

  override taskSucceeded(task: TaskRecord, _event: TaskEvent, runtime: number | undefined): void {
    if (runtime === undefined || task.name === undefined || this.options.runtimeFactor === 0) return;
    let ring = this.runtimes.get(task.name);
    if (ring === undefined) {
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

  /** One pass over the unfinished tasks: what runs, per (name, queue). */
  scan(unfinished: Iterable<TaskRecord>, now: number): RunningTasks[] {
    const byKey = new Map<string, RunningTasks>();
    for (const task of unfinished) {
      if (task.state !== 'STARTED' || task.startedSeenAt === undefined) continue;
      const name = task.name ?? 'unknown';
      const key = `${name}\u0000${task.queue ?? ''}`;
      let row = byKey.get(key);
      if (row === undefined) {
        row = { name, queue: task.queue, running: 0, stalled: 0, oldestAge: 0, threshold: this.thresholdFor(name) };
        byKey.set(key, row);
      }
      const age = Math.max(0, now - task.startedSeenAt);
      row.running++;
      if (age > row.threshold) row.stalled++;
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
