import type { Collector } from '../metrics/collector.js';
import type { Finding } from './findings.js';
import type { BrokerDetectors, DetectorLabelGuards } from './index.js';
import { outputContext } from './output.js';
import type { DetectorMetricsOptions, FindingKind, MetricsHost, WatchedDetectors } from './output.js';
import { DETECTOR_OUTPUTS } from './outputs.js';

type Recorder = (broker: string, finding: Finding) => void;

/**
 * The Prometheus side of the silent-failure detectors, on the same registry as CeleryMetrics:
 * each detector module defines its own families (outputs.ts lists them). Findings become counter
 * and histogram observations as they happen; everything read from the state (running, stalled,
 * prefetched, periodic times, gaps, events-off) is set by the detector's collector when a scrape
 * starts, so per-worker series vanish with the worker when the registry forgets it.
 */
export class DetectorMetrics {
  /** One per detector that reads the state at scrape time, for main.ts to register. */
  readonly collectors: readonly Collector[];
  /** Shared by every broker's detectors, as CeleryMetrics' guards are: the cap is per family, not per broker. */
  readonly labelGuards: DetectorLabelGuards;
  private readonly brokers: WatchedDetectors<BrokerDetectors>[] = [];
  /** Who counts each finding kind, decided at construction rather than switched on per finding. */
  private readonly recorders = new Map<FindingKind, Recorder>();

  constructor(host: MetricsHost, options: DetectorMetricsOptions) {
    const ctx = outputContext(host, options, this.brokers);
    const collectors: Collector[] = [];
    for (const output of DETECTOR_OUTPUTS) {
      for (const [kind, record] of Object.entries(output.define?.(ctx) ?? {})) this.recorders.set(kind as FindingKind, record as Recorder);
      if (output.collector !== undefined) collectors.push(output.collector(ctx));
    }
    this.collectors = collectors;
    this.labelGuards = { running: host.labelGuard(['name', 'queue_name']), periodic: host.labelGuard(['name']) };
  }

  watch(broker: WatchedDetectors<BrokerDetectors>): void {
    this.brokers.push(broker);
  }

  /** Counts one finding of `broker`'s detectors (some kinds are log lines only). */
  record(broker: string, finding: Finding): void {
    this.recorders.get(finding.kind)?.(broker, finding);
  }
}
