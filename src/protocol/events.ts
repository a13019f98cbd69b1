// Typed Celery events, validated from the loosely typed objects a worker sends.
// Field sets follow celery/events (dispatcher.py, worker/heartbeat.py, worker/request.py)
// as documented in shared/celery-wire/PROTOCOL.md §3.

export const TASK_EVENT_TYPES = [
  'task-sent',
  'task-received',
  'task-started',
  'task-succeeded',
  'task-failed',
  'task-retried',
  'task-rejected',
  'task-revoked',
  'task-cancelled',
] as const;
const WORKER_EVENT_TYPES = ['worker-online', 'worker-heartbeat', 'worker-offline'] as const;

export type TaskEventType = (typeof TASK_EVENT_TYPES)[number];
export type WorkerEventType = (typeof WORKER_EVENT_TYPES)[number];

export interface TaskEvent {
  readonly kind: 'task';
  readonly type: TaskEventType;
  readonly uuid: string;
  /** Node name of the sender: the worker (`w1@host`), or the client (`gen123@host`) for task-sent. */
  readonly hostname: string;
  /** Sender's `time.time()`, epoch seconds. */
  readonly timestamp: number;
  readonly clock: number | undefined;
  readonly name: string | undefined;
  readonly queue: string | undefined;
  readonly retries: number | undefined;
  readonly rootId: string | undefined;
  readonly parentId: string | undefined;
  /** ETA as epoch seconds, when the task was scheduled for later. */
  readonly eta: number | undefined;
  readonly exception: string | undefined;
  readonly traceback: string | undefined;
  readonly runtime: number | undefined;
  readonly args: string | undefined;
  readonly kwargs: string | undefined;
  readonly terminated: boolean | undefined;
  readonly expired: boolean | undefined;
  readonly requeue: boolean | undefined;
}

export interface WorkerEvent {
  readonly kind: 'worker';
  readonly type: WorkerEventType;
  readonly hostname: string;
  readonly timestamp: number;
  /** Heartbeat interval in seconds the worker promises (`freq`). */
  readonly freq: number | undefined;
  /** Requests executing now; absent on heartbeats sent in reply to a pidbox broadcast. */
  readonly active: number | undefined;
  /** Tasks accepted since the worker started. */
  readonly processed: number | undefined;
  readonly loadavg: readonly number[] | undefined;
  readonly swVer: string | undefined;
}

export type CeleryEvent = TaskEvent | WorkerEvent;

/** Why a message or an event was dropped; each is a label value of the decode-error counter. */
export type DecodeErrorReason =
  | 'invalid_envelope'
  | 'invalid_base64'
  | 'unsupported_content_type'
  | 'unsupported_body_encoding'
  | 'invalid_json'
  | 'invalid_msgpack'
  | 'not_an_event'
  | 'missing_field'
  | 'wrong_field_type'
  | 'unknown_event_type'
  | 'oversized';

export const DECODE_ERROR_REASONS: readonly DecodeErrorReason[] = [
  'invalid_envelope',
  'invalid_base64',
  'unsupported_content_type',
  'unsupported_body_encoding',
  'invalid_json',
  'invalid_msgpack',
  'not_an_event',
  'missing_field',
  'wrong_field_type',
  'unknown_event_type',
  'oversized',
];

const taskTypes = new Set<string>(TASK_EVENT_TYPES);
const workerTypes = new Set<string>(WORKER_EVENT_TYPES);

// Strings longer than this are cut: Celery caps argsrepr/result at ~1024 characters, so anything
// far longer is hostile or broken input and must not be kept in memory or in labels.
export const MAX_FIELD_LENGTH = 256;
const MAX_TEXT_LENGTH = 8192;

type Raw = Record<string, unknown>;

// Absurd numbers from a broken or hostile sender are not taken at face value: a runtime of 1e308
// would make a histogram's _sum +Inf for good, and a heartbeat freq of 1e-300 would declare a live
// worker dead (and its tasks lost) within a millisecond. A runtime over a year is dropped (the
// state measures it from the task's timestamps instead); freq is kept within what Celery's
// worker_heartbeat could sensibly be set to (its default is 2 s).
/** The longest runtime taken as a measurement, reported or measured (state/machine.ts). */
export const MAX_RUNTIME_SECONDS = 365 * 86400;
const MIN_HEARTBEAT_FREQ = 0.5;
const MAX_HEARTBEAT_FREQ = 3600;
export type NormalizeResult = CeleryEvent | DecodeErrorReason;

function optString(raw: Raw, key: string, max: number): string | undefined | null {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return null;
  return v.length > max ? v.slice(0, max) : v;
}

// Control characters (NUL among them) and lone UTF-16 surrogates have no place in a Prometheus
// label: scrapers reject or mangle them, and NUL separates the label values in the sinks' cache
// keys. A JSON "\ud800" escape, or a cut in the middle of a surrogate pair, produces the latter.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE_LABEL_CHARS = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/**
 * Label values celery-pulse writes itself: `unknown` (a task whose name, or an exception whose
 * class, never arrived) and `__overflow__` (the --max-label-values cap). The same text sent by a
 * worker or client is exported with WIRE_PREFIX, so it never merges with them.
 */
