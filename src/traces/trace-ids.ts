import { createHash } from 'node:crypto';
import type { HrTime } from '@opentelemetry/api';
import type { IdGenerator } from '@opentelemetry/sdk-trace';
import type { TaskRecord } from '../state/task-table.js';

// Span and trace ids are functions of Celery's own ids, never random: events of one workflow
// arrive from several processes (the client, each worker), late or out of order (PROTOCOL.md §3),
// and each span must find its parent without the parent's span ever being held in memory.

const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const ALL_ZERO = /^0+$/;

/**
 * The trace of a workflow, from its root task id. Celery ids are UUIDs by default, 128 bits like a
 * trace id: the trace id is then the root id's hex digits, so pasting a root task id (without
 * dashes) into the trace backend finds the trace. Other ids (custom `task_id=`) are hashed.
 */
export function traceIdForRoot(rootId: string): string {
  if (UUID.test(rootId)) {
    const hex = rootId.replace(/-/g, '').toLowerCase();
    if (!ALL_ZERO.test(hex)) return hex;
  }
  return digest(`trace\u0000${rootId}`, 32);
}

/** The trace a task belongs to: its root's, or its own when the root is unknown (Celery 3.1, missed events). */
export function traceIdOf(task: TaskRecord): string {
  return traceIdForRoot(task.rootId ?? task.uuid);
}

export type SpanRole = 'publish' | 'process';

/**
 * One span per (task, role, attempt): `retries` is Celery's retry count of the attempt, and
 * `delivery` counts starts of the same attempt (a message redelivered after a lost worker).
 */
export function spanIdFor(taskId: string, role: SpanRole, retries: number, delivery = 0): string {
  return digest(`${role}\u0000${taskId}\u0000${retries}\u0000${delivery}`, 16);
}

function digest(input: string, hexChars: number): string {
  const hex = createHash('sha256').update(input).digest('hex').slice(0, hexChars);
  // All-zero ids are invalid in OpenTelemetry; a 2^-64 chance, but a silent drop if it happened.
  return ALL_ZERO.test(hex) ? `${hex.slice(1)}1` : hex;
}

/** Celery timestamps (float epoch seconds) as OpenTelemetry's [seconds, nanoseconds], without float drift into ms. */
export function toHrTime(seconds: number): HrTime {
  let s = Math.floor(seconds);
  let ns = Math.round((seconds - s) * 1e9);
  if (ns >= 1e9) {
    s += 1;
    ns -= 1e9;
  }
  return [s, ns];
}

/**
 * Hands the SDK's tracer the ids chosen for the next span. The tracer asks its IdGenerator for a
 * span id on every startSpan (and a trace id for root spans); the sink sets both just before, on
 * the same synchronous call, so no id is ever random.
 */
export class DerivedIdGenerator implements IdGenerator {
  private traceId = '';
  private spanId = '';

  next(traceId: string, spanId: string): void {
    this.traceId = traceId;
    this.spanId = spanId;
  }

  generateTraceId(): string {
    return this.traceId;
  }

  generateSpanId(): string {
    return this.spanId;
  }
}
