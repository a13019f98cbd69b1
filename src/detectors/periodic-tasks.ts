import type { TaskEvent } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import { IgnoringObserver } from '../state/ignoring-observer.js';
import { TaskNumbers } from '../state/per-task.js';
import type { LabelGuard } from '../metrics/label-guard.js';
import type { Gauge } from 'prom-client';
import type { DetectorOutput } from './output.js';

/** Arrivals kept per name to recognise a cadence: 9 arrivals give 8 intervals. */
const ARRIVALS_KEPT = 9;
/** Intervals needed before a cadence is reported. */
const MIN_CADENCE_INTERVALS = 5;
/** Shortest cadence reported: faster than this is a busy task, not a schedule. */
const MIN_CADENCE_SECONDS = 1;
/** Least jitter tolerated: a loaded Beat or cron host sends a few hundred milliseconds late. */
const CADENCE_TOLERANCE_FLOOR = 0.5;

export class PeriodicTimes {
  /** Sender timestamp of the newest task-sent / task-received of the name. */
  lastSent: number | undefined = undefined;
  lastReceived: number | undefined = undefined;
  /** Arrival timestamps (first event of each task id), oldest first. */
  readonly arrivals: number[] = [];
  private cadence: number | undefined = undefined;
  private jitter: number | undefined = undefined;
  private stale = false;

  /** Interval between arrivals when they have been regular, seconds; computed when read (scrape time), not per event. */
  get detectedInterval(): number | undefined {
    this.refresh();
    return this.cadence;
  }

  /** How far the kept intervals stray from clockwork (see jitterRatio); computed when read, like the cadence. */
  get jitterRatio(): number | undefined {
    this.refresh();
    return this.jitter;
  }

  arrivalsChanged(): void {
    this.stale = true;
  }

  private refresh(): void {
    if (!this.stale) return;
    this.cadence = cadence(this.arrivals);
    this.jitter = jitterRatio(this.arrivals);
    this.stale = false;
  }
}

/**
 * Periodic tasks (Celery Beat, cron jobs calling `.delay()`): when each name was last sent and
 * received, and the cadence of new task ids per name. A task id arrives at the earliest timestamp
 * of its task-sent and task-received (the worker may report receiving it before the client's
 * task-sent is out); retries re-send the same id and do not count. A cadence is detected when the
 * last intervals lie within 10% (at least 500 ms) of their median, all but a quarter of them (one
 * late send makes one long and one short interval): Beat sends on time to the millisecond, ad hoc
 * calls are irregular. Once Beat stops, no interval is added, so the detected cadence stays and
 * an alert on `time() - last received > 2 x interval` fires.
 */
export class PeriodicTaskDetector extends IgnoringObserver {
  readonly byName = new Map<string, PeriodicTimes>();
  /** Per task: the earliest task-sent/received timestamp of its first attempt. */
  private readonly firstArrival = new TaskNumbers();

  /**
   * `names` (--max-label-values, shared by every broker's detector) bounds the names tracked, and
   * so the series of the gauges read from them: a flood of distinct task names lands in one
   * OVERFLOW_LABEL_VALUE entry, each such event reported to `overflow`.
   */
  constructor(
    private readonly names: LabelGuard,
    private readonly overflow: () => void = () => undefined,
  ) {
    super();
  }

  override taskSent(task: TaskRecord, event: TaskEvent): void {
    const t = this.times(task);
    if (t === undefined) return;
    if (t.lastSent === undefined || event.timestamp > t.lastSent) t.lastSent = event.timestamp;
    this.arrival(task, t, event.timestamp);
  }

  override taskReceived(task: TaskRecord, event: TaskEvent): void {
    const t = this.times(task);
    if (t === undefined) return;
    if (t.lastReceived === undefined || event.timestamp > t.lastReceived) t.lastReceived = event.timestamp;
    this.arrival(task, t, event.timestamp);
  }

  override taskForgotten(task: TaskRecord): void {
    this.firstArrival.forget(task);
  }

  private times(task: TaskRecord): PeriodicTimes | undefined {
    if (task.name === undefined) return undefined;
    let t = this.byName.get(task.name);
    if (t !== undefined) return t;
    const values = [task.name];
    if (this.names.cap(values) !== undefined) this.overflow();
    const name = values[0]!;
    t = this.byName.get(name);
    if (t !== undefined) return t;
    t = new PeriodicTimes();
    this.byName.set(name, t);
    return t;
  }

