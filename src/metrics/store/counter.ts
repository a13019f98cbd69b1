import type { Exemplar } from './exemplar.js';
import { exemplarOf } from './exemplar.js';
import { Family } from './family.js';
import type { FamilyConfig, LabelValues, PublicMetric, SeriesLabels } from './family.js';

/** One counter series: its value and, when observations carry one, the latest exemplar. */
export class CounterSeries implements SeriesLabels {
  live = true;
  value = 0;
  exemplar: Exemplar | undefined = undefined;

  constructor(
    readonly labels: LabelValues,
    readonly pairs: string,
  ) {}
}

/** The series of a cell that has not counted yet (or whose series was removed): never written. */
const UNATTACHED = new CounterSeries({}, '');
UNATTACHED.live = false;

/**
 * A counter family owned by celery-pulse rather than prom-client: `cell(labels)` validates and
 * orders the labels once, and the cell's inc() is then one addition (prom-client's labels()
 * children hash and validate their labels on every inc(), 16 % of a busy daemon's CPU).
 * Registered in a prom-client Registry like any metric; http/exposition.ts writes it directly.
 */
export class CounterFamily extends Family<CounterSeries> {
  readonly type = 'counter';

  constructor(config: FamilyConfig) {
    super(config);
    // A family without labels has its one series from the start, as prom-client's has.
    if (this.labelNames.length === 0) this.cell({}).inc(0);
  }

  /** A handle on the series of these labels; the series appears on its first inc() (inc(0) makes it at 0). */
  cell(labels: LabelValues): CounterCell {
    const l = this.ordered(labels);
    return new CounterCell(this, l, this.keyOf(l));
  }

  /** @internal The live series for a cell: found, or created now. */
  attach(l: SeriesLabels, key: string): CounterSeries {
    return this.seriesFor(key, () => new CounterSeries(l.labels, l.pairs));
  }

  override reset(): void {
    super.reset();
    if (this.labelNames.length === 0) this.cell({}).inc(0);
  }

  /** prom-client's public shape (Registry.metrics(), getMetricsAsJSON()). */
  async get(): Promise<PublicMetric> {
    const values = this.seriesList().map((s) => (s.exemplar === undefined ? { value: s.value, labels: { ...s.labels } } : { value: s.value, labels: { ...s.labels }, exemplar: s.exemplar }));
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }
}

// A class rather than an object literal with a closure per cell: a call site such as
// `children.succeeded.inc()` then sees one class and one method, which the optimiser inlines,
// where a closure per cell made every call site megamorphic (~3 % of bench/inproc.ts samples).
export class CounterCell {
  private series: CounterSeries = UNATTACHED;

  constructor(
    private readonly family: CounterFamily,
    private readonly l: SeriesLabels,
    private readonly key: string,
  ) {}

  /**
   * Adds `value` (1 by default; counters only go up, and callers pass 1 or 0). With exemplar
   * labels, the series keeps them as its latest exemplar (value, clock), as prom-client does.
   */
  inc(value = 1, exemplarLabels?: LabelValues): void {
    let s = this.series;
    if (!s.live) s = this.series = this.family.attach(this.l, this.key);
    s.value += value;
    if (exemplarLabels !== undefined) s.exemplar = exemplarOf(exemplarLabels, value === 0 ? 1 : value) ?? s.exemplar;
  }
}
