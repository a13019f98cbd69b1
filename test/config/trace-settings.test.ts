import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { CeleryPulseError } from '../../src/errors.js';

function config(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const action = loadConfig(argv, env);
  if (action.action !== 'run') throw new Error('expected run');
  return action.config;
}

function error(argv: string[], env: NodeJS.ProcessEnv): CeleryPulseError {
  try {
    config(argv, env);
  } catch (err) {
    if (err instanceof CeleryPulseError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('trace settings', () => {
  it('are off by default, with the OpenTelemetry defaults', () => {
    const t = config([]).traces;
    expect(t).toEqual({
      enabled: false,
      tracesUrl: undefined,
      taskArgs: false,
      maxSpanAge: 86400,
      sampler: { kind: 'always_on', ratio: 1, name: 'parentbased_always_on' },
      batch: { maxQueueSize: 2048, maxExportBatchSize: 512, scheduledDelayMillis: 5000, exportTimeoutMillis: 30000 },
    });
  });

  it('read the flags, their env twins and the OTEL_* variables', () => {
    const t = config(['--traces', '--otlp-endpoint', 'http://collector:4318/', '--traces-max-span-age', '2h'], {
      CELERY_PULSE_TRACES_TASK_ARGS: 'true',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '50',
      OTEL_BSP_SCHEDULE_DELAY: '250',
      OTEL_BSP_EXPORT_TIMEOUT: '2000',
    }).traces;
    expect(t).toEqual({
      enabled: true,
      tracesUrl: 'http://collector:4318/v1/traces',
      taskArgs: true,
      maxSpanAge: 7200,
      sampler: { kind: 'traceidratio', ratio: 0.25, name: 'parentbased_traceidratio' },
      batch: { maxQueueSize: 100, maxExportBatchSize: 50, scheduledDelayMillis: 250, exportTimeoutMillis: 2000 },
    });
    expect(Object.isFrozen(t.batch)).toBe(true);
  });

  it('honour OTEL_SDK_DISABLED', () => {
    expect(config(['--traces'], { OTEL_SDK_DISABLED: 'true' }).traces.enabled).toBe(false);
  });

  it('reject bad values with a message naming the variable, never echoing a password', () => {
    expect(error(['--traces'], { OTEL_TRACES_SAMPLER: 'jaeger_remote' }).message).toContain('OTEL_TRACES_SAMPLER');
    expect(error(['--traces'], { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' }).message).toContain('OTEL_TRACES_SAMPLER_ARG');
    expect(error([], { OTEL_BSP_MAX_QUEUE_SIZE: '10', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '20' }).message).toContain('OTEL_BSP_MAX_EXPORT_BATCH_SIZE');
    expect(error([], { OTEL_BSP_SCHEDULE_DELAY: 'soon' }).code).toBe('CP_ERR_FLAG_VALUE');
    const bad = error(['--otlp-endpoint', 'grpc://user:hunter2@collector:4317'], {});
    expect(bad.message).toContain('--otlp-endpoint');
    expect(bad.message).not.toContain('hunter2');
    expect(error(['--otlp-endpoint', 'not a url'], {}).code).toBe('CP_ERR_FLAG_VALUE');
  });
});
