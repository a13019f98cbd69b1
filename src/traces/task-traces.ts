import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { Attributes, Span, Tracer } from '@opentelemetry/api';
import type { TaskEvent } from '../protocol/events.js';
import type { Attempt } from '../state/attempts.js';
import { isRejectFailure } from '../state/machine.js';
import type { LostReason, TaskObserver } from '../state/observer.js';
import type { TaskRecord } from '../state/task-table.js';
import type { ExemplarSource } from '../metrics/exemplars.js';
import { TaskMemos } from './task-memos.js';
import type { TaskMemo } from './task-memos.js';
import { scrubRepr } from './scrub.js';
import { capDescription, exceptionAttributes, messagingAttributes } from './span-attributes.js';
import * as sc from './semconv.js';
import { spanIdFor, toHrTime, traceIdOf } from './trace-ids.js';
import type { DerivedIdGenerator } from './trace-ids.js';

export interface TaskTracesOptions {
  readonly tracer: Tracer;
  readonly ids: DerivedIdGenerator;
  readonly keep: (traceId: string) => boolean;
  /** `messaging.system`: `rabbitmq` on AMQP, `redis` on Redis. */
  readonly system: string;
  readonly taskArgs: boolean;
  /** Seconds an attempt may stay open before it is ended as `max-age`. */
  readonly maxSpanAge: number;
  /** Most attempts open at once (and task memos kept); the oldest is ended as `capacity` beyond it. */
  readonly maxOpen: number;
}

/**
 * The process span of an attempt, waiting for its outcome: a few fields copied from the state's
 * attempt descriptor (state/attempts.ts), not an SDK span, until it ends.
 */
interface ProcessSpan {
  /** Kept for attributes when the attempt is ended by housekeeping; never mutated here. */
  readonly task: TaskRecord;
  readonly traceId: string;
  readonly spanId: string;
  readonly retries: number;
  /** Worker clock (event timestamp) of task-started, or inferred. */
  readonly startedAt: number;
  /** Local clock when opened, for the max-age guard. */
  readonly openedAt: number;
  readonly hostname: string | undefined;
  readonly queueWait: number | undefined;
  readonly receivedAt: number | undefined;
  readonly inferredStart: boolean;
  /** Earliest proof it was running, known when it started (Attempt.ranSince). */
  readonly ranSince: number | undefined;
}

interface Outcome {
  readonly state: string;
  readonly error: string | undefined;
  readonly exception?: { readonly repr: string | undefined; readonly traceback: string | undefined };
  readonly attributes?: Attributes;
  readonly endReason?: string;
  /** Only end an attempt that exists or a task that was received: lost/evicted tasks never started get no span. */
  readonly needsReceipt?: boolean;
}


/**
 * Spans from one broker's task transitions. Span model: a PRODUCER `publish <task>` span per
 * task-sent (zero length, at the client's timestamp) and a CONSUMER `process <task>` span per
 * attempt, task-started to its outcome, child of that attempt's publish span. A retry's publish
 * span is a child of the attempt that retried; a task sent from inside another task is a child of
 * that task's current process span. Ids come from trace-ids.ts, so nothing but small memos is
 * kept between events and late events still land in the right place.
 */
export class TaskTraces implements TaskObserver, ExemplarSource {
  private readonly o: TaskTracesOptions;
  private readonly open = new Map<string, ProcessSpan>();
  private readonly memos: TaskMemos;
  /** Whether task-sent events arrive on this broker at all (clients with task_send_sent_event). */
  private sentSeen = false;

  constructor(options: TaskTracesOptions) {
    this.o = options;
    this.memos = new TaskMemos(options.maxOpen);
  }

  get openCount(): number {
    return this.open.size;
  }

  taskSent(task: TaskRecord, event: TaskEvent): void {
    const memo = this.memos.touch(task.uuid);
    const retries = event.retries ?? 0;
    this.sentSeen = true;
    if (!memo.published.includes(retries)) memo.published.push(retries);
    if (this.o.taskArgs) this.noteArgs(memo, event);
    const traceId = traceIdOf(task);
    if (!this.o.keep(traceId)) return;
    const attributes = messagingAttributes(task, this.o.system, sc.OPERATION_TYPE_SEND, event.queue);
    attributes[sc.ATTR_CELERY_HOSTNAME] = event.hostname;
    attributes[sc.ATTR_CELERY_RETRIES] = retries;
    if (this.o.taskArgs) this.addArgs(attributes, memo);
    const spanId = spanIdFor(task.uuid, 'publish', retries);
    const span = this.start(`publish ${task.name ?? 'unknown'}`, SpanKind.PRODUCER, traceId, spanId, this.publishParent(task, memo, retries), event.timestamp, attributes);
    span.end(toHrTime(event.timestamp));
  }

