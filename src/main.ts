import type { Logger } from 'pino';
import { createEventSource } from './brokers/index.js';
import type { EventSource } from './brokers/source.js';
import type { Config } from './config/config.js';
import { startHttpServer } from './http/server.js';
import type { HttpServer } from './http/server.js';
import { RateLimitedLog } from './log.js';
import { EventDecoder } from './protocol/decoder.js';
import { CeleryState } from './state/machine.js';
import { CeleryMetrics } from './sinks/metrics.js';

export interface Daemon {
  readonly http: HttpServer;
  readonly metrics: CeleryMetrics;
  stop(): Promise<void>;
}

const TICK_MS = 1000;

/** Wiring only: broker -> decoder -> state -> metrics, the HTTP server, and housekeeping. */
export async function startDaemon(config: Config, logger: Logger, version: string): Promise<Daemon> {
  const metrics = new CeleryMetrics({
    runtimeBuckets: config.runtimeBuckets,
    queueWaitBuckets: config.queueWaitBuckets,
    defaultQueueName: config.defaultQueueName,
    genericHostnameTaskSent: config.genericHostnameTaskSent,
    brokerLabel: config.brokers.length > 1,
    version,
  });
  const badInput = new RateLimitedLog(logger);
  const sources: { name: string; source: EventSource; state: CeleryState }[] = [];

  for (const broker of config.brokers) {
    const view = metrics.forBroker(broker.name);
    const state = new CeleryState(view, {
      maxTasks: config.maxTrackedTasks,
      unfinishedTtl: config.taskTtl,
      finishedTtl: config.finishedTaskTtl,
      pendingGrace: config.unknownTaskGrace,
      heartbeatTimeoutFactor: config.workerTimeoutHeartbeats,
      forgetAfter: config.workerForgetAfter,
    });
    const decoder = new EventDecoder(
      {
        onEvent: (event) => {
          view.eventReceived(event.type);
          state.apply(event, Date.now() / 1000);
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
        up: () => undefined,
        down: () => undefined,
      },
    });
    metrics.watchBroker({ name: broker.name, state, connected: () => source.connected, reconnects: () => source.reconnects });
    sources.push({ name: broker.name, source, state });
  }

  const http = await startHttpServer({
    host: config.listen.host,
    port: config.listen.port,
    metricsPath: config.metricsPath,
    registry: metrics.registry,
    notReady: () => sources.filter((s) => !s.source.connected).map((s) => s.name),
    version,
    logger,
  });
  for (const s of sources) {
    logger.info({ broker: s.name, url: brokerDisplay(config, s.name) }, 'connecting to broker');
    s.source.start();
  }
  const ticker = setInterval(() => {
    const now = Date.now() / 1000;
    for (const s of sources) s.state.tick(now);
  }, TICK_MS);
  ticker.unref();
  logger.info({ address: `http://${config.listen.host}:${http.port}${config.metricsPath}` }, 'serving metrics');

  return {
    http,
    metrics,
    async stop() {
      clearInterval(ticker);
      await Promise.all(sources.map((s) => s.source.stop()));
      await http.close();
    },
  };
}

function brokerDisplay(config: Config, name: string): string {
  return config.brokers.find((b) => b.name === name)?.url.display ?? name;
}
