import type { Counter, Histogram } from 'prom-client';

// prom-client 15's labels() child re-validates and re-hashes its label object on every inc() and
// observe(): in a `--cpu-prof` of the daemon at 40k events/s that was 16% of its busy time, more
// than JSON.parse. These cells create the series once through the public API, then update the
// series' own value object directly, so counting an event is one addition.
//
// They rely on prom-client keeping each series as a long-lived object in `hashMap` (true for
// Counter and Histogram in 15.x; package.json pins ^15). A series removed with `remove()` leaves
// its cell orphaned, so whoever removes series must drop their cells too (BrokerMetrics.forgetWorker
// drops the BoundedChildren cache). The exposition reads counters through prom-client's get() and
// histograms straight from the same series objects (http/exposition.ts); the exposition tests hold
// both to prom-client's own layout.

export interface CounterCell {
  inc(value?: number): void;
}

export interface HistogramCell {
  observe(value: number): void;
}

interface CounterEntry {
  value: number;
  labels: Record<string, string | number>;
}

interface HistogramEntry {
  labels: Record<string, string | number>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

interface WithHashMap<E> {
  hashMap: Record<string, E>;
  sortedLabelNames?: string[];
  upperBounds?: number[];
  /** With exemplars on, prom-client's inc()/observe() take one object argument instead. */
  enableExemplars?: boolean;
}

/**
 * The series object prom-client keeps for these labels, found by the key it files it under
 * (util.js hashObject: `name:value,` for each label in sorted order) so finding it stays O(1)
 * with thousands of series; undefined if prom-client files it differently.
 */
function findEntry<E extends { labels: Record<string, string | number> }>(internals: WithHashMap<E>, labels: Record<string, string>): E | undefined {
  const names = internals.sortedLabelNames ?? Object.keys(labels).sort();
  let hash = '';
  for (const name of names) {
    const value = labels[name];
    if (value !== undefined) hash += `${name}:${value},`;
  }
  const entry = internals.hashMap[hash];
  if (entry === undefined) return undefined;
  for (const name of names) if (entry.labels[name] !== labels[name]) return undefined;
  return entry;
}

/**
 * A counter series whose inc() is one addition; `labels` must name every label of the family.
 * The series is created by the first inc(), as with prom-client's own children (no zero series).
 */
export function counterCell(counter: Counter<string>, labels: Record<string, string>): CounterCell {
  return new FastCounter(counter, labels);
}

/** A histogram series whose observe() is a bucket search and three additions, created lazily too. */
export function histogramCell(histogram: Histogram<string>, labels: Record<string, string>): HistogramCell {
  return new FastHistogram(histogram, labels);
}

// Classes rather than an object literal with a closure per cell: a call site such as
// `children.succeeded.inc()` then sees one class and one method, which the optimiser inlines,
// where a closure per cell made every call site megamorphic (~3 % of bench/inproc.ts samples
// went to calling inc()).
class FastCounter implements CounterCell {
  private entry: CounterEntry | undefined = undefined;
  private slow = false;

  constructor(
    private readonly counter: Counter<string>,
    private readonly labels: Record<string, string>,
  ) {}

  inc(value = 1): void {
    const entry = this.entry;
    if (entry !== undefined) entry.value += value;
    else this.first(value);
  }

  private first(value: number): void {
    const internals = this.counter as unknown as WithHashMap<CounterEntry>;
    if (internals.enableExemplars === true) this.counter.inc({ labels: this.labels, value } as never);
    else this.counter.inc(this.labels, value);
    // Not the internals this was written for: stay on prom-client's path.
    if (!this.slow) this.entry = findEntry(internals, this.labels);
    this.slow = this.entry === undefined;
  }
}

class FastHistogram implements HistogramCell {
  private entry: HistogramEntry | undefined = undefined;
  private slow = false;
  private bounds: number[] = [];
  // The property name of each bucket in `bucketValues`, made once: indexing that object with the
  // bound itself converted the number to a string on every observation (5x slower in isolation).
  private keys: string[] = [];

  constructor(
    private readonly histogram: Histogram<string>,
    private readonly labels: Record<string, string>,
  ) {}

  observe(value: number): void {
    const entry = this.entry;
    if (entry === undefined) return this.first(value);
    if (!Number.isFinite(value)) return;
    // Buckets are not cumulative inside prom-client: the value lands in the first bound >= it.
    const bounds = this.bounds;
    const last = bounds.length;
    let i = 0;
    while (i < last && value > bounds[i]!) i++;
    if (i < last) entry.bucketValues[this.keys[i]!]! += 1;
    entry.sum += value;
    entry.count += 1;
  }

  private first(value: number): void {
    if (!Number.isFinite(value)) return;
    const internals = this.histogram as unknown as WithHashMap<HistogramEntry>;
    if (internals.enableExemplars === true) this.histogram.observe({ labels: this.labels, value } as never);
    else this.histogram.observe(this.labels, value);
    if (this.slow) return;
    const found = findEntry(internals, this.labels);
    const bounds = internals.upperBounds ?? [];
    if (found === undefined || bounds.length === 0 || bounds.some((b) => !(b in found.bucketValues))) {
      this.slow = true;
      return;
    }
    this.entry = found;
    this.bounds = bounds;
    this.keys = bounds.map(String);
  }
}