const RESERVED_LABEL_VALUES = new Set(['unknown', '__overflow__']);
const WIRE_PREFIX = 'wire:';

/**
 * A string that becomes a label value: cut to MAX_FIELD_LENGTH, unsafe characters as U+FFFD, a
 * reserved value (and anything already starting with WIRE_PREFIX, so the mapping stays one-to-one) prefixed.
 */
function labelSafe(value: string): string {
  const cut = value.length > MAX_FIELD_LENGTH ? value.slice(0, MAX_FIELD_LENGTH) : value;
  UNSAFE_LABEL_CHARS.lastIndex = 0;
  const safe = UNSAFE_LABEL_CHARS.test(cut) ? cut.replace(UNSAFE_LABEL_CHARS, '\ufffd') : cut;
  return RESERVED_LABEL_VALUES.has(safe) || safe.startsWith(WIRE_PREFIX) ? WIRE_PREFIX + safe : safe;
}

// Label values repeat endlessly (a few hundred task names, queues and hostnames), but JSON.parse
// makes a fresh copy of each in every event, and the task table kept three or four of them per
// task. One shared copy per value saves that memory, the label check, and a rehash in every
// label lookup. Bounded, so a flood of distinct values only stops being interned.
const MAX_INTERNED = 10_000;
const interned = new Map<string, string>();

/** labelSafe(value), as one shared string per distinct value (while fewer than MAX_INTERNED). */
export function internLabel(value: string): string {
  if (value.length > MAX_FIELD_LENGTH) return labelSafe(value);
  const hit = interned.get(value);
  if (hit !== undefined) return hit;
  const safe = labelSafe(value);
  if (interned.size < MAX_INTERNED) interned.set(value, safe);
  return safe;
}

/**
 * internLabel with the last value remembered, one memo per field: the events of a task.multi batch
 * all come from one worker, and runs of them share a task name and queue. Comparing with the last
 * value is cheaper than hashing the fresh string JSON.parse made for the map lookup.
 */
class LabelMemo {
  private value = '';
  private safe = '';

  intern(value: string): string {
    if (value === this.value) return this.safe;
    const safe = internLabel(value);
    this.value = value;
    this.safe = safe;
    return safe;
  }
}

const hostnames = new LabelMemo();
const names = new LabelMemo();
const queues = new LabelMemo();

function optLabel(raw: Raw, key: string, memo: LabelMemo): string | undefined | null {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return null;
  return memo.intern(v);
}

/**
 * Celery 5.5+ sends a countdown/ETA task for a RabbitMQ quorum queue through native delayed
 * delivery (kombu/transport/native_delayed_delivery.py calculate_routing_key): its task-sent names
 * the routing key with the delay in front as 28 binary digits, `0.0.…1.0.celery`. The queue is what
 * follows; left as it was, each distinct delay would be a queue label and a queue to poll.
 */
const DELAY_PREFIX = /^(?:[01]\.){28}/;
const DELAY_PREFIX_LENGTH = 56;

function withoutDelay(queue: string): string {
  return queue.length > DELAY_PREFIX_LENGTH && DELAY_PREFIX.test(queue) ? queue.slice(DELAY_PREFIX_LENGTH) : queue;
}

/** The prefix goes before interning: each distinct delay would otherwise take a slot of the intern table. */
function optQueue(raw: Raw, key: string): string | undefined | null {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') return null;
  return queues.intern(withoutDelay(v));
}

/** A queue named outside an event (a worker's inspect reply: the routing key), read as an event's is. */
export function queueLabel(routingKey: string): string {
  return internLabel(withoutDelay(routingKey));
}

function optNumber(raw: Raw, key: string): number | undefined | null {
  const v = raw[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  return v;
}

function optBool(raw: Raw, key: string): boolean | undefined {
  const v = raw[key];
  return typeof v === 'boolean' ? v : undefined;
}

/** Parses Celery's ISO-8601 `eta` (with offset, or naive meaning UTC) to epoch seconds. */
export function parseEta(value: unknown): number | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 64) return undefined;
  const hasZone = /(?:Z|[+-]\d\d:?\d\d)$/.test(value);
  const ms = Date.parse(hasZone ? value : `${value}Z`);
  return Number.isFinite(ms) ? ms / 1000 : undefined;
}

/**
 * Validates one decoded event object. Returns the typed event, or the reason it was rejected.
 * Unknown fields are ignored; fields of the wrong type reject the event rather than being guessed,
 * because a guessed label is a lie on a dashboard.
 */
