import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { AlwaysOnSampler, InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import type { TaskEvent } from '../../src/protocol/events.js';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import { DerivedIdGenerator, spanIdFor } from '../../src/traces/trace-ids.js';
import { TaskTraces } from '../../src/traces/task-traces.js';
import type { TaskTracesOptions } from '../../src/traces/task-traces.js';
import { taskEvent as ev } from '../fixtures/events.js';

// The trace sink fed by the real (pure) state machine; spans land in the SDK's in-memory exporter.

const STATE: CeleryStateOptions = { maxTasks: 1000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 };
const P = '11111111-1111-4111-8111-111111111111';
const C = '22222222-2222-4222-8222-222222222222';
const T0 = 1_795_310_000;


function setup(options: Partial<TaskTracesOptions> = {}) {
  const exporter = new InMemorySpanExporter();
  const ids = new DerivedIdGenerator();
  const provider = new TracerProvider({ idGenerator: ids, sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const traces = new TaskTraces({ tracer: provider.getTracer('test'), ids, keep: () => true, system: 'redis', taskArgs: false, maxSpanAge: 3600, maxOpen: 1000, ...options });
  const state = new CeleryState(traces, STATE);
  const apply = (...events: TaskEvent[]) => events.forEach((e) => state.apply(e, e.timestamp));
  const spans = async (): Promise<ReadableSpan[]> => {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  };
  return { traces, state, apply, spans };
}

const one = (spans: ReadableSpan[], name: string, n = 0): ReadableSpan => {
  const found = spans.filter((s) => s.name === name)[n];
  if (found === undefined) throw new Error(`no span ${name} #${n} in ${spans.map((s) => s.name).join(', ')}`);
  return found;
};
const seconds = (t: [number, number]): number => t[0] + t[1] / 1e9;
const hex = (uuid: string): string => uuid.replace(/-/g, '');

function parentAndChild(): TaskEvent[] {
  const lineageP = { rootId: P, parentId: undefined, retries: 0 };
  const lineageC = { rootId: P, parentId: P, retries: 0 };
  return [
    ev('task-sent', P, T0, { name: 'pulse.parent', queue: 'celery', ...lineageP }),
    ev('task-received', P, T0 + 0.1, { name: 'pulse.parent', ...lineageP }),
    ev('task-started', P, T0 + 0.2),
    ev('task-sent', C, T0 + 0.3, { name: 'pulse.ok', queue: 'celery', hostname: 'gen7@vm', ...lineageC }),
    ev('task-succeeded', P, T0 + 0.4, { runtime: 0.2 }),
    ev('task-received', C, T0 + 0.5, { name: 'pulse.ok', ...lineageC }),
    ev('task-started', C, T0 + 0.6),
    ev('task-succeeded', C, T0 + 0.9, { runtime: 0.3 }),
  ];
}

describe('TaskTraces: spans from task events', () => {
  it('puts a child task in its parent\'s trace under the parent\'s process span', async () => {
    const { apply, spans } = setup();
    apply(...parentAndChild());
    const all = await spans();
    expect(all.map((s) => s.name).sort()).toEqual(['process pulse.ok', 'process pulse.parent', 'publish pulse.ok', 'publish pulse.parent']);
    for (const s of all) expect(s.spanContext().traceId).toBe(hex(P));
    const pubP = one(all, 'publish pulse.parent');
    const runP = one(all, 'process pulse.parent');
    const pubC = one(all, 'publish pulse.ok');
    const runC = one(all, 'process pulse.ok');
    expect(pubP.parentSpanContext).toBeUndefined();
    expect(pubP.kind).toBe(SpanKind.PRODUCER);
    expect(runP.kind).toBe(SpanKind.CONSUMER);
    expect(runP.parentSpanContext?.spanId).toBe(pubP.spanContext().spanId);
    expect(pubC.parentSpanContext?.spanId).toBe(runP.spanContext().spanId);
    expect(runC.parentSpanContext?.spanId).toBe(pubC.spanContext().spanId);
    expect(new Set(all.map((s) => s.spanContext().spanId)).size).toBe(4);
    // Timings are the events' own timestamps.
    expect(seconds(pubP.startTime)).toBeCloseTo(T0, 6);
    expect(seconds(pubP.endTime)).toBeCloseTo(T0, 6);
    expect(seconds(runP.startTime)).toBeCloseTo(T0 + 0.2, 6);
    expect(seconds(runP.endTime)).toBeCloseTo(T0 + 0.4, 6);
    expect(seconds(runC.startTime)).toBeCloseTo(T0 + 0.6, 6);
    expect(runC.events.map((e) => e.name)).toEqual(['task-received']);
    expect(runC.status.code).toBe(SpanStatusCode.UNSET);
    expect(runC.attributes).toMatchObject({
      'messaging.system': 'redis',
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'celery',
      'messaging.message.id': C,
      'celery.action': 'run',
      'celery.task_name': 'pulse.ok',
      'celery.hostname': 'w1@vm',
      'celery.retries': 0,
      'celery.state': 'SUCCESS',
      'celery.root_id': P,
      'celery.parent_id': P,
    });
    expect(runC.attributes['celery.queue_wait_seconds']).toBeCloseTo(0.3, 6);
    expect(pubC.attributes).toMatchObject({ 'messaging.operation.type': 'send', 'celery.action': 'apply_async', 'celery.hostname': 'gen7@vm' });
    // No args or kwargs unless asked for.
    for (const s of all) expect(Object.keys(s.attributes).filter((k) => k.includes('args'))).toEqual([]);
  });

  it('builds the same tree when the child\'s events arrive before the parent\'s', async () => {
    const inOrder = setup();
    inOrder.apply(...parentAndChild());
    const expected = await inOrder.spans();
    const shuffled = setup();
    const events = parentAndChild();
    const child = events.filter((e) => e.uuid === C);
    const parent = events.filter((e) => e.uuid === P);
    shuffled.apply(...child, ...parent);
    const got = await shuffled.spans();
    const shape = (spans: ReadableSpan[]) =>
      spans.map((s) => [s.name, s.spanContext().traceId, s.spanContext().spanId, s.parentSpanContext?.spanId ?? null].join(' ')).sort();
    expect(shape(got)).toEqual(shape(expected));
  });

  it('hangs a process span under its publish span even when the task-sent arrives after the task finished', async () => {
    const { apply, spans } = setup();
    const X = 'aaaa1111-1111-4111-8111-111111111111';
    // Another task first shows that clients send task-sent events.
    apply(ev('task-sent', X, T0 - 1, { name: 'pulse.other', queue: 'celery', rootId: X, retries: 0 }));
    const events = parentAndChild();
    const sentC = events.find((e) => e.type === 'task-sent' && e.uuid === C)!;
    apply(...events.filter((e) => e !== sentC), sentC);
    const all = await spans();
    const pubC = one(all, 'publish pulse.ok');
    const runC = one(all, 'process pulse.ok');
    const runP = one(all, 'process pulse.parent');
    expect(runC.parentSpanContext?.spanId).toBe(pubC.spanContext().spanId);
    expect(pubC.parentSpanContext?.spanId).toBe(runP.spanContext().spanId);
  });

  it('ends a retried attempt with its exception and starts the next attempt as a new span in the trace', async () => {
    const { apply, spans } = setup();
    const R = '33333333-3333-4333-8333-333333333333';
    const lineage = { rootId: R, name: 'pulse.flaky_retry' };
    apply(
      ev('task-sent', R, T0, { ...lineage, queue: 'celery', retries: 0 }),
      ev('task-received', R, T0 + 0.1, { ...lineage, retries: 0 }),
      ev('task-started', R, T0 + 0.2),
      // The retry's task-sent is published before task-retried and may arrive first (PROTOCOL.md §3).
      ev('task-sent', R, T0 + 0.25, { ...lineage, queue: 'celery', retries: 1, parentId: R, eta: T0 + 0.45 }),
      ev('task-retried', R, T0 + 0.3, { exception: "ConnectionError('flaky upstream')", traceback: 'Traceback (most recent call last):\n  ...\nConnectionError: flaky upstream' }),
      ev('task-received', R, T0 + 0.35, { ...lineage, retries: 1, parentId: R }),
      ev('task-started', R, T0 + 0.5),
      ev('task-succeeded', R, T0 + 0.6, { runtime: 0.1 }),
    );
    const all = await spans();
    expect(all.map((s) => s.name).sort()).toEqual(['process pulse.flaky_retry', 'process pulse.flaky_retry', 'publish pulse.flaky_retry', 'publish pulse.flaky_retry']);
    const attempts = all.filter((s) => s.name === 'process pulse.flaky_retry').sort((a, b) => seconds(a.startTime) - seconds(b.startTime));
    const publishes = all.filter((s) => s.name === 'publish pulse.flaky_retry').sort((a, b) => seconds(a.startTime) - seconds(b.startTime));
    const [first, second] = attempts as [ReadableSpan, ReadableSpan];
    const [pub0, pub1] = publishes as [ReadableSpan, ReadableSpan];
    expect(first.status).toEqual({ code: SpanStatusCode.ERROR, message: "retry: ConnectionError('flaky upstream')" });
    expect(first.attributes).toMatchObject({ 'celery.state': 'RETRY', 'celery.retries': 0, 'celery.retry.reason': "ConnectionError('flaky upstream')" });
    const exception = first.events.find((e) => e.name === 'exception');
    expect(exception?.attributes).toMatchObject({ 'exception.type': 'ConnectionError', 'exception.message': 'flaky upstream' });
    expect(String(exception?.attributes?.['exception.stacktrace'])).toContain('ConnectionError: flaky upstream');
    expect(seconds(first.endTime)).toBeCloseTo(T0 + 0.3, 6);
    expect(second.status.code).toBe(SpanStatusCode.UNSET);
    expect(second.attributes).toMatchObject({ 'celery.state': 'SUCCESS', 'celery.retries': 1 });
    expect(second.spanContext().spanId).not.toBe(first.spanContext().spanId);
    expect(new Set(all.map((s) => s.spanContext().traceId))).toEqual(new Set([hex(R)]));
    expect(first.parentSpanContext?.spanId).toBe(pub0.spanContext().spanId);
    expect(pub1.parentSpanContext?.spanId).toBe(first.spanContext().spanId);
    expect(second.parentSpanContext?.spanId).toBe(pub1.spanContext().spanId);
  });

  it('labels an attempt by its own task-received when the next retry\'s task-sent overtakes its task-started', async () => {
    const { apply, spans } = setup();
    const R = '3333aaaa-3333-4333-8333-333333333333';
    const lineage = { rootId: R, name: 'pulse.flaky_retry', queue: 'celery' };
    apply(
      ev('task-sent', R, T0, { ...lineage, retries: 0 }),
      ev('task-received', R, T0 + 0.1, { ...lineage, retries: 0 }),
      ev('task-started', R, T0 + 0.2),
      ev('task-sent', R, T0 + 0.25, { ...lineage, retries: 1, parentId: R }),
      ev('task-retried', R, T0 + 0.3, { exception: "ConnectionError('x')" }),
      ev('task-received', R, T0 + 0.35, { ...lineage, retries: 1, parentId: R }),
      // Attempt 1 raises Retry at once: the pool process's task-sent (retries=2) is applied before
      // the main process's task-started of attempt 1.
      ev('task-sent', R, T0 + 0.51, { ...lineage, retries: 2, parentId: R }),
      ev('task-started', R, T0 + 0.5),
      ev('task-retried', R, T0 + 0.52, { exception: "ConnectionError('x')" }),
      ev('task-received', R, T0 + 0.6, { ...lineage, retries: 2, parentId: R }),
      ev('task-started', R, T0 + 0.8),
      ev('task-succeeded', R, T0 + 0.9),
    );
    const all = await spans();
    const attempts = all.filter((s) => s.name.startsWith('process')).sort((a, b) => seconds(a.startTime) - seconds(b.startTime));
    const publishes = all.filter((s) => s.name.startsWith('publish')).sort((a, b) => seconds(a.startTime) - seconds(b.startTime));
    expect(attempts.map((a) => a.attributes['celery.retries'])).toEqual([0, 1, 2]);
    expect(attempts.map((a) => a.attributes['celery.state'])).toEqual(['RETRY', 'RETRY', 'SUCCESS']);
    expect(publishes).toHaveLength(3);
    for (let i = 0; i < 3; i++) {
      expect(attempts[i]?.parentSpanContext?.spanId).toBe(publishes[i]?.spanContext().spanId);
      if (i > 0) expect(publishes[i]?.parentSpanContext?.spanId).toBe(attempts[i - 1]?.spanContext().spanId);
    }
  });

  it('starts an attempt no later than a message it published, whichever of the two arrives first', async () => {
    // Prefork: the pool process runs the task and publishes its retry (or a child) before the
    // worker's main process hears it started and sends task-started, later by its own clock.
    const R = '3333bbbb-3333-4333-8333-333333333333';
    const retry = { rootId: R, name: 'pulse.flaky_retry', queue: 'celery' };
    const attempt0 = [
      ev('task-sent', R, T0, { ...retry, retries: 0 }),
      ev('task-received', R, T0 + 0.1, { ...retry, retries: 0 }),
    ];
    const startedLate = ev('task-started', R, T0 + 0.2);
    const retrySent = ev('task-sent', R, T0 + 0.15, { ...retry, retries: 1, parentId: R });
    const retried = ev('task-retried', R, T0 + 0.3, { exception: "ConnectionError('x')" });
    for (const order of [[startedLate, retrySent], [retrySent, startedLate]]) {
      const { apply, spans } = setup();
      apply(...attempt0, ...order, retried);
      const all = await spans();
      const attempt = one(all, 'process pulse.flaky_retry');
      const publish = all.find((s) => s.name === 'publish pulse.flaky_retry' && s.attributes['celery.retries'] === 1)!;
      expect(seconds(attempt.startTime)).toBeCloseTo(T0 + 0.15, 6);
      expect(seconds(publish.startTime)).toBeCloseTo(T0 + 0.15, 6);
      expect(seconds(attempt.endTime)).toBeCloseTo(T0 + 0.3, 6);
      expect(attempt.events.map((e) => [e.name, seconds(e.time)])).toEqual([
        ['task-received', T0 + 0.1],
        ['task-started', T0 + 0.2],
        ['exception', T0 + 0.3],
      ]);
    }

    // The same for a child sent from inside the parent.
    const { apply, spans } = setup();
    const [sentP, receivedP, startedP, sentC, ...rest] = parentAndChild();
    apply(sentP!, receivedP!, { ...sentC!, timestamp: T0 + 0.15 }, startedP!, ...rest);
    const all = await spans();
    expect(seconds(one(all, 'process pulse.parent').startTime)).toBeCloseTo(T0 + 0.15, 6);
    expect(seconds(one(all, 'publish pulse.ok').startTime)).toBeCloseTo(T0 + 0.15, 6);
    expect(seconds(one(all, 'process pulse.ok').startTime)).toBeCloseTo(T0 + 0.6, 6);
    expect(one(all, 'process pulse.ok').events.map((e) => e.name)).toEqual(['task-received']);
  });

  it('does not carry a message published by an earlier delivery over to the redelivered attempt', async () => {
    const { apply, spans } = setup();
    const [sentP, receivedP, startedP, sentC] = parentAndChild();
    apply(
      sentP!, receivedP!, startedP!, sentC!,
      // The worker died; the message is delivered again and this time runs to the end.
      ev('task-received', P, T0 + 5, { name: 'pulse.parent', rootId: P, retries: 0 }),
      ev('task-started', P, T0 + 5.1),
      ev('task-succeeded', P, T0 + 6, { runtime: 0.9 }),
    );
    const attempts = (await spans()).filter((s) => s.name === 'process pulse.parent');
    expect(attempts.map((a) => [a.attributes['celery_pulse.end_reason'], seconds(a.startTime)])).toEqual([
      ['redelivered', T0 + 0.2],
      [undefined, T0 + 5.1],
    ]);
  });

  it('marks a failure ERROR with an exception event whose traceback is capped to its end', async () => {
    const { apply, spans } = setup();
    const F = '44444444-4444-4444-8444-444444444444';
    const traceback = `Traceback (most recent call last):\n${'  File "x.py", line 1, in f\n'.repeat(400)}ValueError: boom`;
    apply(
      ev('task-received', F, T0, { name: 'pulse.fail_value', rootId: F }),
      ev('task-started', F, T0 + 0.1),
      ev('task-failed', F, T0 + 0.2, { exception: "ValueError('boom')", traceback }),
    );
    const [span] = await spans();
    expect(span?.name).toBe('process pulse.fail_value');
    expect(span?.status).toEqual({ code: SpanStatusCode.ERROR, message: "ValueError('boom')" });
    expect(span?.attributes['celery.state']).toBe('FAILURE');
    // Without a task-sent the process span is the root of its trace.
    expect(span?.parentSpanContext).toBeUndefined();
    const exception = span?.events.find((e) => e.name === 'exception');
    const stack = String(exception?.attributes?.['exception.stacktrace']);
    expect(traceback.length).toBeGreaterThan(4096);
    expect(stack.length).toBe(4097);
    expect(stack.endsWith('ValueError: boom')).toBe(true);
    expect(exception?.attributes).toMatchObject({ 'exception.type': 'ValueError', 'exception.message': 'boom' });
  });

  it('ends revoked and rejected tasks with an explicit status and reason, even when they never started', async () => {
    const { apply, spans } = setup();
    const X = '55555555-5555-4555-8555-555555555555';
    const J = '66666666-6666-4666-8666-666666666666';
    apply(
      ev('task-sent', X, T0, { name: 'pulse.ok', queue: 'celery', rootId: X }),
      ev('task-revoked', X, T0 + 1, { expired: true }),
      ev('task-received', J, T0, { name: 'pulse.reject', rootId: J }),
      ev('task-started', J, T0 + 0.1),
      ev('task-rejected', J, T0 + 0.2, { requeue: false }),
    );
    const all = await spans();
    const revoked = one(all, 'process pulse.ok');
    expect(revoked.status).toEqual({ code: SpanStatusCode.ERROR, message: 'revoked (expired)' });
    expect(revoked.attributes).toMatchObject({ 'celery.state': 'REVOKED', 'celery.revoked.reason': 'expired', 'celery_pulse.start_inferred': true });
    expect(seconds(revoked.startTime)).toBeCloseTo(T0 + 1, 6);
    const rejected = one(all, 'process pulse.reject');
    expect(rejected.status).toEqual({ code: SpanStatusCode.ERROR, message: 'rejected' });
    expect(seconds(rejected.startTime)).toBeCloseTo(T0 + 0.1, 6);
  });

  it("ends a Celery 5.7 rejection (task-failed carrying the Reject, then task-rejected) as one rejected span", async () => {
    const { apply, spans } = setup();
    const J = '77777777-7777-4777-8777-777777777777';
    apply(
      ev('task-received', J, T0, { name: 'pulse.reject', rootId: J }),
      ev('task-started', J, T0 + 0.1),
      ev('task-failed', J, T0 + 0.2, { exception: "Reject('rejected on purpose', False)" }),
      ev('task-rejected', J, T0 + 0.21, { requeue: false }),
    );
    const all = await spans();
    expect(all.filter((s) => s.name === 'process pulse.reject')).toHaveLength(1);
    const rejected = one(all, 'process pulse.reject');
    expect(rejected.status).toEqual({ code: SpanStatusCode.ERROR, message: 'rejected' });
    expect(rejected.attributes).toMatchObject({ 'celery.state': 'REJECTED' });
    expect(seconds(rejected.endTime)).toBeCloseTo(T0 + 0.2, 6);
  });

  it('ends a lost task\'s span at once, and ignores its outcome if that arrives later', async () => {
    const { apply, spans, state, traces } = setup();
    const L = '77777777-7777-4777-8777-777777777777';
    apply(ev('task-received', L, T0, { name: 'pulse.sleep', rootId: L }), ev('task-started', L, T0 + 0.5));
    // Its worker falls silent: the state's housekeeping declares the task lost.
    state.tick(Date.now() / 1000 + 2);
    apply(ev('task-succeeded', L, T0 + 9, { runtime: 8.5 }));
    const all = await spans();
    expect(all).toHaveLength(1);
    expect(all[0]?.status).toEqual({ code: SpanStatusCode.ERROR, message: 'lost (worker-lost)' });
    expect(all[0]?.attributes).toMatchObject({ 'celery.state': 'LOST', 'celery_pulse.end_reason': 'worker-lost' });
    expect(seconds(all[0]!.endTime) - seconds(all[0]!.startTime)).toBeGreaterThanOrEqual(2);
    expect(traces.openCount).toBe(0);
  });

  it('ends attempts open longer than maxSpanAge, the oldest beyond maxOpen, and everything on shutdown', async () => {
    const { apply, spans, traces } = setup({ maxSpanAge: 60, maxOpen: 2 });
    const ids = ['a1', 'a2', 'a3', 'a4'].map((s) => `${s}aaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa`);
    for (const [i, id] of ids.entries()) apply(ev('task-received', id, T0 + i, { name: 'pulse.sleep', rootId: id }), ev('task-started', id, T0 + i + 0.1));
    // Four started, at most two open: the first two were ended as `capacity`.
    expect(traces.openCount).toBe(2);
    traces.sweep(Date.now() / 1000 + 61);
    expect(traces.openCount).toBe(0);
    apply(ev('task-received', 'b1', T0 + 10, { name: 'pulse.sleep', rootId: 'b1' }), ev('task-started', 'b1', T0 + 10.1));
    traces.endAll(Date.now() / 1000);
    const all = await spans();
    const reasons = all.map((s) => [s.attributes['messaging.message.id'], s.attributes['celery_pulse.end_reason'], s.status.code]);
    expect(reasons).toEqual([
      [ids[0], 'capacity', SpanStatusCode.ERROR],
      [ids[1], 'capacity', SpanStatusCode.ERROR],
      [ids[2], 'max-age', SpanStatusCode.ERROR],
      [ids[3], 'max-age', SpanStatusCode.ERROR],
      ['b1', 'daemon-stopped', SpanStatusCode.UNSET],
    ]);
  });

  it('keeps one span when task-started arrives after the outcome', async () => {
    const { traces, spans, state } = setup();
    const S = '88888888-8888-4888-8888-888888888888';
    state.apply(ev('task-received', S, T0, { name: 'pulse.ok', rootId: S }), T0);
    state.apply(ev('task-succeeded', S, T0 + 1, { runtime: 0.4 }), T0 + 1);
    state.apply(ev('task-started', S, T0 + 0.6), T0 + 1);
    const all = await spans();
    expect(all).toHaveLength(1);
    expect(seconds(all[0]!.startTime)).toBeCloseTo(T0 + 0.6, 6);
    expect(all[0]?.spanContext().spanId).toBe(spanIdFor(S, 'process', 0));
    expect(traces.openCount).toBe(0);
  });

  it('keeps or drops whole workflows by trace id, and gives exemplars only for kept ones', async () => {
    const kept = hex(P);
    const { apply, spans, traces, state } = setup({ keep: (traceId) => traceId === kept });
    const Q = '99999999-9999-4999-8999-999999999999';
    apply(...parentAndChild());
    apply(ev('task-received', Q, T0, { name: 'pulse.ok', rootId: Q }), ev('task-started', Q, T0 + 0.1));
    expect(traces.exemplarFor(state.tasks.get(Q)!)).toBeUndefined();
    expect(traces.exemplarFor(state.tasks.get(C)!)).toEqual({ trace_id: kept });
    apply(ev('task-succeeded', Q, T0 + 0.2));
    const all = await spans();
    expect(all).toHaveLength(4);
    expect(new Set(all.map((s) => s.spanContext().traceId))).toEqual(new Set([kept]));
  });

  it('gives the open attempt\'s trace and span id as the exemplar', () => {
    const { apply, traces, state } = setup();
    apply(ev('task-received', P, T0, { name: 'pulse.ok', rootId: P }), ev('task-started', P, T0 + 0.1));
    expect(traces.exemplarFor(state.tasks.get(P)!)).toEqual({ trace_id: hex(P), span_id: spanIdFor(P, 'process', 0) });
  });

  it('exports args and kwargs only when asked, scrubbed', async () => {
    const { apply, spans } = setup({ taskArgs: true });
    apply(
      ev('task-sent', P, T0, { name: 'pulse.login', rootId: P, args: "('bob',)", kwargs: "{'password': 'hunter2', 'remember': True}" }),
      ev('task-received', P, T0 + 0.1, { name: 'pulse.login', rootId: P, args: "('bob',)", kwargs: "{'password': 'hunter2', 'remember': True}" }),
      ev('task-started', P, T0 + 0.2),
      ev('task-succeeded', P, T0 + 0.3),
    );
    const all = await spans();
    expect(all).toHaveLength(2);
    for (const s of all) {
      expect(s.attributes['celery.args']).toBe("('bob',)");
      expect(s.attributes['celery.kwargs']).toBe("{'password': '[REDACTED]', 'remember': True}");
    }
  });
});
