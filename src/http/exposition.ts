import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { CounterFamily } from '../metrics/store/counter.js';
import type { CounterSeries } from '../metrics/store/counter.js';
import type { Exemplar } from '../metrics/store/exemplar.js';
import { HistogramFamily } from '../metrics/store/histogram.js';
import type { HistogramSeries } from '../metrics/store/histogram.js';
import { escapeLabelValue, labelPairs } from '../metrics/store/label-text.js';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

/** An exemplar as prom-client's get() hands it (its value may be unset). */
interface SampleExemplar {
  labelSet: Readonly<Record<string, string | number>>;
  value: number | null;
  timestamp?: number;
}

type Sample = MetricValue<string> & { metricName?: string; exemplar?: SampleExemplar | null };

/** The part of a prom-client Registry used here; its typings hide `get()` on listed metrics. */
export interface MetricSource {
  getMetricsAsArray(): unknown[];
}

export interface SerializeOptions {
  /**
   * Only samples written under one of these names, as `/metrics?name[]=…` asks (the semantics of
   * Python prometheus_client's restricted_registry): a counter's samples are `x_total`, a
   * histogram's `x_bucket`, `x_sum` and `x_count`. Families left without samples are left out,
   * and only the families that can have a listed sample are collected. Undefined: everything.
   */
  readonly names?: ReadonlySet<string> | undefined;
  /**
   * Longest stretch, in ms, the serializer runs before it lets the event loop turn (broker frames
   * are read between stretches). Default SLICE_MS; Infinity writes everything in one go.
   */
  readonly sliceMs?: number | undefined;
  /** Stops the work (rejects with the signal's reason) when the client has gone away. */
  readonly signal?: AbortSignal | undefined;
  /** --metric-prefix and --static-label, applied to every family as it is written. */
  readonly relabel?: Relabel | undefined;
}

/**
 * celery-exporter's --metric-prefix (replaces the leading `celery_` of a family name) and
 * --static-label (a fixed label on every series), done once here for every family rather than by
 * each module that defines one.
 */
export interface Relabel {
  readonly metricPrefix: string;
  readonly staticLabels: Readonly<Record<string, string>>;
}

const OWN_PREFIX = 'celery_';

function renamer(relabel: Relabel | undefined): (name: string) => string {
  const prefix = relabel?.metricPrefix ?? OWN_PREFIX;
  if (prefix === OWN_PREFIX) return (name) => name;
  return (name) => (name.startsWith(OWN_PREFIX) ? prefix + name.slice(OWN_PREFIX.length) : name);
}

/** `name[]` values as served (prefixed) back to the registry's own names. */
export function unprefixed(names: ReadonlySet<string>, relabel: Relabel | undefined): ReadonlySet<string> {
  const prefix = relabel?.metricPrefix ?? OWN_PREFIX;
  if (prefix === OWN_PREFIX) return names;
  // A family without celery_ (process_*, nodejs_*) is served under its own name; a celery_ name
  // not under the prefix is not served at all.
  return new Set([...names].map((n) => (n.startsWith(prefix) ? OWN_PREFIX + n.slice(prefix.length) : n.startsWith(OWN_PREFIX) ? `\u0000${n}` : n)));
}

/** The default time slice: 10k series take ~10 of them, each short next to a broker frame's budget. */
export const SLICE_MS = 4;

/** Samples written between two looks at the clock. */
const CHECK_EVERY = 64;

/** A metric as the registry lists it: prom-client's public surface (name, type, get()). */
interface ListedMetric {
  name: string;
  type?: string;
  get(): Promise<MetricObjectWithValues<MetricValue<string>>>;
}

/** One family to write: our own store's (written from its series) or any other (from its get()). */
type Family =
  | { readonly kind: 'store-counter'; readonly family: CounterFamily; readonly series: CounterSeries[] }
  | { readonly kind: 'store-histogram'; readonly family: HistogramFamily; readonly series: HistogramSeries[] }
  | { readonly kind: 'public'; readonly name: string; readonly help: string; readonly type: string; readonly values: Sample[] };

/**
 * Serializes a registry in either exposition format from the same metric objects.
 *
 * prom-client's own Registry.metrics() renames counters in place (`x_total` -> `x`) when it
 * writes OpenMetrics, which breaks the Prometheus text of the same metrics, and it can only write
 * one format per registry. Writing both here keeps one set of metrics and lets the scraper choose.
 *
 * The scrape-time families were brought up to date before this is called (metrics/collector.ts,
 * run by the HTTP layer); every family's series are taken first, then the text is written in time
 * slices with a turn of the event loop between them, so that a scrape of 10k series never holds
 * up broker I/O for more than a slice. Consistency is what Prometheus' own clients give: counters
 * that keep counting may move between slices, so two series of one scrape can be a few
 * milliseconds apart; a sample line, and a histogram series (its buckets, sum and count, read in
 * one go), is never torn. Concurrent scrapes share one rendering (shared-render.ts).
 */
