import type { Exemplar } from './exemplar.js';
import { exemplarOf } from './exemplar.js';
import { Family, Series } from './family.js';
import type { FamilyConfig, LabelValues, PublicMetric } from './family.js';

/** One counter series: its value and, when observations carry one, the latest exemplar. */
export class CounterSeries extends Series {
  value = 0;
  exemplar: Exemplar | undefined = undefined;
}

/** The series of a cell that has not counted yet (or whose series was removed): never written. */
const UNATTACHED = new CounterSeries({});
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
    if (this.labelNames.length === 0) this.attach({});
  }

  /**
   * A handle on the series of these labels (checked now, kept by reference: do not change them
   * after); the series appears on its first inc(), inc(0) makes it at 0.
   */
  cell(labels: LabelValues): CounterCell {
    this.check(labels);
    return new CounterCell(this, labels);
  }

  protected newSeries(labels: LabelValues): CounterSeries {
    return new CounterSeries(labels);
  }

  override reset(): void {
    super.reset();
    if (this.labelNames.length === 0) this.attach({});
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
    private readonly labels: LabelValues,
  ) {}

  /**
   * Adds `value` (1 by default; counters only go up, and callers pass 1 or 0). With exemplar
   * labels, the series keeps them as its latest exemplar (value, clock), as prom-client does.
   */
  inc(value = 1, exemplarLabels?: LabelValues): void {
    let s = this.series;
    if (!s.live) s = this.series = this.family.attach(this.labels);
    s.value += value;
    if (exemplarLabels !== undefined) s.exemplar = exemplarOf(exemplarLabels, value === 0 ? 1 : value) ?? s.exemplar;
  }
}
