import type { Finding } from './findings.js';
import type { BrokerDetectors } from './index.js';
import { outputContext } from './output.js';
import type { DetectorMetricsOptions, FindingKind, MetricsHost, WatchedDetectors } from './output.js';
import { DETECTOR_OUTPUTS } from './outputs.js';

type Recorder = (broker: string, finding: Finding) => void;

/**
 * The Prometheus side of the silent-failure detectors, on the same registry as CeleryMetrics:
 * each detector module defines its own families (outputs.ts lists them). Findings become counter
 * and histogram observations as they happen; everything read from the state (running, stalled,
 * prefetched, periodic times, gaps, events-off) is computed at scrape time, so per-worker series
 * vanish with the worker when the registry forgets it.
 */
export class DetectorMetrics {
  private readonly brokers: WatchedDetectors<BrokerDetectors>[] = [];
  /** Who counts each finding kind, decided at construction rather than switched on per finding. */
  private readonly recorders = new Map<FindingKind, Recorder>();

  constructor(host: MetricsHost, options: DetectorMetricsOptions) {
    const ctx = outputContext(host, options, this.brokers);
    for (const output of DETECTOR_OUTPUTS) {
      for (const [kind, record] of Object.entries(output.define(ctx))) this.recorders.set(kind as FindingKind, record as Recorder);
    }
  }

  watch(broker: WatchedDetectors<BrokerDetectors>): void {
    this.brokers.push(broker);
  }

  /** Counts one finding of `broker`'s detectors (some kinds are log lines only). */
  record(broker: string, finding: Finding): void {
    this.recorders.get(finding.kind)?.(broker, finding);
  }
}
