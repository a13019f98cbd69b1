// Traces end to end: a real Celery worker on a real redis-server runs a workflow (a parent that
// sends two children, a task that retries twice then succeeds, one that fails); the daemon builds
// spans from the events and exports them to an OTLP/HTTP receiver started here. A second daemon
// exports to a collector that accepts connections and never answers, to show that a hung collector
// costs spans (counted), never event ingestion, memory or a timely shutdown.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';
import { SPAN_KIND_CONSUMER, SPAN_KIND_PRODUCER, STATUS_ERROR, STATUS_UNSET, startBlackHole, startOtlpReceiver } from './otlp-receiver.js';
import type { OtlpReceiver, ReceivedSpan } from './otlp-receiver.js';
import { WORKFLOW_SPANS, hex, runTracedWorkflow } from './trace-workflow.js';

describe('OpenTelemetry traces from a real Celery worker', () => {
  let redis: RedisServer;
  let receiver: OtlpReceiver;
  let blackHole: { url: string; close(): Promise<void> };
  let daemon: DaemonProc;
  let deadEnd: DaemonProc;
  let worker: CeleryWorker;
  let spans: ReceivedSpan[];
  let id: (name: string) => string;
  let ofTask: (taskId: string, name: string) => ReceivedSpan[];

  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startOtlpReceiver();
    blackHole = await startBlackHole();
    [daemon, deadEnd] = await Promise.all([
      startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--traces', '--otlp-endpoint', receiver.url], {
        OTEL_BSP_SCHEDULE_DELAY: '200',
        OTEL_SERVICE_NAME: 'pulse-test',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      }),
      // A queue of 4 spans, exported 4 at a time: the first export hangs, 4 more wait, the rest is dropped.
      startDaemon(['--broker-url', redis.url, '--log-level', 'error', '--traces', '--otlp-endpoint', blackHole.url], {
        OTEL_BSP_SCHEDULE_DELAY: '60000',
        OTEL_BSP_MAX_QUEUE_SIZE: '4',
        OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '4',
        OTEL_EXPORTER_OTLP_TIMEOUT: '120000',
      }),
    ]);
    worker = await startWorker({ broker: redis.url, name: 'traces1@%h', concurrency: 2 });
    ({ spans, id, ofTask } = await runTracedWorkflow(redis.url, receiver));
  });

  afterAll(async () => {
    await worker?.stop();
    await Promise.all([daemon?.stop(), deadEnd?.stop()]);
    await receiver?.close();
    await blackHole?.close();
    await redis?.stop();
  });

  it('exports each span once, as a publish span per send and a process span per attempt', () => {
    expect(spans).toHaveLength(WORKFLOW_SPANS);
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(WORKFLOW_SPANS);
    const names = spans.map((s) => s.name).sort();
    expect(names).toEqual([
      'process pulse.fail_value',
      'process pulse.flaky_retry',
      'process pulse.flaky_retry',
      'process pulse.flaky_retry',
      'process pulse.ok',
      'process pulse.ok',
      'process pulse.parent',
      'publish pulse.fail_value',
      'publish pulse.flaky_retry',
      'publish pulse.flaky_retry',
      'publish pulse.flaky_retry',
      'publish pulse.ok',
      'publish pulse.ok',
      'publish pulse.parent',
    ]);
    for (const s of spans) expect(s.kind).toBe(s.name.startsWith('publish') ? SPAN_KIND_PRODUCER : SPAN_KIND_CONSUMER);
  });

  it('puts the children in the parent task\'s trace, under its process span', () => {
    const parent = id('parent');
    const [publish] = ofTask(parent, 'publish pulse.parent');
    const [process] = ofTask(parent, 'process pulse.parent');
    expect(publish?.traceId).toBe(hex(parent));
    expect(publish?.parentSpanId).toBeUndefined();
    expect(process?.parentSpanId).toBe(publish?.spanId);
    const children = spans.filter((s) => s.attributes['celery.parent_id'] === parent && s.name === 'publish pulse.ok');
    expect(children).toHaveLength(2);
    for (const child of children) {
      expect(child.traceId).toBe(hex(parent));
      expect(child.parentSpanId).toBe(process?.spanId);
      expect(child.attributes['celery.root_id']).toBe(parent);
      const [run] = ofTask(String(child.attributes['messaging.message.id']), 'process pulse.ok');
      expect(run?.parentSpanId).toBe(child.spanId);
      expect(run?.traceId).toBe(hex(parent));
      expect(run?.status.code).toBe(STATUS_UNSET);
      expect(run?.attributes['celery.state']).toBe('SUCCESS');
    }
  });

  it('ends each retried attempt with its exception and starts the next attempt as a new span of the same trace', () => {
    const retry = id('flaky_retry');
    const attempts = ofTask(retry, 'process pulse.flaky_retry');
    const publishes = ofTask(retry, 'publish pulse.flaky_retry');
    expect(attempts).toHaveLength(3);
    expect(publishes).toHaveLength(3);
    for (const s of [...attempts, ...publishes]) expect(s.traceId).toBe(hex(retry));
    expect(attempts.map((a) => a.attributes['celery.retries'])).toEqual([0, 1, 2]);
    expect(attempts.map((a) => a.attributes['celery.state'])).toEqual(['RETRY', 'RETRY', 'SUCCESS']);
    expect(attempts.map((a) => a.status.code)).toEqual([STATUS_ERROR, STATUS_ERROR, STATUS_UNSET]);
    for (const failed of attempts.slice(0, 2)) {
      expect(failed.status.message).toBe("retry: ConnectionError('flaky upstream')");
      const exception = failed.events.find((e) => e.name === 'exception');
      expect(exception?.attributes['exception.type']).toBe('ConnectionError');
      expect(exception?.attributes['exception.message']).toBe('flaky upstream');
      expect(String(exception?.attributes['exception.stacktrace'])).toContain('Traceback');
    }
    // The chain: publish 0 <- attempt 0 <- publish 1 <- attempt 1 <- publish 2 <- attempt 2.
    expect(publishes[0]?.parentSpanId).toBeUndefined();
    for (let i = 0; i < 3; i++) {
      expect(attempts[i]?.parentSpanId).toBe(publishes[i]?.spanId);
      if (i > 0) expect(publishes[i]?.parentSpanId).toBe(attempts[i - 1]?.spanId);
    }
    // Timings follow the events: each attempt ends before the next one starts (after its countdown).
    for (let i = 1; i < 3; i++) {
      expect(attempts[i]!.start).toBeGreaterThanOrEqual(attempts[i - 1]!.end);
      expect(publishes[i]!.start).toBeGreaterThanOrEqual(attempts[i - 1]!.start);
      expect(publishes[i]!.start).toBeLessThanOrEqual(attempts[i - 1]!.end);
    }
  });

  it('marks the failed task ERROR with an exception event', () => {
    const [run] = ofTask(id('fail_value'), 'process pulse.fail_value');
    expect(run?.status).toEqual({ code: STATUS_ERROR, message: "ValueError('boom')" });
    expect(run?.attributes['celery.state']).toBe('FAILURE');
    const exception = run?.events.find((e) => e.name === 'exception');
    expect(exception?.attributes['exception.type']).toBe('ValueError');
    expect(exception?.attributes['exception.message']).toBe('boom');
    expect(String(exception?.attributes['exception.stacktrace'])).toMatch(/Traceback[\s\S]*ValueError: boom/);
    expect(exception?.time).toBeCloseTo(run!.end, 3);
  });

  it('times spans from the events: publish at task-sent, process from task-started, queue wait between', () => {
    // Celery stamps task-sent after publishing the message (app/amqp.py send_task_message), so a
    // fast worker's task-started can be a few milliseconds earlier than its publish span.
    const SENT_AFTER_PUBLISH = 0.05;
    for (const process of spans.filter((s) => s.name.startsWith('process'))) {
      // A span that starts at something it published earlier keeps its task-started as an event.
      const started = process.events.find((e) => e.name === 'task-started')?.time ?? process.start;
      expect(started).toBeGreaterThanOrEqual(process.start);
      const taskId = String(process.attributes['messaging.message.id']);
      const retries = Number(process.attributes['celery.retries']);
      const publish = spans.find((s) => s.spanId === process.parentSpanId);
      expect(publish?.attributes['messaging.message.id']).toBe(taskId);
      expect(publish!.end).toBe(publish!.start);
      expect(process.start).toBeGreaterThan(publish!.start - SENT_AFTER_PUBLISH);
      expect(process.end).toBeGreaterThanOrEqual(process.start);
      expect(process.end - process.start).toBeLessThan(5);
      const received = process.events.find((e) => e.name === 'task-received');
      expect(received!.time).toBeGreaterThan(publish!.start - SENT_AFTER_PUBLISH);
      expect(received!.time).toBeLessThanOrEqual(process.start);
      const wait = Number(process.attributes['celery.queue_wait_seconds']);
      if (retries > 0) {
        // Retries wait from their ETA (the 0.2 s countdown), not from task-sent.
        // The task-sent timestamp is taken after the client published, so the worker may have
        // received the message (the fallback start of the wait) up to a few ms before it.
        expect(wait).toBeLessThan(started - publish!.start + 0.01);
      } else if (started >= publish!.start) {
        expect(wait).toBeCloseTo(started - publish!.start, 3);
      } else {
        // Stamped in that order, the wait counts from the worker's own task-received instead.
        expect(wait).toBeCloseTo(started - received!.time, 3);
      }
    }
  });

  it('carries messaging and celery attributes, the resource from OTEL_*, and no args by default', () => {
    const [process] = ofTask(id('fail_value'), 'process pulse.fail_value');
    expect(process?.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.message.id': id('fail_value'),
      'celery.action': 'run',
      'celery.task_name': 'pulse.fail_value',
      'celery.hostname': worker.hostname,
      'celery.retries': 0,
      'celery.root_id': id('fail_value'),
    });
    const [publish] = ofTask(id('fail_value'), 'publish pulse.fail_value');
    expect(publish?.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'send',
      'messaging.destination.name': 'celery',
      'celery.action': 'apply_async',
    });
    expect(String(publish?.attributes['celery.hostname'])).toMatch(/^gen\d+@/);
    expect(process?.resource).toMatchObject({ 'service.name': 'pulse-test', 'deployment.environment.name': 'test' });
    for (const s of spans) expect(Object.keys(s.attributes).filter((k) => k.includes('args'))).toEqual([]);
  });

  it('links celery_task_runtime_seconds and celery_task_failed_total to exported spans by exemplars', async () => {
    const om = await daemon.scrape('application/openmetrics-text; version=1.0.0');
    const exemplars = [...om.matchAll(/^(\w+)\{([^}]*)\} \S+ # \{trace_id="([0-9a-f]{32})",span_id="([0-9a-f]{16})"\} (\S+)/gm)].map((m) => ({
      metric: m[1]!,
      labels: m[2]!,
      traceId: m[3]!,
      spanId: m[4]!,
    }));
    const runtime = exemplars.filter((e) => e.metric === 'celery_task_runtime_seconds_bucket');
    const failed = exemplars.filter((e) => e.metric === 'celery_task_failed_total');
    // One exemplar per bucket an observation fell in: at least one per task name.
    expect(new Set(runtime.map((e) => /name="([^"]+)"/.exec(e.labels)?.[1]))).toEqual(new Set(['pulse.parent', 'pulse.ok', 'pulse.flaky_retry', 'pulse.fail_value']));
    expect(failed).toHaveLength(1);
    const [fail] = ofTask(id('fail_value'), 'process pulse.fail_value');
    expect(failed[0]).toMatchObject({ traceId: hex(id('fail_value')), spanId: fail?.spanId });
    for (const e of [...runtime, ...failed]) {
      const span = spans.find((s) => s.spanId === e.spanId);
      expect(span?.traceId).toBe(e.traceId);
      expect(span?.name.startsWith('process')).toBe(true);
    }
    // The Prometheus text format has no exemplars.
    expect(await daemon.scrape()).not.toContain('trace_id');
  });

  it('keeps counting events while the collector hangs, and drops and counts what does not fit its queue', async () => {
    const m = await waitFor('the hung-collector daemon to see the whole workflow', async () => {
      const cur = await deadEnd.metrics();
      return cur.value('celery_task_succeeded_total') === 4 && cur.value('celery_task_failed_total') === 1 ? cur : undefined;
    }, 30_000);
    const ours = await daemon.metrics();
    for (const metric of ['celery_task_succeeded_total', 'celery_task_failed_total', 'celery_task_retried_total', 'celery_task_started_total']) {
      expect(m.value(metric)).toBe(ours.value(metric));
    }
    expect(m.value('celery_task_succeeded_total')).toBe(4);
    expect(m.value('celery_task_retried_total')).toBe(2);
    // 4 spans in the hung request, 4 queued behind it, every other span dropped on arrival.
    expect(m.value('celery_pulse_spans_dropped_total', { reason: 'queue_full' })).toBe(WORKFLOW_SPANS - 8);
    expect(m.value('celery_pulse_spans_dropped_total', { reason: 'export_failed' })).toBe(0);
    expect(m.value('celery_pulse_spans_open')).toBe(0);
    expect(ours.value('celery_pulse_spans_dropped_total')).toBe(0);
  });

  it('on SIGTERM ends the open spans and flushes them before exiting, and exits in time with the collector hung', async () => {
    const sleepers = await runWorkload(redis.url, 'sleepers', { PULSE_SLEEP_SECONDS: '3', PULSE_SLEEPERS: '1' });
    const sleeper = sleepers['sleep']![0]!;
    await waitFor('the sleeper to start', async () => (await daemon.metrics()).value('celery_pulse_spans_open') === 1 && (await deadEnd.metrics()).value('celery_pulse_spans_open') === 1);
    const before = Date.now();
    daemon.proc.signal('SIGTERM');
    deadEnd.proc.signal('SIGTERM');
    expect(await daemon.proc.exited).toBe(0);
    expect(await deadEnd.proc.exited).toBe(0);
    expect(Date.now() - before).toBeLessThan(10_000);
    const [run] = receiver.spans.filter((s) => s.attributes['messaging.message.id'] === sleeper && s.name === 'process pulse.sleep');
    expect(run?.attributes['celery_pulse.end_reason']).toBe('daemon-stopped');
    expect(run?.status.code).toBe(STATUS_UNSET);
    expect(run?.traceId).toBe(hex(sleeper));
    expect(receiver.spans.filter((s) => s.attributes['messaging.message.id'] === sleeper).map((s) => s.name).sort()).toEqual(['process pulse.sleep', 'publish pulse.sleep']);
  });
});
