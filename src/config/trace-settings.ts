import { redactSecrets } from '../brokers/url.js';
import { configError } from '../errors.js';

// Tracing settings: celery-pulse's own flags plus the standard OTEL_* variables that the
// OpenTelemetry SDK packages no longer read themselves (sampler, batch processor, SDK switch).
// The exporter still reads OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT,HEADERS,TIMEOUT,COMPRESSION} and
// the resource detector OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES; those are not duplicated here.

export type SamplerKind = 'always_on' | 'always_off' | 'traceidratio';

export interface TraceConfig {
  readonly enabled: boolean;
  /** Full URL spans are POSTed to (…/v1/traces), from --otlp-endpoint; undefined: the OTEL_* variables decide. */
  readonly tracesUrl: string | undefined;
  readonly taskArgs: boolean;
  /** Seconds an attempt's span may stay open before it is ended without an outcome. */
  readonly maxSpanAge: number;
  readonly sampler: { readonly kind: SamplerKind; readonly ratio: number; readonly name: string };
  readonly batch: {
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
    readonly scheduledDelayMillis: number;
    readonly exportTimeoutMillis: number;
  };
}

export interface TraceFlags {
  readonly traces: boolean;
  readonly otlpEndpoint: string | undefined;
  readonly taskArgs: boolean;
  readonly maxSpanAge: number;
}

// OTEL_TRACES_SAMPLER values. parentbased_* act as their root sampler here: every span's decision
// is made on its trace id alone (the trace id is the workflow's), so a workflow is kept or dropped
// whole, which is what the parent-based samplers exist to guarantee in-process.
const SAMPLERS: Record<string, SamplerKind> = {
  always_on: 'always_on',
  always_off: 'always_off',
  traceidratio: 'traceidratio',
  parentbased_always_on: 'always_on',
  parentbased_always_off: 'always_off',
  parentbased_traceidratio: 'traceidratio',
};

export function parseTraceConfig(flags: TraceFlags, env: NodeJS.ProcessEnv): TraceConfig {
  // Without spans the task args would go nowhere: the user meant something else.
  if (flags.taskArgs && !flags.traces) throw configError('CP_ERR_FLAG_CONFLICT', '--traces-task-args needs --traces');
  const disabled = (env['OTEL_SDK_DISABLED'] ?? '').trim().toLowerCase() === 'true';
  const samplerName = (env['OTEL_TRACES_SAMPLER'] ?? '').trim().toLowerCase() || 'parentbased_always_on';
  const kind = SAMPLERS[samplerName];
  if (kind === undefined) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for OTEL_TRACES_SAMPLER: "${samplerName}" (${Object.keys(SAMPLERS).join(', ')})`);
  }
  let ratio = 1;
  const arg = env['OTEL_TRACES_SAMPLER_ARG'];
  if (kind === 'traceidratio' && arg !== undefined && arg.trim() !== '') {
    ratio = Number(arg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for OTEL_TRACES_SAMPLER_ARG: "${arg}" (a ratio from 0 to 1)`);
    }
  }
  const maxQueueSize = envInt(env, 'OTEL_BSP_MAX_QUEUE_SIZE', 2048);
  const maxExportBatchSize = envInt(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512);
  if (maxExportBatchSize > maxQueueSize) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for OTEL_BSP_MAX_EXPORT_BATCH_SIZE: ${maxExportBatchSize} (at most OTEL_BSP_MAX_QUEUE_SIZE, ${maxQueueSize})`);
  }
  return {
    enabled: flags.traces && !disabled,
    tracesUrl: flags.otlpEndpoint === undefined ? undefined : tracesUrl(flags.otlpEndpoint),
    taskArgs: flags.taskArgs,
    maxSpanAge: flags.maxSpanAge,
    sampler: { kind, ratio: kind === 'always_on' ? 1 : kind === 'always_off' ? 0 : ratio, name: samplerName },
    batch: {
      maxQueueSize,
      maxExportBatchSize,
      scheduledDelayMillis: envInt(env, 'OTEL_BSP_SCHEDULE_DELAY', 5000),
      exportTimeoutMillis: envInt(env, 'OTEL_BSP_EXPORT_TIMEOUT', 30000),
    },
  };
}

/** --otlp-endpoint has OTEL_EXPORTER_OTLP_ENDPOINT's meaning: a base URL, to which /v1/traces is appended. */
function tracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --otlp-endpoint: "${redactSecrets(endpoint)}" (an http:// or https:// URL)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --otlp-endpoint: "${url.protocol}" URLs are not OTLP/HTTP (http:// or https://)`);
  }
  return `${endpoint.replace(/\/+$/, '')}/v1/traces`;
}

function envInt(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const n = Number(raw.trim());
  if (!Number.isSafeInteger(n) || n <= 0) throw configError('CP_ERR_FLAG_VALUE', `invalid value for ${name}: "${raw}" (a whole number above zero)`);
  return n;
}