  taskReceived(task: TaskRecord, event: TaskEvent): void {
    const memo = this.memos.touch(task.uuid);
    if (this.o.taskArgs && memo.args === undefined) this.noteArgs(memo, event);
  }

  taskStarted(task: TaskRecord, event: TaskEvent, queueWait: number | undefined, attempt: Attempt): void {
    const memo = this.memos.touch(task.uuid);
    // Its outcome was already handled (events out of order): the span exists, do not reopen it.
    if (attempt.ended) return;
    const previous = this.open.get(task.uuid);
    if (previous !== undefined) {
      this.open.delete(task.uuid);
      this.end(task, previous, event.timestamp, memo, {
        state: 'STARTED',
        error: 'started again before an outcome arrived (message redelivered)',
        endReason: 'redelivered',
      });
    }
    memo.processRetries = attempt.retries;
    memo.processDelivery = attempt.delivery;
    const traceId = traceIdOf(task);
    if (!this.o.keep(traceId)) return;
    this.open.set(task.uuid, {
      task,
      traceId,
      spanId: spanIdFor(task.uuid, 'process', attempt.retries, attempt.delivery),
      retries: attempt.retries,
      startedAt: event.timestamp,
      openedAt: Date.now() / 1000,
      hostname: event.hostname,
      queueWait,
      receivedAt: attempt.receivedAt,
      inferredStart: false,
      ranSince: attempt.ranSince,
    });
    if (this.open.size > this.o.maxOpen) this.endOldest('capacity', Date.now() / 1000);
  }

  taskSucceeded(task: TaskRecord, event: TaskEvent, _runtime: number | undefined, attempt: Attempt): void {
    this.finish(task, event, attempt, { state: 'SUCCESS', error: undefined });
  }

  taskFailed(task: TaskRecord, event: TaskEvent, exception: string, _runtime: number | undefined, attempt: Attempt): void {
    // Celery 5.7's task-failed for Reject(requeue=False) ends the attempt as the rejection it is;
    // the task-rejected after it finds the span closed.
    const rejected = isRejectFailure(exception);
    this.finish(task, event, attempt, {
      state: rejected ? 'REJECTED' : 'FAILURE',
      error: rejected ? 'rejected' : (event.exception ?? 'failed'),
      exception: { repr: event.exception, traceback: event.traceback },
    });
  }

  taskRetried(task: TaskRecord, event: TaskEvent, _exception: string, _runtime: number | undefined, attempt: Attempt): void {
    this.finish(task, event, attempt, {
      state: 'RETRY',
      error: `retry: ${event.exception ?? 'unknown'}`,
      exception: { repr: event.exception, traceback: event.traceback },
      attributes: { [sc.ATTR_CELERY_RETRY_REASON]: capDescription(event.exception ?? 'unknown') },
    });
  }

  taskRejected(task: TaskRecord, event: TaskEvent, attempt: Attempt): void {
    this.finish(task, event, attempt, { state: 'REJECTED', error: event.requeue === true ? 'rejected (requeued)' : 'rejected' });
  }

  taskRevoked(task: TaskRecord, event: TaskEvent, attempt: Attempt): void {
    const reason = event.expired === true ? 'expired' : event.terminated === true ? 'terminated' : 'revoked';
    this.finish(task, event, attempt, {
      state: 'REVOKED',
      error: `revoked (${reason})`,
      attributes: { [sc.ATTR_CELERY_REVOKED_REASON]: reason },
    });
  }

  taskCancelled(task: TaskRecord, event: TaskEvent, attempt: Attempt): void {
    // Celery 5.1+: the worker lost its broker connection; the message will be delivered again.
    this.finish(task, event, attempt, { state: 'CANCELLED', error: 'cancelled (connection to the broker lost; the message is redelivered)' });
  }

  taskLost(task: TaskRecord, reason: LostReason, now: number, attempt: Attempt): void {
    const open = this.open.get(task.uuid);
    // `now` is the local clock; the attempt's times are the worker's: carry the elapsed time over.
    const end = open !== undefined ? open.startedAt + Math.max(0, now - open.openedAt) : now;
    this.finishAt(task, end, undefined, attempt, { state: 'LOST', error: `lost (${reason})`, endReason: reason, needsReceipt: true });
  }