export function normalizeEvent(value: unknown): NormalizeResult {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return 'not_an_event';
  const raw = value as Raw;
  const type = raw['type'];
  if (typeof type !== 'string') return type === undefined ? 'missing_field' : 'wrong_field_type';
  const hostname = raw['hostname'];
  if (hostname === undefined || hostname === null) return 'missing_field';
  if (typeof hostname !== 'string' || hostname.length === 0) return 'wrong_field_type';
  const timestamp = raw['timestamp'];
  if (timestamp === undefined || timestamp === null) return 'missing_field';
  if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) return 'wrong_field_type';
  const host = hostnames.intern(hostname);

  if (taskTypes.has(type)) return normalizeTaskEvent(raw, type as TaskEventType, host, timestamp);
  if (workerTypes.has(type)) return normalizeWorkerEvent(raw, type as WorkerEventType, host, timestamp);
  return 'unknown_event_type';
}

function normalizeTaskEvent(raw: Raw, type: TaskEventType, hostname: string, timestamp: number): NormalizeResult {
  const uuid = raw['uuid'];
  if (uuid === undefined || uuid === null) return 'missing_field';
  if (typeof uuid !== 'string' || uuid.length === 0 || uuid.length > MAX_FIELD_LENGTH) return 'wrong_field_type';
  const name = optLabel(raw, 'name', names);
  // task-sent puts the queue in `queue`; `routing_key` is the same under the default direct exchange.
  const queue = optQueue(raw, 'queue') ?? optQueue(raw, 'routing_key');
  const retries = optNumber(raw, 'retries');
  const clock = optNumber(raw, 'clock');
  const runtime = optNumber(raw, 'runtime');
  const exception = optString(raw, 'exception', MAX_TEXT_LENGTH);
  const traceback = optString(raw, 'traceback', MAX_TEXT_LENGTH);
  const rootId = optString(raw, 'root_id', MAX_FIELD_LENGTH);
  const parentId = optString(raw, 'parent_id', MAX_FIELD_LENGTH);
  const args = optString(raw, 'args', MAX_TEXT_LENGTH);
  const kwargs = optString(raw, 'kwargs', MAX_TEXT_LENGTH);
  if (
    name === null ||
    queue === null ||
    retries === null ||
    clock === null ||
    runtime === null ||
    exception === null ||
    traceback === null ||
    rootId === null ||
    parentId === null
  ) {
    return 'wrong_field_type';
  }
  return {
    kind: 'task',
    type,
    uuid,
    hostname,
    timestamp,
    clock,
    name: name === '' ? undefined : name,
    queue: queue === '' ? undefined : queue,
    retries,
    rootId,
    parentId,
    eta: parseEta(raw['eta']),
    exception,
    traceback,
    runtime: runtime !== undefined && runtime >= 0 && runtime <= MAX_RUNTIME_SECONDS ? runtime : undefined,
    // args/kwargs are repr strings; anything else (a mistyped field) is simply not kept.
    args: args ?? undefined,
    kwargs: kwargs ?? undefined,
    terminated: optBool(raw, 'terminated'),
    expired: optBool(raw, 'expired'),
    requeue: optBool(raw, 'requeue'),
  };
}

function normalizeWorkerEvent(raw: Raw, type: WorkerEventType, hostname: string, timestamp: number): NormalizeResult {
  const freq = optNumber(raw, 'freq');
  const active = optNumber(raw, 'active');
  const processed = optNumber(raw, 'processed');
  const swVer = optString(raw, 'sw_ver', 64);
  if (freq === null || active === null || processed === null || swVer === null) return 'wrong_field_type';
  const load = raw['loadavg'];
  let loadavg: number[] | undefined;
  if (Array.isArray(load) && load.length <= 3 && load.every((x) => typeof x === 'number' && Number.isFinite(x))) {
    loadavg = load as number[];
  }
  return {
    kind: 'worker',
    type,
    hostname,
    timestamp,
    freq: freq !== undefined && freq > 0 ? Math.min(MAX_HEARTBEAT_FREQ, Math.max(MIN_HEARTBEAT_FREQ, freq)) : undefined,
    active,
    processed,
    loadavg,
    swVer,
  };
}

/**
 * The exception class name from Celery's repr string: `ValueError('boom')` -> `ValueError`,
 * `module.CustomError("x")` -> `module.CustomError`. Anything unparseable becomes `unknown`.
 */
export function exceptionClass(repr: string | undefined, traceback?: string): string {
  if (repr === undefined) return 'unknown';
  const m = /^\s*([A-Za-z_][\w.]{0,127})\s*(?:\(|:|$)/.exec(repr);
  const name = m?.[1];
  if (name === undefined) return 'unknown';
  // A failure the pool reports rather than the task (a hard time limit; any failure in Celery
  // 5.2's threads pool) carries billiard's wrapper, whose repr is an empty `ExceptionWithTraceback()`.
  // The class is on the traceback's last line, module-qualified as Python prints it
  // (`billiard.exceptions.TimeLimitExceeded: ...`): without the module, as a repr gives it.
  if (name === 'ExceptionWithTraceback' && traceback !== undefined) {
    const last = /(?:^|\n)(?:[A-Za-z_]\w*\.){0,16}([A-Za-z_]\w{0,127})(?::[^\n]*)?\s*$/.exec(traceback);
    if (last?.[1] !== undefined) return labelSafe(last[1]);
  }
  return labelSafe(name);
}
