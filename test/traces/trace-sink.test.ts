import { ExportResultCode } from '@opentelemetry/core';
import type { ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { parseTraceConfig } from '../../src/config/trace-settings.js';
import { serialize } from '../../src/http/exposition.js';
import type { TaskEvent } from '../../src/protocol/events.js';
import { startTraceSink } from '../../src/traces/trace-sink.js';
import { CeleryState } from '../../src/state/machine.js';

const T0 = 1_795_310_000;
const ID = 'cccccccc-1111-4111-8111-111111111111';

function ev(type: TaskEvent['type'], timestamp: number, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    kind: 'task', type, uuid: ID, hostname: 'w1@vm', timestamp, clock: undefined, name: 'app.t', queue: undefined, retries: 0,
    rootId: ID, parentId: undefined, eta: undefined, exception: undefined, traceback: undefined, runtime: undefined,
    args: undefined, kwargs: undefined, terminated: undefined, expired: undefined, requeue: undefined, ...extra,
  };
}

/** Keeps what it is given, also after shutdown (the SDK's InMemorySpanExporter forgets then). */
class KeepingExporter implements SpanExporter {
  readonly spans: ReadableSpan[] = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.spans.push(...spans);
    done({ code: ExportResultCode.SUCCESS });
  }
  async shutdown(): Promise<void> {}
}

describe('startTraceSink', () => {
  it('names the messaging system by broker, reports open spans, and flushes on stop', async () => {
    const registry = new Registry<OpenMetricsContentType>();
    const exporter = new KeepingExporter();
    const config = parseTraceConfig({ traces: true, otlpEndpoint: undefined, taskArgs: false, maxSpanAge: 3600 }, { OTEL_BSP_SCHEDULE_DELAY: '60000' });
    const sink = startTraceSink({ config, registry, logger: pino({ level: 'silent' }), version: 'test', maxOpen: 100, exporter });
    const amqp = new CeleryState(sink.forBroker('rabbitmq'), { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 });
    amqp.apply(ev('task-received', T0), T0);
    amqp.apply(ev('task-started', T0 + 1), T0 + 1);
    await sink.collector.update();
    const open = await serialize(registry, 'prometheus');
    expect(open).toContain('celery_pulse_spans_open 1\n');
    expect(open).toContain('celery_pulse_spans_dropped_total{reason="queue_full"} 0\n');
    expect(open).toContain('celery_pulse_spans_dropped_total{reason="export_failed"} 0\n');
    // Batched: nothing exported before the schedule delay, everything on stop.
    expect(exporter.spans).toHaveLength(0);
    await sink.stop(1000);
    const spans = exporter.spans;
    expect(spans.map((s) => [s.name, s.attributes['messaging.system'], s.attributes['celery_pulse.end_reason']])).toEqual([['process app.t', 'rabbitmq', 'daemon-stopped']]);
    await sink.collector.update();
    expect(await serialize(registry, 'prometheus')).toContain('celery_pulse_spans_open 0\n');
  });
});