  taskForgotten(): void {
    // Open spans are kept by task id (a span may outlive the record) and bounded by sweep().
  }

  /** Housekeeping: ends attempts open longer than maxSpanAge. `now` is the local clock. */
  sweep(now: number): void {
    for (const [uuid, attempt] of this.open) {
      if (now - attempt.openedAt < this.o.maxSpanAge) break;
      this.open.delete(uuid);
      this.endDetached(attempt, now, { state: 'STARTED', error: `no outcome within ${this.o.maxSpanAge} s`, endReason: 'max-age' });
    }
  }

  /** Ends every open attempt (the daemon stops): UNSET, not ERROR, since the task may well succeed. */
  endAll(now: number): void {
    for (const [uuid, attempt] of this.open) {
      this.open.delete(uuid);
      this.endDetached(attempt, now, { state: 'STARTED', error: undefined, endReason: 'daemon-stopped' });
    }
  }

  exemplarFor(task: TaskRecord): Record<string, string> | undefined {
    const attempt = this.open.get(task.uuid);
    if (attempt !== undefined) return { trace_id: attempt.traceId, span_id: attempt.spanId };
    const traceId = traceIdOf(task);
    return this.o.keep(traceId) ? { trace_id: traceId } : undefined;
  }

  private finish(task: TaskRecord, event: TaskEvent, attempt: Attempt, outcome: Outcome): void {
    this.finishAt(task, event.timestamp, event.hostname, attempt, outcome);
  }

  private finishAt(task: TaskRecord, endedAt: number, hostname: string | undefined, attempt: Attempt, outcome: Outcome): void {
    const memo = this.memos.touch(task.uuid);
    const open = this.open.get(task.uuid);
    if (open !== undefined) {
      this.open.delete(task.uuid);
      this.end(task, open, endedAt, memo, outcome, hostname, attempt.ranSince);
      return;
    }
    // Started, with its span already ended by housekeeping or not kept; or the attempt had
    // already ended (a second outcome): nothing left to end.
    if (!attempt.inferredStart) return;
    // No task-started seen for this attempt: revoked or rejected before it ran, or its
    // task-started is lost or still on its way. One span still records the outcome.
    if (outcome.needsReceipt === true && attempt.receivedAt === undefined) return;
    memo.processRetries = attempt.retries;
    memo.processDelivery = attempt.delivery;
    const traceId = traceIdOf(task);
    if (!this.o.keep(traceId)) return;
    const span: ProcessSpan = {
      task,
      traceId,
      spanId: spanIdFor(task.uuid, 'process', attempt.retries, attempt.delivery),
      retries: attempt.retries,
      startedAt: attempt.startedAt ?? endedAt,
      openedAt: Date.now() / 1000,
      hostname,
      queueWait: undefined,
      receivedAt: attempt.receivedAt,
      inferredStart: true,
      ranSince: undefined,
    };
    this.end(task, span, endedAt, memo, outcome, hostname, attempt.ranSince);
  }

  private endOldest(reason: string, now: number): void {
    const first = this.open.entries().next().value;
    if (first === undefined) return;
    const [uuid, attempt] = first;
    this.open.delete(uuid);
    this.endDetached(attempt, now, { state: 'STARTED', error: `ended early: more than ${this.o.maxOpen} spans open`, endReason: reason });
  }

  /** Ends an attempt from housekeeping: the local clock's elapsed time is carried onto the worker's. */
  private endDetached(attempt: ProcessSpan, now: number, outcome: Outcome): void {
    const end = attempt.startedAt + Math.max(0, now - attempt.openedAt);
    this.end(attempt.task, attempt, end, this.memos.touch(attempt.task.uuid), outcome);
  }

