import { setImmediate as nextTurn } from 'node:timers/promises';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const OPENMETRICS_CONTENT_TYPE = 'application/openmetrics-text; version=1.0.0; charset=utf-8';

export type ExpositionFormat = 'prometheus' | 'openmetrics';

interface Exemplar {
  labelSet: Record<string, string | number>;
  value: number;
  timestamp?: number;
}

type Sample = MetricValue<string> & { metricName?: string; exemplar?: Exemplar | null };

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

/** A prom-client metric as listed by the registry (typed loosely: these are its internals too). */
interface PromMetric {
  name: string;
  type?: string;
  get(): Promise<MetricObjectWithValues<MetricValue<string>>>;
  collect?: () => unknown;
  hashMap?: Record<string, unknown>;
  upperBounds?: unknown;
  getForPromString?: unknown;
}

/** A histogram's series as prom-client keeps them: per-bucket (not cumulative) counts. */
interface HistogramEntry {
  labels: Record<string, string | number | undefined>;
  bucketValues: Record<number, number>;
  bucketExemplars?: Record<number | string, Exemplar | null | undefined>;
  sum: number;
  count: number;
}

interface Family {
  name: string;
  help: string;
  type: string;
  /** The samples prom-client's get() returned (counters and gauges: its live series objects). */
  values?: Sample[];
  /** Histograms: the live series, read one at a time as they are written. */
  histogram?: { bounds: number[]; entries: HistogramEntry[] };
}

/**
 * Serializes a registry in either exposition format from the same metric objects.
 *
 * prom-client's own Registry.metrics() renames counters in place (`x_total` -> `x`) when it
 * writes OpenMetrics, which breaks the Prometheus text of the same metrics, and it can only write
 * one format per registry. Writing both here keeps one set of metrics and lets the scraper choose.
 *
 * Every family is collected first (its collect() callbacks run in one turn of the event loop, so
 * queue-depth families share one round of broker queries), then the text is written in time
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
  let metrics = registry.getMetricsAsArray() as PromMetric[];
  if (names !== undefined) metrics = metrics.filter((m) => mayHave(m.name, names));
  const families = await Promise.all(metrics.map(snapshot));
  const slicer = new Slicer(options.sliceMs ?? SLICE_MS, options.signal);
  const om = format === 'openmetrics';
  const chunks: string[] = [];
  for (const family of families) {
    const counter = family.type === 'counter';
    const familyName = rename(om && counter ? family.name.replace(/_total$/, '') : family.name);
    const lines: string[] = [`# HELP ${familyName} ${escapeHelp(family.help, om)}`, `# TYPE ${familyName} ${family.type}`];
    if (family.histogram !== undefined) {
      await writeHistogram(family.name, family.histogram, om, names, lines, slicer, rename, extra);
    } else {
      for (const raw of family.values ?? []) {
        let name = raw.metricName ?? family.name;
        if (om && counter && !name.endsWith('_total')) name = `${name}_total`;
        if (names === undefined || names.has(name)) lines.push(sampleLine(rename(name), raw.labels, raw.value, om ? raw.exemplar : undefined, extra));
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
 * Runs the family's collect() and takes its series. Histograms are not expanded through get()
 * (which builds every bucket of every series at once, the bulk of a scrape's work): their series
 * are read while writing, in slices. Anything else, or a histogram whose internals are not those
 * of prom-client 15, goes through get().
 */
async function snapshot(metric: PromMetric): Promise<Family> {
  if (metric.type === 'histogram' && typeof metric.getForPromString === 'function' && Array.isArray(metric.upperBounds)) {
    if (typeof metric.collect === 'function') {
      const v = metric.collect();
      if (v instanceof Promise) await v;
    }
    const { hashMap, upperBounds } = metric as unknown as { hashMap: unknown; upperBounds: number[] };
    if (typeof hashMap === 'object' && hashMap !== null) {
      const entries = Object.values(hashMap) as HistogramEntry[];
      const got = metric as unknown as { help: string };
      return { name: metric.name, help: got.help, type: 'histogram', histogram: { bounds: upperBounds, entries } };
    }
  }
  return (await metric.get()) as unknown as Family;
}

/**
 * Writes a histogram's series exactly as prom-client's get() lays them out (`le` first, then the
 * series' labels; cumulative buckets, +Inf, _sum, _count), each series in one go.
 */
async function writeHistogram(
  family: string,
  h: NonNullable<Family['histogram']>,
  om: boolean,
  names: ReadonlySet<string> | undefined,
  lines: string[],
  slicer: Slicer,
  rename: (name: string) => string,
  extra: string,
): Promise<void> {
  let wantBuckets = names === undefined || names.has(`${family}_bucket`);
  let wantSum = names === undefined || names.has(`${family}_sum`);
  let wantCount = names === undefined || names.has(`${family}_count`);
  if (!wantBuckets && !wantSum && !wantCount) return;
  // An OpenMetrics histogram without its buckets (the +Inf one above all) is invalid: asked for
  // any of its samples, it is written whole.
  if (om) wantBuckets = wantSum = wantCount = true;
  const name = rename(family);
  const bucket = `${name}_bucket`;
  const sumName = `${name}_sum`;
  const countName = `${name}_count`;
  for (const entry of h.entries) {
    const own = joinPairs(labelPairs(entry.labels), extra);
    const rest = own === '' ? '' : `,${own}`;
    const exemplars = om ? entry.bucketExemplars : undefined;
    if (wantBuckets) {
      let acc = 0;
      for (const bound of h.bounds) {
        acc += entry.bucketValues[bound]!;
        lines.push(exemplarSuffix(`${bucket}{le="${escapeLabel(String(bound))}"${rest}} ${formatValue(acc)}`, exemplars?.[bound]));
      }
      lines.push(exemplarSuffix(`${bucket}{le="+Inf"${rest}} ${formatValue(entry.count)}`, exemplars?.['-1']));
    }
    const labels = own === '' ? '' : `{${own}}`;
    if (wantSum) lines.push(`${sumName}${labels} ${formatValue(entry.sum)}`);
    if (wantCount) lines.push(`${countName}${labels} ${formatValue(entry.count)}`);
    if (slicer.tick()) await slicer.pause();
  }
}

function sampleLine(name: string, labels: Record<string, string | number | undefined> | undefined, value: number, exemplar: Exemplar | null | undefined, extra: string): string {
  const pairs = joinPairs(labelPairs(labels), extra);
  return exemplarSuffix(`${name}${pairs === '' ? '' : `{${pairs}}`} ${formatValue(value)}`, exemplar);
}

function joinPairs(own: string, extra: string): string {
  return extra === '' ? own : own === '' ? extra : `${own},${extra}`;
}

function exemplarSuffix(line: string, ex: Exemplar | null | undefined): string {
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

function labelPairs(labels: Record<string, string | number | undefined> | undefined): string {
  if (labels === undefined) return '';
  let out = '';
  for (const key in labels) {
    const v = labels[key];
    if (v === undefined) continue;
    out += `${out === '' ? '' : ','}${key}="${escapeLabel(String(v))}"`;
  }
  return out;
}

function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
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
