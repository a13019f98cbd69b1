import { DiagLogLevel, ROOT_CONTEXT, createNoopMeter, diag } from '@opentelemetry/api';
import type { Counter, DiagLogger, Meter, MeterProvider, Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { defaultResource, envDetector, detectResources, resourceFromAttributes } from '@opentelemetry/resources';
import { AlwaysOnSampler, BatchSpanProcessor, SamplingDecision, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import type { RateLimitedLog } from '../log.js';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from './semconv.js';
import type { TraceConfig } from '../config/trace-settings.js';
import { DerivedIdGenerator } from './trace-ids.js';

/** Why a finished span never reached the collector: the queue was full, or its batch's export failed. */
export type SpanDropReason = 'queue_full' | 'export_failed';

export interface TracePipelineOptions {
  readonly config: TraceConfig;
  readonly version: string;
  readonly onDrop: (reason: SpanDropReason, count: number) => void;
  /** Where the SDK's own warnings (failed exports) go, rate-limited. */
  readonly log: RateLimitedLog;
  /** Tests swap the OTLP exporter for another. */
  readonly exporter?: SpanExporter;
}

export interface TracePipeline {
  readonly tracer: Tracer;
  readonly ids: DerivedIdGenerator;
  /** The sampling decision for a whole workflow, from its trace id alone. */
  readonly keep: (traceId: string) => boolean;
  /** Exports what is queued, then stops; gives up after `timeoutMs`. */
  shutdown(timeoutMs: number): Promise<void>;
}

// The batch processor's self-observability counter (semconv otel.sdk.processor.span.processed):
// it is the only place the SDK reports spans dropped on a full queue or a failed export.
const PROCESSED_METRIC = 'otel.sdk.processor.span.processed';

/**
 * The OpenTelemetry SDK side: resource, tracer, batch processor and OTLP/HTTP exporter (JSON
 * encoding). Spans are queued in memory up to OTEL_BSP_MAX_QUEUE_SIZE and exported in the
 * background, one request at a time; beyond that they are dropped and counted, so a collector
 * that is down never slows ingestion or grows memory.
 */
export function createTracePipeline(options: TracePipelineOptions): TracePipeline {
  const { config } = options;
  diag.setLogger(diagToLog(options.log), DiagLogLevel.WARN);
  const exporter = options.exporter ?? new OTLPTraceExporter(config.tracesUrl !== undefined ? { url: config.tracesUrl } : {});
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: config.batch.maxQueueSize,
    maxExportBatchSize: config.batch.maxExportBatchSize,
    scheduledDelayMillis: config.batch.scheduledDelayMillis,
    exportTimeoutMillis: config.batch.exportTimeoutMillis,
    selfObsMeterProvider: dropCounter(options.onDrop),
  });
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override these defaults.
  const resource = defaultResource()
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'celery-pulse', [ATTR_SERVICE_VERSION]: options.version }))
    .merge(detectResources({ detectors: [envDetector] }));
  const ids = new DerivedIdGenerator();
  // Sampling happens before a span is built (keep()); the tracer records whatever it is given.
  const provider = new TracerProvider({ resource, idGenerator: ids, sampler: new AlwaysOnSampler(), spanProcessors: [processor] });
  return {
    tracer: provider.getTracer('celery-pulse', options.version),
    ids,
    keep: workflowSampler(config),
    async shutdown(timeoutMs: number): Promise<void> {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([provider.shutdown().catch(() => undefined), timeout]);
      clearTimeout(timer);
    },
  };
}

function workflowSampler(config: TraceConfig): (traceId: string) => boolean {
  const { kind, ratio } = config.sampler;
  if (kind === 'always_on') return () => true;
  if (kind === 'always_off') return () => false;
  const sampler = new TraceIdRatioBasedSampler(ratio);
  return (traceId) => sampler.shouldSample(ROOT_CONTEXT, traceId).decision === SamplingDecision.RECORD_AND_SAMPLED;
}

/** A meter that ignores everything but the processor's span outcomes, and counts the failed ones. */
function dropCounter(onDrop: (reason: SpanDropReason, count: number) => void): MeterProvider {
  const meter: Meter = createNoopMeter();
  const noopCounter = meter.createCounter.bind(meter);
  const counting = {
    add(count: number, attributes?: Record<string, unknown>): void {
      const error = attributes?.['error.type'];
      if (error !== undefined) onDrop(error === 'queue_full' ? 'queue_full' : 'export_failed', count);
    },
  } as Counter;
  meter.createCounter = ((name: string, opts?: Parameters<Meter['createCounter']>[1]) =>
    name === PROCESSED_METRIC ? counting : noopCounter(name, opts)) as Meter['createCounter'];
  return { getMeter: () => meter };
}

function diagToLog(log: RateLimitedLog): DiagLogger {
  const warn = (message: string, ...args: unknown[]): void => {
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : '')).filter((s) => s !== '').join('; ');
    log.warn(`otel:${message.slice(0, 40)}`, { detail: `${message}${detail ? `: ${detail}` : ''}`.slice(0, 500) }, 'OpenTelemetry SDK: span export problem');
  };
  const ignore = (): void => undefined;
  return { error: warn, warn, info: ignore, debug: ignore, verbose: ignore };
}
