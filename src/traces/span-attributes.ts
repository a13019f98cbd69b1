import type { Attributes } from '@opentelemetry/api';
import { exceptionClass } from '../protocol/events.js';
import type { TaskRecord } from '../state/task-table.js';
import * as sc from './semconv.js';

// Attributes shared by publish and process spans, and the exception event, from what Celery's
// events carry: messaging semantic conventions plus the Python Celery instrumentation's celery.*.

const MAX_TRACEBACK_CHARS = 4096;
const MAX_DESCRIPTION_CHARS = 512;

/** `send` (publish span, celery.action=apply_async) or `process` (celery.action=run). */
export function messagingAttributes(task: TaskRecord, system: string, operationType: string, queue: string | undefined): Attributes {
  const publish = operationType === sc.OPERATION_TYPE_SEND;
  const a: Attributes = {
    [sc.ATTR_MESSAGING_SYSTEM]: system,
    [sc.ATTR_MESSAGING_OPERATION_TYPE]: operationType,
    [sc.ATTR_MESSAGING_OPERATION_NAME]: publish ? 'publish' : 'process',
    [sc.ATTR_MESSAGING_MESSAGE_ID]: task.uuid,
    [sc.ATTR_CELERY_ACTION]: publish ? sc.CELERY_ACTION_APPLY_ASYNC : sc.CELERY_ACTION_RUN,
    [sc.ATTR_CELERY_TASK_NAME]: task.name ?? 'unknown',
  };
  // Only task-sent names the queue (workers do not report it): unknown stays absent, not guessed.
  const destination = queue ?? task.queue;
  if (destination !== undefined) a[sc.ATTR_MESSAGING_DESTINATION_NAME] = destination;
  if (task.rootId !== undefined) a[sc.ATTR_CELERY_ROOT_ID] = task.rootId;
  if (task.parentId !== undefined) a[sc.ATTR_CELERY_PARENT_ID] = task.parentId;
  return a;
}

/** The `exception` event from Celery's repr (`ValueError('boom')`) and traceback string. */
export function exceptionAttributes(repr: string | undefined, traceback: string | undefined): Attributes {
  const r = repr ?? '';
  const a: Attributes = {
    [sc.ATTR_EXCEPTION_TYPE]: exceptionClass(r),
    [sc.ATTR_EXCEPTION_MESSAGE]: capDescription(exceptionMessage(r)),
  };
  if (traceback !== undefined && traceback !== '') a[sc.ATTR_EXCEPTION_STACKTRACE] = capTail(traceback, MAX_TRACEBACK_CHARS);
  return a;
}

export function capDescription(s: string): string {
  return s.length > MAX_DESCRIPTION_CHARS ? `${s.slice(0, MAX_DESCRIPTION_CHARS)}…` : s;
}

/** `ValueError('boom')` -> `boom`; anything else is kept whole. */
function exceptionMessage(repr: string): string {
  const m = /^[\w.]+\((['"])([\s\S]*)\1,?\)$/.exec(repr.trim());
  return m?.[2] ?? repr;
}

/** A Python traceback's useful end is its last lines (the raising frame and the exception). */
function capTail(s: string, max: number): string {
  return s.length > max ? `…${s.slice(s.length - max)}` : s;
}
