import type { Exemplar } from './exemplar.js';
import { exemplarOf } from './exemplar.js';
import { Family, Series } from './family.js';
import type { FamilyConfig, LabelValues, PublicMetric } from './family.js';

export interface HistogramConfig extends FamilyConfig {
  /** Upper bounds, ascending; +Inf is implied. */
  readonly buckets: readonly number[];
}

/** One histogram series: per-bucket (not cumulative) counts, sum and count. */
export class HistogramSeries extends Series {
  sum = 0;
  count = 0;
  /** counts[i]: observations in (bounds[i-1], bounds[i]]; those above every bound are only in `count`. */
  readonly counts: number[];
  /** The latest exemplar per bucket, the last one for +Inf; made on the first exemplar. */
  exemplars: (Exemplar | undefined)[] | undefined = undefined;

  constructor(labels: LabelValues, buckets: number) {
    super(labels);
    this.counts = new Array<number>(buckets).fill(0);
  }
}

const UNATTACHED = new HistogramSeries({}, 0);
UNATTACHED.live = false;

/**
 * A histogram family owned by celery-pulse (see CounterFamily): fixed bounds, and a cell whose
 * observe() is a bucket search and three additions.
 */
export class HistogramFamily extends Family<HistogramSeries> {
  readonly type = 'histogram';
  readonly bounds: readonly number[];

  constructor(config: HistogramConfig) {
    super(config);
    if (this.labelNames.includes('le')) throw new TypeError(`${this.name}: le is a reserved label name`);
    const b = config.buckets;
    if (b.length === 0 || b.some((v, i) => !Number.isFinite(v) || (i > 0 && v <= b[i - 1]!))) throw new TypeError(`${this.name}: buckets must be finite and ascending`);
    this.bounds = Object.freeze([...b]);
    if (this.labelNames.length === 0) this.attach({});
  }

  /** A handle on the series of these labels (checked now, kept by reference); the series appears on its first observe(). */
  cell(labels: LabelValues): HistogramCell {
    this.check(labels);
    return new HistogramCell(this, labels);
  }

  protected newSeries(labels: LabelValues): HistogramSeries {
    return new HistogramSeries(labels, this.bounds.length);
  }

  override reset(): void {
    super.reset();
    if (this.labelNames.length === 0) this.attach({});
  }

  /** prom-client's public shape: cumulative buckets (`le` first), then _sum and _count, per series. */
  async get(): Promise<PublicMetric> {
    const bucket = `${this.name}_bucket`;
    const values: PublicMetric['values'] = [];
    for (const s of this.seriesList()) {
      let acc = 0;
      this.bounds.forEach((le, i) => {
        acc += s.counts[i]!;
        values.push({ labels: { le, ...s.labels }, value: acc, metricName: bucket, exemplar: s.exemplars?.[i] ?? null });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket, exemplar: s.exemplars?.[this.bounds.length] ?? null });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` }, { labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

export class HistogramCell {
  private series: HistogramSeries = UNATTACHED;
  private readonly bounds: readonly number[];

  constructor(
    private readonly family: HistogramFamily,
    private readonly labels: LabelValues,
  ) {
    this.bounds = family.bounds;
  }

  /**
   * Counts `value` in the first bucket whose bound is >= it (and in sum and count); a value that
   * is not a finite number is ignored. With exemplar labels, they become that bucket's exemplar.
   */
  observe(value: number, exemplarLabels?: LabelValues): void {
    if (!Number.isFinite(value)) return;
    let s = this.series;
    if (!s.live) s = this.series = this.family.attach(this.labels);
    const bounds = this.bounds;
    const last = bounds.length;
    let i = 0;
    while (i < last && value > bounds[i]!) i++;
    if (i < last) s.counts[i]! += 1;
    s.sum += value;
    s.count += 1;
    if (exemplarLabels !== undefined) {
      const ex = exemplarOf(exemplarLabels, value);
      if (ex !== undefined) (s.exemplars ??= new Array<Exemplar | undefined>(last + 1).fill(undefined))[i] = ex;
    }
  }
}
