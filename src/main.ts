import type { Logger } from 'pino';
import { createEventSource } from './brokers/index.js';
import { createQueueDepthSource } from './brokers/queue-depth.js';
import type { EventSource } from './brokers/source.js';
import type { Config } from './config/config.js';
import { startHttpServer } from './http/server.js';
import type { HttpServer } from './http/server.js';
import { RateLimitedLog } from './log.js';
import { EventDecoder } from './protocol/decoder.js';
import { CeleryState } from './state/machine.js';
import { combineObservers } from './state/observer.js';
import { WorkerControl } from './control/worker-control.js';
import { BrokerDetectors } from './detectors/index.js';
import { DetectorMetrics } from './sinks/detector-metrics.js';
import { logFinding } from './sinks/detector-log.js';
import { CeleryMetrics } from './sinks/metrics.js';
import type { BrokerMetrics } from './sinks/metrics.js';
import { startTraceSink } from './sinks/trace-sink.js';
import { QueueDiscovery } from './sinks/queue-discovery.js';
import { defineQueueMetrics } from './sinks/queue-metrics.js';
import type { QueueWatch } from './sinks/queue-metrics.js';
import { WorkerFilter } from './filter/worker-filter.js';
import { defineFilterMetrics } from './sinks/filter-metrics.js';

export interface Daemon {
  readonly http: HttpServer;
  readonly metrics: CeleryMetrics;
  stop(): Promise<void>;
}

const TICK_MS = 1000;
// Part of cli.ts's 10 s shutdown budget: what the collector has not taken by then is given up.
const TRACE_FLUSH_MS = 5000;

/** Wiring only: broker -> decoder -> state -> metrics, the HTTP server, and housekeeping. */
export async function startDaemon(config: Config, logger: Logger, version: string): Promise<Daemon> {
  const metrics = new CeleryMetrics({
    runtimeBuckets: config.runtimeBuckets,
    queueWaitBuckets: config.queueWaitBuckets,
    defaultQueueName: config.defaultQueueName,
    genericHostnameTaskSent: config.genericHostnameTaskSent,
    celeryExporterCompat: config.celeryExporterCompat,
    brokerLabel: config.brokers.length > 1,
    version,
    maxLabelValues: config.maxLabelValues,
    exemplars: config.traces.enabled,
  });
  const traces = config.traces.enabled
    ? startTraceSink({ config: config.traces, registry: metrics.registry, logger, version, maxOpen: config.maxTrackedTasks })
    : undefined;
  const badInput = new RateLimitedLog(logger);
  const detectorMetrics = new DetectorMetrics(metrics.registry, { brokerLabel: config.brokers.length > 1, defaultQueueName: config.defaultQueueName });
  const findingLog = new RateLimitedLog(logger);
  const sources: { name: string; source: EventSource; state: CeleryState; filter: WorkerFilter | undefined; detectors: BrokerDetectors; control: WorkerControl; view: BrokerMetrics }[] = [];

  const queueWatches: QueueWatch[] = [];

  for (const broker of config.brokers) {
    const spans = traces?.forBroker(broker.url.kind);
    const view = metrics.forBroker(broker.name, spans);
    // Queues seen in task-sent events join those named with --queues (--no-queue-metrics: none).
    const queues = config.queueMetrics
      ? new QueueDiscovery(config.queues[broker.name] ?? [], (name) => logger.warn({ broker: broker.name, queue: name }, 'too many queues; new ones are not reported'))
      : undefined;
    const detectors = new BrokerDetectors({ stalled: config.stalled, expectedIntervals: config.expectTasks }, (finding) => {
      detectorMetrics.record(broker.name, finding);
      logFinding(logger, findingLog, broker.name, finding);
    });
    // Spans last: the metrics read the attempt's span id for their exemplar before it is ended.
    const state = new CeleryState(combineObservers([view, detectors.observer, ...(queues ? [queues] : []), ...(spans ? [spans] : [])]), {
      maxTasks: config.maxTrackedTasks,
      unfinishedTtl: config.taskTtl,
      finishedTtl: config.finishedTaskTtl,
      pendingGrace: config.unknownTaskGrace,
      heartbeatTimeoutFactor: config.workerTimeoutHeartbeats,
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
          badInput.warn(`${broker.name}:${reason}`, { broker: broker.name, reason, detail }, 'skipped a message that is not a valid Celery event');
        },
      },
      { maxFrameBytes: config.maxFrameBytes },
    );
    const source = createEventSource(broker, config, {
      decoder,
      logger,
      status: {
        up: () => {
          const now = Date.now() / 1000;
          detectors.gaps.up(now);
          state.streamUp(now);
          control.connected();
        },
        down: () => {
          const now = Date.now() / 1000;
          detectors.gaps.down(now);
          state.streamDown(now);
        },
      },
    });
    const control = new WorkerControl(source, broker.name, { enableEvents: config.enableEvents, enableEventsInterval: config.enableEventsInterval }, logger);
    detectorMetrics.watch({ name: broker.name, state, detectors });
    metrics.watchBroker({ name: broker.name, state, connected: () => source.connected, reconnects: () => source.reconnects });
    if (queues) queueWatches.push({ name: broker.name, queues, source: createQueueDepthSource(broker, config, logger) });
    sources.push({ name: broker.name, source, state, filter, detectors, control, view });
  }

  const filterWatches = sources.flatMap((s) => (s.filter !== undefined ? [{ name: s.name, filter: s.filter }] : []));
  if (filterWatches.length > 0) defineFilterMetrics(metrics.registry, filterWatches, config.brokers.length > 1);
  if (queueWatches.length > 0) {
    defineQueueMetrics(metrics.registry, queueWatches, { brokerLabel: config.brokers.length > 1, timeoutMs: config.queueMetricsTimeout * 1000, logger });
  }

  const http = await startHttpServer({
    host: config.listen.host,
    port: config.listen.port,
    metricsPath: config.metricsPath,
    registry: metrics.registry,
    notReady: () => sources.filter((s) => !s.source.connected).map((s) => s.name),
    version,
    logger,
    webConfig: config.webConfig,
  });
  for (const s of sources) {
    logger.info({ broker: s.name, url: brokerDisplay(config, s.name) }, 'connecting to broker');
    s.source.start();
    s.control.start();
  }
  const ticker = setInterval(() => {
    const now = Date.now() / 1000;
    for (const s of sources) {
      s.filter?.tick(now);
      const { forgottenWorkers } = s.state.tick(now);
      for (const hostname of forgottenWorkers) s.view.forgetWorker(hostname);
      s.detectors.tick(s.state);
    }
    traces?.sweep(now);
  }, TICK_MS);
  ticker.unref();
  const scheme = config.webConfig?.tls !== undefined ? 'https' : 'http';
  logger.info({ address: `${scheme}://${config.listen.host}:${http.port}${config.metricsPath}` }, 'serving metrics');

  return {
    http,
    metrics,
    async stop() {
      clearInterval(ticker);
      for (const s of sources) s.control.stop();
      await Promise.all([...sources.map((s) => s.source.stop()), ...queueWatches.map((w) => w.source.close())]);
      await traces?.stop(TRACE_FLUSH_MS);
      await http.close();
    },
  };
}

function brokerDisplay(config: Config, name: string): string {
  return config.brokers.find((b) => b.name === name)?.url.display ?? name;
}
