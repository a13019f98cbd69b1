// Synthetic Celery events and a state wired to the detectors, for the detector unit tests.
import type { TaskEvent, WorkerEvent } from '../../src/protocol/events.js';
import { BrokerDetectors } from '../../src/detectors/index.js';
import type { Finding } from '../../src/detectors/findings.js';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';

export const STATE_OPTIONS: CeleryStateOptions = {
  maxTasks: 1000,
  unfinishedTtl: 3600,
  finishedTtl: 600,
  pendingGrace: 5,
  heartbeatTimeoutFactor: 3,
  forgetAfter: 3600,
};

export { taskEvent as task } from '../fixtures/events.js';

export function worker(type: WorkerEvent['type'], hostname: string, timestamp: number, extra: Partial<WorkerEvent> = {}): WorkerEvent {
  return { kind: 'worker', type, hostname, timestamp, freq: 1, active: 0, processed: 0, loadavg: undefined, swVer: undefined, ...extra };
}

export interface Harness {
  readonly state: CeleryState;
  readonly detectors: BrokerDetectors;
  readonly findings: Finding[];
  /** Applies each event at its own timestamp (the daemon clock equals the sender's here). */
  feed(...events: (TaskEvent | WorkerEvent)[]): void;
  of<K extends Finding['kind']>(kind: K): Extract<Finding, { kind: K }>[];
}

export function harness(options: Partial<CeleryStateOptions> = {}, detectorOptions: Partial<ConstructorParameters<typeof BrokerDetectors>[0]> = {}): Harness {
  const findings: Finding[] = [];
  const detectors = new BrokerDetectors(
    { stalled: { threshold: 60, perTask: {}, runtimeFactor: 10 }, expectedIntervals: {}, ...detectorOptions },
    (f) => findings.push(f),
  );
  const state = new CeleryState(detectors.observer, { ...STATE_OPTIONS, ...options });
  return {
    state,
    detectors,
    findings,
    feed: (...events) => events.forEach((e) => state.apply(e, e.timestamp)),
    of: (kind) => findings.filter((f) => f.kind === kind) as never,
  };
}
