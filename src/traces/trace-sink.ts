import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import type { OpenMetricsContentType, Registry } from 'prom-client';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { redactSecrets } from '../brokers/url.js';
import { RateLimitedLog } from '../log.js';
import type { TraceConfig } from '../config/trace-settings.js';
import { createTracePipeline } from './trace-pipeline.js';
import type { SpanDropReason } from './trace-pipeline.js';
import { TaskTraces } from './task-traces.js';
import { CollectorFamilies } from '../metrics/collector.js';
import type { Collector } from '../metrics/collector.js';

export interface TraceSinkOptions {
  readonly config: TraceConfig;
  /** The registry its own metrics join (spans dropped, spans open). */
  readonly registry: Registry<OpenMetricsContentType>;
  readonly logger: Logger;
  readonly version: string;
  /** Most attempts open per broker: the task table's own bound (--max-tracked-tasks). */
  readonly maxOpen: number;
  readonly exporter?: SpanExporter;
}

export interface TraceSink {
  /** Sets celery_pulse_spans_open when a scrape starts (main.ts registers it). */
  readonly collector: Collector;
  /** The observer (and exemplar source) of one broker's transitions. */
  /** `system`: OpenTelemetry's messaging.system of the broker (its driver's `messagingSystem`). */
  forBroker(system: string): TaskTraces;
  /** Housekeeping, from the daemon's tick: ends attempts open past --traces-max-span-age. */
  sweep(now: number): void;
  /** Ends what is open, exports what is queued, within `timeoutMs`. */
  stop(timeoutMs: number): Promise<void>;
}

const DROP_REASONS: readonly SpanDropReason[] = ['queue_full', 'export_failed'];

/** Tracing, assembled: the OTLP pipeline, one TaskTraces per broker, and the metrics about them. */
export function startTraceSink(options: TraceSinkOptions): TraceSink {
  const { config, registry } = options;
  const brokers: TaskTraces[] = [];
  const dropped = new Counter({
    name: 'celery_pulse_spans_dropped_total',
    help: 'Finished spans that never reached the OTLP collector: queue_full (the export queue, OTEL_BSP_MAX_QUEUE_SIZE, was full) or export_failed.',
    labelNames: ['reason'],
    registers: [registry],
  });
  for (const reason of DROP_REASONS) dropped.labels({ reason }).inc(0);
  const families = new CollectorFamilies('traces', registry);
  const open = families.gauge({ name: 'celery_pulse_spans_open', help: 'Task attempts started whose process span waits for its outcome.' });
  const collector = families.collector(() => open.set(brokers.reduce((sum, b) => sum + b.openCount, 0)));
  const pipeline = createTracePipeline({
    config,
    version: options.version,
    onDrop: (reason, count) => dropped.labels({ reason }).inc(count),
    log: new RateLimitedLog(options.logger),
    exporter: options.exporter,
  });
  options.logger.info(
    { endpoint: config.tracesUrl !== undefined ? redactSecrets(config.tracesUrl) : 'from OTEL_EXPORTER_OTLP_* (default http://localhost:4318/v1/traces)', sampler: config.sampler.name, ratio: config.sampler.ratio },
    'exporting traces over OTLP/HTTP',
  );
  return {
    collector,
    forBroker(system) {
      const traces = new TaskTraces({
        tracer: pipeline.tracer,
        ids: pipeline.ids,
        keep: pipeline.keep,
        system,
        taskArgs: config.taskArgs,
        maxSpanAge: config.maxSpanAge,
        maxOpen: options.maxOpen,
      });
      brokers.push(traces);
      return traces;
    },
    sweep(now) {
      for (const b of brokers) b.sweep(now);
    },
    async stop(timeoutMs) {
      const now = Date.now() / 1000;
      for (const b of brokers) b.endAll(now);
      await pipeline.shutdown(timeoutMs);
    },
  };
}