  private arrival(task: TaskRecord, t: PeriodicTimes, timestamp: number): void {
    if (task.retries > 0) return;
    const previous = this.firstArrival.get(task);
    if (previous !== undefined && previous <= timestamp) return;
    this.firstArrival.set(task, timestamp);
    const a = t.arrivals;
    if (previous !== undefined) {
      const at = a.indexOf(previous);
      if (at !== -1) a.splice(at, 1);
    }
    // Events of different task ids may arrive out of order: keep the list sorted.
    let i = a.length;
    while (i > 0 && a[i - 1]! > timestamp) i--;
    if (i === 0 && a.length >= ARRIVALS_KEPT) return; // older than everything kept
    a.splice(i, 0, timestamp);
    if (a.length > ARRIVALS_KEPT) a.shift();
    t.arrivalsChanged();
  }
}

/** The regular interval between these sorted timestamps, or undefined if they are not regular. */
export function cadence(arrivals: readonly number[]): number | undefined {
  if (arrivals.length < MIN_CADENCE_INTERVALS + 1) return undefined;
  const intervals: number[] = [];
  for (let i = 1; i < arrivals.length; i++) intervals.push(arrivals[i]! - arrivals[i - 1]!);
  const sorted = [...intervals].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  // A 1 s Beat schedule measures 0.998-1.003 s between sends: the floor allows that jitter.
  if (median < MIN_CADENCE_SECONDS * 0.9) return undefined;
  const tolerance = Math.max(0.1 * median, CADENCE_TOLERANCE_FLOOR);
  const off = intervals.filter((iv) => Math.abs(iv - median) > tolerance).length;
  return off <= Math.floor(intervals.length / 4) ? median : undefined;
}

/**
 * The largest deviation of the intervals between these sorted timestamps from their median, as a
 * share of the median, over a full window of ARRIVALS_KEPT arrivals; undefined before that.
 *
 * The zero-configuration dead man's switch (CeleryPeriodicTaskStopped) pages only below a small
 * ratio (0.1 by default), where the looser cadence above merely describes. Celery Beat sends on
 * time to a few milliseconds (a 1 s schedule measured 0.3 %), so every one of its 8 intervals
 * passes; random arrivals almost never do: for arrivals at random times each interval lies within
 * 10 % of the median with probability about 0.07, all 7 others about 1e-8 per arrival, where
 * "6 of 8" (the cadence's rule) would happen about once in 30 000 arrivals. The price: one
 * late send or a Beat restart disarms the switch until 8 regular intervals follow.
 */
export function jitterRatio(arrivals: readonly number[]): number | undefined {
  if (arrivals.length < ARRIVALS_KEPT) return undefined;
  const intervals: number[] = [];
  for (let i = 1; i < arrivals.length; i++) intervals.push(arrivals[i]! - arrivals[i - 1]!);
  const sorted = [...intervals].sort((x, y) => x - y);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  if (median <= 0) return undefined;
  return Math.max(median - sorted[0]!, sorted[sorted.length - 1]! - median) / median;
}

/** The periodic-task families: last sent/received, detected cadence and jitter, declared interval. */
export const periodicTaskOutput: DetectorOutput<{ readonly periodic: PeriodicTaskDetector; readonly expectedIntervals: Readonly<Record<string, number>> }> = {
  collector: ({ brokers, b, withBroker, families }) => {
    const f = families('periodic_tasks');
    const labelNames = ['name', ...b];
    const fromTimes: [Gauge<string>, (t: PeriodicTimes) => number | undefined][] = [
      [f.gauge({ name: 'celery_task_last_sent_timestamp_seconds', help: 'Sender timestamp of the newest task-sent of this task name, Unix seconds.', labelNames }), (t) => t.lastSent],
      [f.gauge({ name: 'celery_task_last_received_timestamp_seconds', help: 'Sender timestamp of the newest task-received of this task name, Unix seconds.', labelNames }), (t) => t.lastReceived],
      [f.gauge({ name: 'celery_task_detected_interval_seconds', help: 'Regular interval between new task ids of this name, when the last ones arrived on a cadence (Beat).', labelNames }), (t) => t.detectedInterval],
      [
        f.gauge({
          name: 'celery_task_arrival_jitter_ratio',
          help: 'Largest deviation of the last 8 intervals between new task ids of this name from their median, as a share of the median: near 0 for a Beat schedule; absent until 9 have arrived.',
          labelNames,
        }),
        (t) => t.jitterRatio,
      ],
    ];
    const expected = f.gauge({ name: 'celery_task_expected_interval_seconds', help: 'Interval declared with --expect-task NAME=INTERVAL: alert when time() - last received exceeds it.', labelNames });
    return f.collector(() => {
      for (const [g] of fromTimes) g.reset();
      expected.reset();
      for (const s of brokers) {
        for (const [task, times] of s.detectors.periodic.byName) {
          for (const [g, pick] of fromTimes) {
            const v = pick(times);
            if (v !== undefined) g.set(withBroker(s, { name: task }), v);
          }
        }
        for (const [task, seconds] of Object.entries(s.detectors.expectedIntervals)) expected.set(withBroker(s, { name: task }), seconds);
      }
    });
  },
};
