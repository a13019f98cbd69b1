// Attribute names and values the trace sink writes, copied here (as opentelemetry-js does itself)
// instead of importing @opentelemetry/semantic-conventions' incubating entry point, whose exports
// change between releases. Sources: OpenTelemetry messaging semantic conventions (v1.27+:
// `messaging.operation.type` with `send`/`process`), the exception event, and the Python
// opentelemetry-instrumentation-celery attributes (`celery.*`).

// Messaging (https://opentelemetry.io/docs/specs/semconv/messaging/messaging-spans/)
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';

export const OPERATION_TYPE_SEND = 'send';
export const OPERATION_TYPE_PROCESS = 'process';

// Exceptions (https://opentelemetry.io/docs/specs/semconv/exceptions/exceptions-spans/)
export const EXCEPTION_EVENT_NAME = 'exception';
export const ATTR_EXCEPTION_TYPE = 'exception.type';
export const ATTR_EXCEPTION_MESSAGE = 'exception.message';
export const ATTR_EXCEPTION_STACKTRACE = 'exception.stacktrace';

// Resource
export const ATTR_SERVICE_NAME = 'service.name';
export const ATTR_SERVICE_VERSION = 'service.version';

// Python opentelemetry-instrumentation-celery (instrumentation/celery/utils.py and __init__.py)
export const ATTR_CELERY_ACTION = 'celery.action';
export const CELERY_ACTION_APPLY_ASYNC = 'apply_async';
export const CELERY_ACTION_RUN = 'run';
export const ATTR_CELERY_TASK_NAME = 'celery.task_name';
export const ATTR_CELERY_HOSTNAME = 'celery.hostname';
export const ATTR_CELERY_RETRIES = 'celery.retries';
export const ATTR_CELERY_STATE = 'celery.state';
export const ATTR_CELERY_RETRY_REASON = 'celery.retry.reason';
export const ATTR_CELERY_REVOKED_REASON = 'celery.revoked.reason';

// celery-pulse's own, under the same `celery.` namespace
export const ATTR_CELERY_ROOT_ID = 'celery.root_id';
export const ATTR_CELERY_PARENT_ID = 'celery.parent_id';
export const ATTR_CELERY_ARGS = 'celery.args';
export const ATTR_CELERY_KWARGS = 'celery.kwargs';
export const ATTR_CELERY_QUEUE_WAIT = 'celery.queue_wait_seconds';
/** Why the span was ended without a Celery outcome event: `worker-lost`, `evicted`, `max-age`, … */
export const ATTR_CELERY_PULSE_END_REASON = 'celery_pulse.end_reason';
/** The span's start is inferred (task-started never arrived): from task-received, runtime or the outcome. */
export const ATTR_CELERY_PULSE_START_INFERRED = 'celery_pulse.start_inferred';
export const RECEIVED_EVENT_NAME = 'task-received';
/** On a process span that starts before its task-started (a message it published came first: state/attempts.ts): when that came. */
export const STARTED_EVENT_NAME = 'task-started';
