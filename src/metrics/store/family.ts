import type { MetricValueWithName } from 'prom-client';
import type { Exemplar } from './exemplar.js';
import { labelPairs } from './label-text.js';

/**
 * A registry that lists metrics: prom-client's Registry (its public registerMetric() takes any
 * object with a name and get(); its typings ask for a prom-client Metric, which a family is in shape).
 */
export interface MetricRegistry {
  registerMetric(metric: never): void;
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** One sample as prom-client's get() gives it (histogram buckets carry `le` among their labels). */
export type PublicSample = MetricValueWithName<string> & { readonly exemplar?: Exemplar | null };

/** What a family's get() gives, in prom-client's public shape (Registry.metrics(), getMetricsAsJSON()). */
export interface PublicMetric {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'histogram';
  readonly values: PublicSample[];
  readonly aggregator: 'sum';
}

/** What every family of the store is defined with. */
export interface FamilyConfig {
  readonly name: string;
  readonly help: string;
  /** The order of a series' labels in the exposition. */
  readonly labelNames: readonly string[];
  /** Registries listing the family (in the order families are written, with prom-client's own). */
  readonly registers?: readonly MetricRegistry[] | undefined;
}

export type LabelValues = Readonly<Record<string, string>>;

/** What a series of any family has: its labels, in the family's order, and their text. */
export abstract class Series {
  /** False once removed (or before a cell's first update, for the placeholder cells start with). */
  live = true;
  private text: string | undefined = undefined;

  constructor(readonly labels: LabelValues) {}

  /**
   * `a="x",b="y"`, escaped: made at the series' first scrape and kept (~100 bytes a series),
   * so later scrapes write it as is.
   */
  labelText(): string {
    return (this.text ??= labelPairs(this.labels));
  }
}

/**
 * The series of one family, kept in the order they were created (which is the order they are
 * written in, as prom-client does), by a key of their label values. Cells find their series here
 * on their first update and again after it was removed, so removing a series never strands a cell.
 */
export abstract class Family<S extends Series> {
  /** Not readonly: prom-client's Registry.metrics() renames counters in place when it writes OpenMetrics. */
  name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  abstract readonly type: 'counter' | 'histogram';
  readonly aggregator = 'sum';
  private readonly series = new Map<string, S>();

  constructor(config: FamilyConfig) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = [...config.labelNames];
    if (!METRIC_NAME.test(this.name)) throw new TypeError(`invalid metric name "${this.name}"`);
    for (const l of this.labelNames) if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new TypeError(`${this.name}: invalid label name "${l}"`);
    for (const r of config.registers ?? []) r.registerMetric(this as never);
  }

  /** The live series, in creation order (a snapshot the serializer writes in slices). */
  seriesList(): S[] {
    return [...this.series.values()];
  }

  /** Removes the series of these labels; a cell of it starts a fresh series at its next update. */
  remove(labels: LabelValues): void {
    this.check(labels);
    const key = this.keyOf(labels);
    const s = this.series.get(key);
    if (s === undefined) return;
    s.live = false;
    this.series.delete(key);
  }

  /** Removes every series (prom-client's Registry.resetMetrics()). */
  reset(): void {
    for (const s of this.series.values()) s.live = false;
    this.series.clear();
  }

  /**
   * @internal The live series of these (checked) labels, created now if there is none: what a
   * cell calls on its first update, and after its series was removed.
   */
  attach(labels: LabelValues): S {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (s === undefined) {
      // The series keeps its own copy, in the family's order (the order they are written in).
      const ordered: Record<string, string> = {};
      for (const name of this.labelNames) ordered[name] = labels[name]!;
      s = this.newSeries(ordered);
      this.series.set(key, s);
    }
    return s;
  }

  protected abstract newSeries(labels: LabelValues): S;

  /** Checked once per cell, allocating nothing: every label of the family named, no other. */
  protected check(labels: LabelValues): void {
    let named = 0;
    for (const name of this.labelNames) {
      if (typeof labels[name] !== 'string') throw new TypeError(`${this.name}: label "${name}" has no value`);
      named++;
    }
    for (const name in labels) if (--named < 0 || !this.labelNames.includes(name)) throw new TypeError(`${this.name}: unknown label "${name}"`);
  }

  /** Unambiguous whatever the values hold: each is prefixed with its length. */
  private keyOf(labels: LabelValues): string {
    // join() makes one flat string; `+=` would leave a tree of concatenations (32 bytes a node)
    // alive as the map key, more than the series itself.
    return this.labelNames.map((name) => `${labels[name]!.length}:${labels[name]!}`).join('');
  }
}
