import type { Logger } from 'pino';
import type { BrokerConfig, Config } from './config/config.js';
import type { RateLimitedLog } from './log.js';
import { messagingSystemOf } from './brokers/registry.js';
import { EventDecoder } from './protocol/decoder.js';
import { CeleryState } from './state/machine.js';
import { combineObservers } from './state/fan-out.js';
import { BrokerDetectors } from './detectors/index.js';
import { DetectorMetrics } from './detectors/detector-metrics.js';
import { logFinding } from './detectors/detector-log.js';
import { CeleryMetrics } from './metrics/celery-metrics.js';
import { overflowCounter } from './metrics/label-guard.js';
import type { BrokerMetrics } from './metrics/celery-metrics.js';
import type { TraceSink } from './traces/trace-sink.js';
import { QueueDiscovery } from './state/queue-discovery.js';
import { WorkerFilter } from './filter/worker-filter.js';

/** One broker's decode -> state -> sinks chain: everything between its frames and the registry. */
export interface BrokerPipeline {
  readonly decoder: EventDecoder;
  readonly state: CeleryState;
  readonly filter: WorkerFilter | undefined;
  readonly detectors: BrokerDetectors;
  readonly view: BrokerMetrics;
  readonly queues: QueueDiscovery | undefined;
}

export interface PipelineSinks {
  readonly metrics: CeleryMetrics;
  readonly detectorMetrics: DetectorMetrics;
  readonly traces: TraceSink | undefined;
  readonly logger: Logger;
  /** Shared rate limits: bad input and findings are logged at most so often whatever the broker. */
  readonly badInput: RateLimitedLog;
  readonly findingLog: RateLimitedLog;
}

/** The metric families every broker's pipeline feeds, as the config defines them. */
export function createMetrics(config: Config, version: string): Pick<PipelineSinks, 'metrics' | 'detectorMetrics'> {
  const brokerLabel = config.brokers.length > 1;
  const metrics = new CeleryMetrics({
    runtimeBuckets: config.runtimeBuckets,
    queueWaitBuckets: config.queueWaitBuckets,
    defaultQueueName: config.defaultQueueName,
    genericHostnameTaskSent: config.genericHostnameTaskSent,
    genericHostnameWorkerTask: config.genericHostnameWorkerTask,
    celeryExporterCompat: config.celeryExporterCompat,
    compatRuntimeBuckets: config.compatRuntimeBuckets,
    compatQueueWaitBuckets: config.compatQueueWaitBuckets,
    brokerLabel,
    version,
    maxLabelValues: config.maxLabelValues,
  });
  return { metrics, detectorMetrics: new DetectorMetrics(metrics, { brokerLabel, defaultQueueName: config.defaultQueueName }) };
}

/**
 * Builds one broker's pipeline. main.ts wires it to the broker connection; bench/inproc.ts feeds
 * it frames directly, so the in-process profile is the daemon's own code path.
 */
export function createBrokerPipeline(config: Config, broker: BrokerConfig, sinks: PipelineSinks): BrokerPipeline {
  const { metrics, detectorMetrics, logger } = sinks;
  const spans = sinks.traces?.forBroker(messagingSystemOf(broker));
  const view = metrics.forBroker(broker.name, spans);
  // Queues seen in task-sent events join those named with --queues (--no-queue-metrics: none).
  const queues = config.queueMetrics
    ? new QueueDiscovery(config.queues[broker.name] ?? [], (name) => logger.warn({ broker: broker.name, queue: name }, 'too many queues; new ones are not reported'))
    : undefined;
  const overflow = overflowCounter(metrics.labelOverflow, config.brokers.length > 1 ? { broker: broker.name } : {});
  const detectors = new BrokerDetectors({ stalled: config.stalled, expectedIntervals: config.expectTasks, maxNames: config.maxLabelValues, labelGuards: detectorMetrics.labelGuards, overflow }, (finding) => {
    detectorMetrics.record(broker.name, finding);
    logFinding(logger, sinks.findingLog, broker.name, finding);
  });
  // Spans last: the metrics read the attempt's span id for their exemplar before it is ended.
  const state = new CeleryState(combineObservers([view, detectors.observer, ...(queues ? [queues] : []), ...(spans ? [spans] : [])]), {
    maxTasks: config.maxTrackedTasks,
    unfinishedTtl: config.taskTtl,
    finishedTtl: config.finishedTaskTtl,
    pendingGrace: config.unknownTaskGrace,
    heartbeatTimeoutFactor: config.workerTimeoutHeartbeats,
    timeoutSeconds: config.workerTimeout,
    forgetAfter: config.workerForgetAfter,
    maxWorkers: config.maxLabelValues,
  });
  // Sidecar mode (--only-worker): only this pod's worker's events reach the state.
  const filter =
    config.onlyWorkers.length === 0
      ? undefined
      : new WorkerFilter({ patterns: config.onlyWorkers, maxHeldSent: config.maxTrackedTasks, heldSentTtl: config.taskTtl }, (e, now) => state.apply(e, now));
  const accept: { apply: CeleryState['apply'] } = filter ?? state;
  const decoder = new EventDecoder(
    {
      onEvent: (event) => {
        view.eventReceived(event.type);
        accept.apply(event, Date.now() / 1000);
      },
      onError: (reason, detail) => {
        view.decodeError(reason);
        sinks.badInput.warn(`${broker.name}:${reason}`, { broker: broker.name, reason, detail }, 'skipped a message that is not a valid Celery event');
      },
    },
    { maxFrameBytes: config.maxFrameBytes, skipMessage: filter === undefined ? undefined : (sender, routingKey) => filter.skipsMessage(sender, routingKey) },
  );
  return { decoder, state, filter, detectors, view, queues };
}