export async function serialize(registry: MetricSource, format: ExpositionFormat, options: SerializeOptions = {}): Promise<string> {
  const names = options.names === undefined ? undefined : unprefixed(options.names, options.relabel);
  const rename = renamer(options.relabel);
  const extra = labelPairs(options.relabel?.staticLabels);
  let metrics = registry.getMetricsAsArray() as ListedMetric[];
  if (names !== undefined) metrics = metrics.filter((m) => mayHave(m.name, names));
  const families = await Promise.all(metrics.map(snapshot));
  const slicer = new Slicer(options.sliceMs ?? SLICE_MS, options.signal);
  const om = format === 'openmetrics';
  const chunks: string[] = [];
  const out: Output = { om, names, slicer, rename, extra, lines: [] };
  for (const f of families) {
    const name = f.kind === 'public' ? f.name : f.family.name;
    const type = f.kind === 'public' ? f.type : f.family.type;
    const counter = type === 'counter';
    const familyName = rename(om && counter ? name.replace(/_total$/, '') : name);
    const help = f.kind === 'public' ? f.help : f.family.help;
    const lines: string[] = [`# HELP ${familyName} ${escapeHelp(help, om)}`, `# TYPE ${familyName} ${type}`];
    out.lines = lines;
    if (f.kind === 'store-histogram') {
      await writeHistogram(f.family, f.series, out);
    } else if (f.kind === 'store-counter') {
      await writeCounter(f.family.name, f.series, out);
    } else {
      // As for our own histograms (writeHistogram): an OpenMetrics histogram is written whole.
      const whole = names === undefined || (om && type === 'histogram' && (names.has(`${name}_bucket`) || names.has(`${name}_sum`) || names.has(`${name}_count`)));
      for (const raw of f.values) {
        let sample = raw.metricName ?? name;
        if (om && counter && !sample.endsWith('_total')) sample = `${sample}_total`;
        if (whole || names.has(sample)) lines.push(sampleLine(rename(sample), raw.labels, raw.value, om ? raw.exemplar : undefined, extra));
        if (slicer.tick()) await slicer.pause();
      }
    }
    // A restricted scrape leaves out families without a listed sample, as prometheus_client does.
    if (names === undefined || lines.length > 2) chunks.push(lines.join('\n'));
    if (slicer.tick()) await slicer.pause();
  }
  if (chunks.length === 0) return om ? '# EOF\n' : '';
  return om ? `${chunks.join('\n')}\n# EOF\n` : `${chunks.join('\n\n')}\n`;
}

/** Picks OpenMetrics when the scraper lists it in Accept (Prometheus does when it wants exemplars). */
export function negotiate(accept: string | undefined): ExpositionFormat {
  return accept !== undefined && accept.includes('application/openmetrics-text') ? 'openmetrics' : 'prometheus';
}

/**
 * The `name[]` parameters of a request's query string (`name%5B%5D` too), as a set; undefined when
 * there are none, then the whole registry is served. Empty values are ignored, as Python's
 * parse_qs drops them, so `?name[]=` alone serves everything too.
 */
export function requestedNames(url: string | undefined): Set<string> | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (url === undefined || q < 0) return undefined;
  const names = new URLSearchParams(url.slice(q + 1)).getAll('name[]').filter((n) => n !== '');
  return names.length > 0 ? new Set(names) : undefined;
}

/** Whether family `name` can write a sample under one of `names` (a superset; samples are checked one by one). */
export function mayHave(name: string, names: ReadonlySet<string>): boolean {
  return names.has(name) || names.has(`${name}_total`) || names.has(`${name}_bucket`) || names.has(`${name}_sum`) || names.has(`${name}_count`);
}

/**
 * Takes a family's series. The store's own families (metrics/store/) are written straight from
 * their series, read one at a time in slices: expanding 10k series into get()'s sample objects
 * first was the bulk of a scrape's work. Every other metric goes through prom-client's public
 * get() (which runs its collect()).
 */
async function snapshot(metric: ListedMetric): Promise<Family> {
  if (metric instanceof CounterFamily) return { kind: 'store-counter', family: metric, series: metric.seriesList() };
  if (metric instanceof HistogramFamily) return { kind: 'store-histogram', family: metric, series: metric.seriesList() };
  const got = await metric.get();
  return { kind: 'public', name: got.name, help: got.help, type: String(got.type), values: got.values as Sample[] };
}

/** What the writers of one scrape share: its format, its filter, its relabelling and the family being written. */
interface Output {
  readonly om: boolean;
  readonly names: ReadonlySet<string> | undefined;
  readonly slicer: Slicer;
  readonly rename: (name: string) => string;
  /** The static labels' `k="v"` pairs, appended to every series' own. */
  readonly extra: string;
  /** The lines of the family being written. */
  lines: string[];
}

