import { SpanKind } from '@opentelemetry/api';
import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parseTraceConfig } from '../../src/config/trace-settings.js';
import { RateLimitedLog } from '../../src/log.js';
import { spanIdFor, traceIdForRoot } from '../../src/traces/trace-ids.js';
import { createTracePipeline } from '../../src/traces/trace-pipeline.js';
import type { SpanDropReason } from '../../src/traces/trace-pipeline.js';

/** An exporter whose requests never finish until the test says how. */
class HeldExporter implements SpanExporter {
  readonly held: { spans: ReadableSpan[]; done: (r: ExportResult) => void }[] = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.held.push({ spans, done });
  }
  async shutdown(): Promise<void> {}
  failAll(): void {
    for (const h of this.held.splice(0)) h.done({ code: ExportResultCode.FAILED, error: new Error('collector down') });
  }
}

function pipeline(env: NodeJS.ProcessEnv, exporter: SpanExporter) {
  const drops: Record<SpanDropReason, number> = { queue_full: 0, export_failed: 0 };
  const config = parseTraceConfig({ traces: true, otlpEndpoint: undefined, taskArgs: false, maxSpanAge: 60 }, env);
  const p = createTracePipeline({
    config,
    version: 'test',
    onDrop: (reason, n) => (drops[reason] += n),
    log: new RateLimitedLog(pino({ level: 'silent' })),
    exporter,
  });
  const emit = (n: number) => {
    for (let i = 0; i < n; i++) {
      p.ids.next(traceIdForRoot(`root-${i}`), spanIdFor(`task-${i}`, 'process', 0));
      p.tracer.startSpan('process t', { kind: SpanKind.CONSUMER }).end();
    }
  };
  return { p, drops, emit };
}

describe('trace pipeline', () => {
  it('drops what does not fit in the bounded queue while an export hangs, and counts every span lost', async () => {
    const exporter = new HeldExporter();
    const { drops, emit } = pipeline({ OTEL_BSP_MAX_QUEUE_SIZE: '2', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '60000' }, exporter);
    // 2 spans fill a batch and go out at once (the export hangs); 2 more fill the queue; 3 are dropped.
    emit(7);
    expect(exporter.held.map((h) => h.spans.length)).toEqual([2]);
    expect(drops).toEqual({ queue_full: 3, export_failed: 0 });
    exporter.failAll();
    await new Promise((r) => setImmediate(r));
    expect(drops.export_failed).toBe(2);
    // The queued pair went out once the first export finished; it fails too.
    expect(exporter.held.map((h) => h.spans.length)).toEqual([2]);
    exporter.failAll();
    await new Promise((r) => setImmediate(r));
    expect(drops).toEqual({ queue_full: 3, export_failed: 4 });
  });

  it('gives up flushing at shutdown after its deadline when the exporter never answers', async () => {
    const exporter = new HeldExporter();
    exporter.shutdown = () => new Promise<void>(() => undefined);
    const { p, emit } = pipeline({ OTEL_BSP_SCHEDULE_DELAY: '60000' }, exporter);
    emit(3);
    await p.shutdown(100);
    expect(exporter.held.map((h) => h.spans.length)).toEqual([3]);
  });

  it('samples whole workflows from the trace id alone', () => {
    const traceIds = Array.from({ length: 1000 }, (_, i) => traceIdForRoot(`workflow-${i}`));
    const kept = (env: NodeJS.ProcessEnv) => {
      const { p } = pipeline(env, new HeldExporter());
      return traceIds.filter((t) => p.keep(t));
    };
    const half = kept({ OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' });
    expect(half.length).toBeGreaterThan(400);
    expect(half.length).toBeLessThan(600);
    expect(kept({ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.5' })).toEqual(half);
    expect(kept({ OTEL_TRACES_SAMPLER: 'always_off' })).toHaveLength(0);
    expect(kept({})).toHaveLength(1000);
  });
});