  /** `ranSince`: the state's latest proof the attempt was running (Attempt.ranSince), when it ended. */
  private end(task: TaskRecord, attempt: ProcessSpan, endedAt: number, memo: TaskMemo, outcome: Outcome, hostname?: string, ranSince?: number): void {
    const attributes = messagingAttributes(task, this.o.system, sc.OPERATION_TYPE_PROCESS, task.queue);
    const worker = hostname ?? attempt.hostname;
    if (worker !== undefined) attributes[sc.ATTR_CELERY_HOSTNAME] = worker;
    attributes[sc.ATTR_CELERY_RETRIES] = attempt.retries;
    attributes[sc.ATTR_CELERY_STATE] = outcome.state;
    if (attempt.queueWait !== undefined) attributes[sc.ATTR_CELERY_QUEUE_WAIT] = attempt.queueWait;
    if (attempt.inferredStart) attributes[sc.ATTR_CELERY_PULSE_START_INFERRED] = true;
    if (outcome.endReason !== undefined) attributes[sc.ATTR_CELERY_PULSE_END_REASON] = outcome.endReason;
    if (outcome.attributes !== undefined) Object.assign(attributes, outcome.attributes);
    if (this.o.taskArgs) this.addArgs(attributes, memo);
    // A message it published can prove it ran before its task-started (state/attempts.ts).
    const start = Math.min(attempt.startedAt, attempt.ranSince ?? Infinity, ranSince ?? Infinity, endedAt);
    // The parent is chosen now, not at task-started: the task-sent may arrive after the worker's events.
    const parent = this.processParent(task, memo, attempt.retries);
    const span = this.start(`process ${task.name ?? 'unknown'}`, SpanKind.CONSUMER, attempt.traceId, attempt.spanId, parent, start, attributes);
    if (attempt.receivedAt !== undefined && attempt.receivedAt <= endedAt) {
      span.addEvent(sc.RECEIVED_EVENT_NAME, {}, toHrTime(attempt.receivedAt));
    }
    if (!attempt.inferredStart && start < attempt.startedAt) span.addEvent(sc.STARTED_EVENT_NAME, {}, toHrTime(attempt.startedAt));
    if (outcome.exception !== undefined) {
      span.addEvent(sc.EXCEPTION_EVENT_NAME, exceptionAttributes(outcome.exception.repr, outcome.exception.traceback), toHrTime(endedAt));
    }
    if (outcome.error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: capDescription(outcome.error) });
    span.end(toHrTime(Math.max(endedAt, start)));
  }

  private start(name: string, kind: SpanKind, traceId: string, spanId: string, parentSpanId: string | undefined, startedAt: number, attributes: Attributes): Span {
    this.o.ids.next(traceId, spanId);
    const parent =
      parentSpanId === undefined
        ? ROOT_CONTEXT
        : trace.setSpanContext(ROOT_CONTEXT, { traceId, spanId: parentSpanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
    return this.o.tracer.startSpan(name, { kind, startTime: toHrTime(startedAt), attributes }, parent);
  }

  /** A retry is published by the attempt that retried; a task sent by a task, by that task's attempt. */
  private publishParent(task: TaskRecord, memo: TaskMemo, retries: number): string | undefined {
    if (retries > 0) {
      const open = this.open.get(task.uuid);
      if (open !== undefined && open.retries === retries - 1) return open.spanId;
      return spanIdFor(task.uuid, 'process', retries - 1, memo.processRetries === retries - 1 ? memo.processDelivery : 0);
    }
    return task.parentId !== undefined ? this.currentProcessSpan(task.parentId) : undefined;
  }

  /**
   * Under its publish span when there is one. Celery publishes the message first and then sends
   * task-sent (app/amqp.py send_task_message), so a fast task can finish before its task-sent
   * arrives: once clients are seen to send task-sent at all, the publish span is counted on.
   * Without task-sent events, the process span hangs where the publish span would have.
   */
  private processParent(task: TaskRecord, memo: TaskMemo, retries: number): string | undefined {
    if (memo.published.includes(retries) || this.sentSeen) return spanIdFor(task.uuid, 'publish', retries);
    return this.publishParent(task, memo, retries);
  }

  private currentProcessSpan(taskId: string): string {
    const open = this.open.get(taskId);
    if (open !== undefined) return open.spanId;
    const memo = this.memos.get(taskId);
    if (memo === undefined || memo.processRetries < 0) return spanIdFor(taskId, 'process', 0);
    return spanIdFor(taskId, 'process', memo.processRetries, memo.processDelivery);
  }

  private noteArgs(memo: TaskMemo, event: TaskEvent): void {
    if (event.args !== undefined) memo.args = scrubRepr(event.args);
    if (event.kwargs !== undefined) memo.kwargs = scrubRepr(event.kwargs);
  }

  private addArgs(attributes: Attributes, memo: TaskMemo): void {
    if (memo.args !== undefined) attributes[sc.ATTR_CELERY_ARGS] = memo.args;
    if (memo.kwargs !== undefined) attributes[sc.ATTR_CELERY_KWARGS] = memo.kwargs;
  }
}
