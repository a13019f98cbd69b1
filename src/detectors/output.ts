import type { Logger } from 'pino';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { RateLimitedLog } from '../log.js';
import type { CeleryMetrics } from '../metrics/celery-metrics.js';
import type { CeleryState } from '../state/machine.js';
import { BoundedChildren, overflowCounter } from '../metrics/label-guard.js';
import { CollectorFamilies } from '../metrics/collector.js';
import type { Collector } from '../metrics/collector.js';
import type { Finding } from './findings.js';

// What each detector adds to /metrics and to the log, in the detector's own module (lost-tasks.ts,
// stalled-tasks.ts, ...), listed once in outputs.ts. The detector classes decide; these record:
// findings as they happen (define), readings of the state at scrape time (collector).

export interface DetectorMetricsOptions {
  /** Add a `broker` label to every series: true when more than one broker is watched (as in metrics/celery-metrics.ts). */
  readonly brokerLabel: boolean;
  readonly defaultQueueName: string;
}

/**
 * One broker as the detector metrics read it at scrape time. `D` is what a detector's families read
 * of the broker's detectors (index.ts BrokerDetectors has them all), so modules name only their own.
 */
export interface WatchedDetectors<D = unknown> {
  readonly name: string;
  readonly state: CeleryState;
  readonly detectors: D;
}

/** What the detector families share with CeleryMetrics: the registry and the label-value caps. */
export type MetricsHost = Pick<CeleryMetrics, 'registry' | 'labelGuard' | 'labelOverflow'>;

export type Labels = Record<string, string>;

/** Everything a detector's families are defined with. */
export interface OutputContext<D = unknown> {
  readonly host: MetricsHost;
  readonly options: DetectorMetricsOptions;
  /** The brokers watched, filled in after the families are defined (read by the collectors). */
  readonly brokers: readonly WatchedDetectors<D>[];
  readonly registers: Registry<OpenMetricsContentType>[];
  /** `broker` label names: empty with one broker. */
  readonly b: readonly string[];
  readonly withBroker: (s: { readonly name: string }, labels: Labels) => Labels;
  readonly queue: (q: string | undefined) => string;
  /** The builder of a scrape-time collector's families, on the shared registry. */
  readonly families: (collector: string) => CollectorFamilies;
}

export type FindingKind = Finding['kind'];
export type FindingOf<K extends FindingKind> = Extract<Finding, { readonly kind: K }>;

/** Counts findings of some kinds for one broker. */
export type FindingRecorders = { readonly [K in FindingKind]?: (broker: string, finding: FindingOf<K>) => void };

/** The log line of a finding a person should read. */
export type FindingLogLines = {
  readonly [K in FindingKind]?: (logger: Logger, limited: RateLimitedLog, broker: string, finding: FindingOf<K>) => void;
};

/**
 * One detector's output: the families that count its findings (and how), the families it reads
 * from the state at scrape time (its collector, named after the detector), its log lines.
 */
export interface DetectorOutput<D = unknown> {
  readonly define?: (ctx: OutputContext<D>) => FindingRecorders;
  readonly collector?: (ctx: OutputContext<D>) => Collector;
  readonly logLines?: FindingLogLines;
}

export function outputContext<D>(host: MetricsHost, options: DetectorMetricsOptions, brokers: readonly WatchedDetectors<D>[]): OutputContext<D> {
  return {
    host,
    options,
    brokers,
    registers: [host.registry],
    b: options.brokerLabel ? ['broker'] : [],
    withBroker: (s, labels) => (options.brokerLabel ? { ...labels, broker: s.name } : labels),
    queue: (q) => q ?? options.defaultQueueName,
    families: (collector) => new CollectorFamilies(collector, host.registry),
  };
}

/**
 * A family's children for one broker, made on the broker's first finding: label values from the
 * wire are capped by the same --max-label-values guard as the task counters, the overflow counted.
 */
export function boundedPerBroker<T>(
  { host, options }: Pick<OutputContext, 'host' | 'options'>,
  labelNames: readonly string[],
  cell: (values: readonly string[], extra: Labels) => T,
): (broker: string) => BoundedChildren<T> {
  const guard = host.labelGuard(labelNames);
  const made = new Map<string, BoundedChildren<T>>();
  return (broker) => {
    let c = made.get(broker);
    if (c === undefined) {
      const extra: Labels = options.brokerLabel ? { broker } : {};
      c = new BoundedChildren(guard, (values) => cell(values, extra), overflowCounter(host.labelOverflow, extra));
      made.set(broker, c);
    }
    return c;
  };
}
