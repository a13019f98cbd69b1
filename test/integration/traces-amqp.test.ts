// Traces on RabbitMQ: the workflow of traces.test.ts (a parent that sends two children, a task that
// retries twice then succeeds, one that fails) run by a real Celery worker on a real
// rabbitmq-server. Events arrive there as raw AMQP bodies through a queue of the daemon's own, not
// as kombu envelopes on pub/sub, so this is the other half of the span builder's input; the spans
// must come out the same, with `messaging.system` naming the broker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startRabbit, startWorker } from './harness.js';
import type { CeleryWorker, DaemonProc, RabbitServer } from './harness.js';
import { SPAN_KIND_CONSUMER, SPAN_KIND_PRODUCER, STATUS_ERROR, STATUS_UNSET, startOtlpReceiver } from './otlp-receiver.js';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.js';
import { WORKFLOW_SPANS, hex, runTracedWorkflow } from './trace-workflow.js';

describe('OpenTelemetry traces from a real Celery worker on RabbitMQ', () => {
  let rabbit: RabbitServer;
  let receiver: OtlpReceiver;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let spans: ReceivedSpan[];
  let id: (name: string) => string;
  let ofTask: (taskId: string, name: string) => ReceivedSpan[];

  beforeAll(async () => {
    [rabbit, receiver] = await Promise.all([startRabbit(), startOtlpReceiver()]);
    daemon = await startDaemon(['--broker-url', rabbit.url, '--no-queue-metrics', '--log-level', 'warn', '--traces', '--otlp-endpoint', receiver.url], {
      OTEL_BSP_SCHEDULE_DELAY: '200',
    });
    worker = await startWorker({ broker: rabbit.url, name: 'traces-amqp@%h', concurrency: 2 });
    ({ spans, id, ofTask } = await runTracedWorkflow(rabbit.url, receiver));
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await receiver?.close();
    await rabbit?.stop();
  });

  it('exports each span once: a publish span per send, a process span per attempt, all named for RabbitMQ', () => {
    expect(spans).toHaveLength(WORKFLOW_SPANS);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(WORKFLOW_SPANS);
    const count = (name: string): number => spans.filter((s) => s.name === name).length;
    expect(count('publish pulse.parent')).toBe(1);
    expect(count('process pulse.parent')).toBe(1);
    expect(count('publish pulse.ok')).toBe(2);
    expect(count('process pulse.ok')).toBe(2);
    expect(count('publish pulse.flaky_retry')).toBe(3);
    expect(count('process pulse.flaky_retry')).toBe(3);
    expect(count('publish pulse.fail_value')).toBe(1);
    expect(count('process pulse.fail_value')).toBe(1);
    for (const s of spans) {
      expect(s.kind).toBe(s.name.startsWith('publish') ? SPAN_KIND_PRODUCER : SPAN_KIND_CONSUMER);
      expect(s.attributes['messaging.system']).toBe('rabbitmq');
    }
    for (const s of spans.filter((x) => x.name.startsWith('publish'))) expect(s.attributes['messaging.destination.name']).toBe('celery');
  });

  it('builds the same trace tree: children under the parent\'s process span, each retry under the attempt before it', () => {
    const parent = id('parent');
    const [process] = ofTask(parent, 'process pulse.parent');
    const children = spans.filter((s) => s.attributes['celery.parent_id'] === parent && s.name === 'publish pulse.ok');
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.traceId).toBe(hex(parent));
      expect(child.parentSpanId).toBe(process?.spanId);
      const [run] = ofTask(String(child.attributes['messaging.message.id']), 'process pulse.ok');
      expect(run?.parentSpanId).toBe(child.spanId);
      expect(run?.attributes['celery.state']).toBe('SUCCESS');
    }
    const retry = id('flaky_retry');
    const attempts = ofTask(retry, 'process pulse.flaky_retry');
    const publishes = ofTask(retry, 'publish pulse.flaky_retry');
    expect(attempts.map((a) => a.attributes['celery.retries'])).toEqual([0, 1, 2]);
    expect(attempts.map((a) => a.status.code)).toEqual([STATUS_ERROR, STATUS_ERROR, STATUS_UNSET]);
    for (let i = 0; i < 3; i++) {
      expect(attempts[i]?.traceId).toBe(hex(retry));
      expect(attempts[i]?.parentSpanId).toBe(publishes[i]?.spanId);
      if (i > 0) expect(publishes[i]?.parentSpanId).toBe(attempts[i - 1]?.spanId);
    }
  });

  it('marks the failed task ERROR, with the exception the worker reported', () => {
    const [run] = ofTask(id('fail_value'), 'process pulse.fail_value');
    expect(run?.status).toEqual({ code: STATUS_ERROR, message: "ValueError('boom')" });
    const exception = run?.events.find((e) => e.name === 'exception');
    expect(exception?.attributes['exception.type']).toBe('ValueError');
    expect(String(exception?.attributes['exception.stacktrace'])).toMatch(/Traceback[\s\S]*ValueError: boom/);
    expect(spans.filter((s) => s.status.code === STATUS_ERROR)).toHaveLength(3);
  });
});