/** A counter's series: `x_total` in both formats, the exemplar in OpenMetrics. */
async function writeCounter(family: string, series: readonly CounterSeries[], out: Output): Promise<void> {
  const { om, names, lines, slicer, rename, extra } = out;
  const sample = om && !family.endsWith('_total') ? `${family}_total` : family;
  if (names !== undefined && !names.has(sample)) return;
  const name = rename(sample);
  for (const s of series) {
    const pairs = joinPairs(s.labelText(), extra);
    const line = `${name}${pairs === '' ? '' : `{${pairs}}`} ${formatValue(s.value)}`;
    lines.push(om ? exemplarSuffix(line, s.exemplar) : line);
    if (slicer.tick()) await slicer.pause();
  }
}

/**
 * A histogram's series exactly as prom-client's get() lays them out (`le` first, then the
 * series' labels; cumulative buckets, +Inf, _sum, _count), each series in one go.
 */
async function writeHistogram(family: HistogramFamily, series: readonly HistogramSeries[], out: Output): Promise<void> {
  const { om, names, lines, slicer, rename, extra } = out;
  let wantBuckets = names === undefined || names.has(`${family.name}_bucket`);
  let wantSum = names === undefined || names.has(`${family.name}_sum`);
  let wantCount = names === undefined || names.has(`${family.name}_count`);
  if (!wantBuckets && !wantSum && !wantCount) return;
  // An OpenMetrics histogram without its buckets (the +Inf one above all) is invalid: asked for
  // any of its samples, it is written whole.
  if (om) wantBuckets = wantSum = wantCount = true;
  const name = rename(family.name);
  const bucket = `${name}_bucket`;
  const sumName = `${name}_sum`;
  const countName = `${name}_count`;
  // `name_bucket{le="0.5"` for each bound, made once per scrape rather than once per sample.
  const heads = family.bounds.map((b) => `${bucket}{le="${escapeLabelValue(String(b))}"`);
  const infHead = `${bucket}{le="+Inf"`;
  const inf = family.bounds.length;
  for (const s of series) {
    const own = joinPairs(s.labelText(), extra);
    const rest = own === '' ? '}' : `,${own}}`;
    const exemplars = om ? s.exemplars : undefined;
    if (wantBuckets) {
      let acc = 0;
      for (let i = 0; i < inf; i++) {
        acc += s.counts[i]!;
        const line = `${heads[i]!}${rest} ${formatValue(acc)}`;
        lines.push(exemplars === undefined ? line : exemplarSuffix(line, exemplars[i]));
      }
      const line = `${infHead}${rest} ${formatValue(s.count)}`;
      lines.push(exemplars === undefined ? line : exemplarSuffix(line, exemplars[inf]));
    }
    const labels = own === '' ? '' : `{${own}}`;
    if (wantSum) lines.push(`${sumName}${labels} ${formatValue(s.sum)}`);
    if (wantCount) lines.push(`${countName}${labels} ${formatValue(s.count)}`);
    if (slicer.tick()) await slicer.pause();
  }
}

function sampleLine(name: string, labels: Record<string, string | number | undefined> | undefined, value: number, exemplar: SampleExemplar | null | undefined, extra: string): string {
  const pairs = joinPairs(labelPairs(labels), extra);
  return exemplarSuffix(`${name}${pairs === '' ? '' : `{${pairs}}`} ${formatValue(value)}`, exemplar);
}

function joinPairs(own: string, extra: string): string {
  return extra === '' ? own : own === '' ? extra : `${own},${extra}`;
}

function exemplarSuffix(line: string, ex: Exemplar | SampleExemplar | null | undefined): string {
  if (ex === null || ex === undefined || ex.value === null || ex.value === undefined) return line;
  let out = `${line} # ${formatLabels(ex.labelSet) || '{}'} ${formatValue(ex.value)}`;
  if (ex.timestamp !== undefined) out += ` ${formatValue(ex.timestamp)}`;
  return out;
}

/** Counts samples and says, every CHECK_EVERY of them, whether the time slice is used up. */
class Slicer {
  private n = 0;
  private started = performance.now();
  private readonly sliceMs: number;
  private readonly signal: AbortSignal | undefined;

  constructor(sliceMs: number, signal: AbortSignal | undefined) {
    this.sliceMs = sliceMs;
    this.signal = signal;
  }

  tick(): boolean {
    if (++this.n < CHECK_EVERY) return false;
    this.n = 0;
    return performance.now() - this.started >= this.sliceMs;
  }

  /** Lets the event loop run its I/O callbacks (setImmediate runs after the poll phase). */
  async pause(): Promise<void> {
    await nextTurn();
    this.signal?.throwIfAborted();
    this.started = performance.now();
  }
}

function formatLabels(labels: Record<string, string | number | undefined> | undefined): string {
  const pairs = labelPairs(labels);
  return pairs === '' ? '' : `{${pairs}}`;
}

function escapeHelp(help: string, om: boolean): string {
  const s = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return om ? s.replace(/"/g, '\\"') : s;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
