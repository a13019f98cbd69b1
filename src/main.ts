import type { Logger } from 'pino';
import { createEventSource, createQueueDepthSource } from './brokers/registry.js';
import type { EventSource } from './brokers/source.js';
import type { Config } from './config/config.js';
import { startHttpServer } from './http/server.js';
import type { HttpServer } from './http/server.js';
import { RateLimitedLog } from './log.js';
import { WorkerControl } from './control/worker-control.js';
import { WorkerInspection } from './control/worker-inspection.js';
import { TaskSeeding } from './control/task-seeding.js';
import { namingCollector } from './metrics/seeding-metrics.js';
import { inspectionCollector } from './metrics/inspection-metrics.js';
import { compileHostnamePatterns } from './filter/hostname-pattern.js';
import type { CeleryMetrics } from './metrics/celery-metrics.js';
import { Collectors } from './metrics/collector.js';
import { queueCollector } from './metrics/queue-metrics.js';
import type { QueueWatch } from './metrics/queue-metrics.js';
import { filterCollector } from './metrics/filter-metrics.js';
import { brokerCollector, processCollector, stateCollector } from './metrics/scrape-metrics.js';
import type { BrokerStatus } from './metrics/metrics-options.js';
import { createBrokerPipeline, createMetrics } from './pipeline.js';
import type { BrokerPipeline } from './pipeline.js';

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
  const { metrics, detectorMetrics } = createMetrics(config, version);
  // The OpenTelemetry SDK and exporter are loaded only with --traces: a few MB of RSS otherwise.
  const traces = config.traces.enabled
    ? (await import('./traces/trace-sink.js')).startTraceSink({ config: config.traces, registry: metrics.registry, logger, version, maxOpen: config.maxTrackedTasks })
    : undefined;
  const sources: (BrokerPipeline & { name: string; source: EventSource; control: WorkerControl; inspection: WorkerInspection; seeding: TaskSeeding })[] = [];
  const queueWatches: QueueWatch[] = [];
  const statuses: BrokerStatus[] = [];

  const pipelineSinks = { metrics, detectorMetrics, traces, logger, badInput: new RateLimitedLog(logger), findingLog: new RateLimitedLog(logger) };
  const onlyWorkers = config.onlyWorkers.length > 0 ? compileHostnamePatterns(config.onlyWorkers) : undefined;
  for (const broker of config.brokers) {
    const pipeline = createBrokerPipeline(config, broker, pipelineSinks);
    const { decoder, state, detectors, queues } = pipeline;
    const source = createEventSource(broker, config, {
      decoder,
      logger,
      status: {
        up: () => {
          const now = Date.now() / 1000;
          detectors.gaps.up(now);
          state.streamUp(now);
          control.connected();
          // Seeding first: on Redis the replies of both share one connection, and held events wait for it.
          seeding.connected();
          inspection.connected();
        },
        down: () => {
          const now = Date.now() / 1000;
          detectors.gaps.down(now);
          state.streamDown(now);
        },
      },
    });
    const control = new WorkerControl(source, broker.name, { enableEvents: config.enableEvents, enableEventsInterval: config.enableEventsInterval }, logger);
    const inspection = new WorkerInspection(
      source,
      broker.name,
      {
        interval: config.inspectInterval,
        timeout: config.inspectTimeout,
        initialQueues: config.queues[broker.name] ?? [],
        onQueue: (q) => queues?.add(q),
        counts: onlyWorkers,
      },
      logger,
    );
    const seeding = new TaskSeeding(source, broker.name, state, { timeout: config.inspectTimeout, counts: onlyWorkers }, logger);
    detectorMetrics.watch({ name: broker.name, state, detectors });
    statuses.push({ name: broker.name, state, connected: () => source.connected, reconnects: () => source.reconnects });
    if (queues) queueWatches.push({ name: broker.name, queues, source: createQueueDepthSource(broker, config, logger) });
    sources.push({ ...pipeline, name: broker.name, source, control, inspection, seeding });
  }

  // Every family computed from memory or the brokers when a scrape starts, one collector per source.
  const { registry } = metrics;
  const brokerLabel = config.brokers.length > 1;
  const filterWatches = sources.flatMap((s) => (s.filter !== undefined ? [{ name: s.name, filter: s.filter }] : []));
  const collectors = new Collectors(registry, new RateLimitedLog(logger));
  collectors.register(
    stateCollector(registry, statuses, brokerLabel),
    brokerCollector(registry, statuses, brokerLabel),
    processCollector(registry, version),
    ...detectorMetrics.collectors,
    ...(filterWatches.length > 0 ? [filterCollector(registry, filterWatches, brokerLabel)] : []),
    inspectionCollector(registry, sources.map((s) => ({ name: s.name, perQueue: () => s.inspection.perQueue() })), brokerLabel),
    namingCollector(registry, sources, brokerLabel),
    ...(queueWatches.length > 0 ? [queueCollector(registry, queueWatches, { brokerLabel, timeoutMs: config.queueMetricsTimeout * 1000, logger })] : []),
    ...(traces !== undefined ? [traces.collector] : []),
  );

  const http = await startHttpServer({
    host: config.listen.host,
    port: config.listen.port,
    metricsPath: config.metricsPath,
    registry,
    collectors,
    notReady: () => sources.filter((s) => !s.source.connected).map((s) => s.name),
    relabel: { metricPrefix: config.metricPrefix, staticLabels: config.staticLabels },
    version,
    logger,
    webConfig: config.webConfig,
  });
  for (const s of sources) {
    logger.info({ broker: s.name, url: brokerDisplay(config, s.name) }, 'connecting to broker');
    s.source.start();
    s.control.start();
    s.inspection.start();
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
      for (const s of sources) {
        s.control.stop();
        s.inspection.stop();
        s.seeding.stop();
      }
      await Promise.all([...sources.map((s) => s.source.stop()), ...queueWatches.map((w) => w.source.close())]);
      await traces?.stop(TRACE_FLUSH_MS);
      await http.close();
    },
  };
}

function brokerDisplay(config: Config, name: string): string {
  return config.brokers.find((b) => b.name === name)?.url.display ?? name;
}
