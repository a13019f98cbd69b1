import type * as Msgpack from '@msgpack/msgpack';
import { lazyModule } from '../lazy-module.js';
import { normalizeEvent } from './events.js';
import type { CeleryEvent, DecodeErrorReason } from './events.js';

const msgpack = lazyModule<typeof Msgpack>('@msgpack/msgpack');

export interface DecoderSinks {
  /** Called once per valid event, in the order they appear in the frame. */
  readonly onEvent: (event: CeleryEvent) => void;
  /** Called once per rejected frame or rejected event inside a batch. */
  readonly onError: (reason: DecodeErrorReason, detail: string) => void;
}

export interface DecoderOptions {
  /** Frames larger than this are dropped unread (a 10 MB payload must not stall the loop). */
  readonly maxFrameBytes: number;
  /**
   * Sidecar mode: given the sender's node name and the routing key of a message that carries both
   * outside its body (kombu's `hostname` header), true drops the message without decoding it.
   */
  readonly skipMessage?: ((sender: string, routingKey: string) => boolean) | undefined;
}

const JSON_TYPES = new Set(['application/json', 'application/x-json', 'text/json']);
const MSGPACK_TYPES = new Set(['application/x-msgpack', 'application/msgpack']);
// Two linear checks instead of one anchored pattern: /^[A-Za-z0-9+/\r\n]*={0,2}[\r\n]*$/
// backtracks quadratically on a body of newlines (40 000 of them took 4 s; a 4 MB frame, hours).
const NOT_BASE64_RE = /[^A-Za-z0-9+/=\r\n]/;
const BASE64_TAIL_RE = /^={1,2}[\r\n]*$/;

function isBase64(body: string): boolean {
  if (NOT_BASE64_RE.test(body)) return false;
  const pad = body.indexOf('=');
  return pad === -1 || BASE64_TAIL_RE.test(body.slice(pad));
}

/**
 * Decodes a base64 body into `scratch`, returning the number of bytes, or -1 when it is not
 * base64. Buffer.write() silently skips characters outside the alphabet, so a body of kombu's
 * shape (padded, no line breaks) is checked by length in O(1); only other shapes take the
 * character scan, which was 6.6% of a busy daemon's CPU. '-' and '_' (URL-safe base64) decode in
 * Node but are not kombu's alphabet: they take the scan.
 */
function decodeBase64Into(scratch: Buffer, body: string, strict = false): number {
  const written = scratch.write(body, 0, 'base64');
  const len = body.length;
  if (len % 4 === 0 && body.indexOf('-') === -1 && body.indexOf('_') === -1) {
    const pad = len === 0 ? 0 : body.charCodeAt(len - 1) !== 61 ? 0 : body.charCodeAt(len - 2) === 61 ? 2 : 1;
    if (written === (len / 4) * 3 - pad) return written;
  }
  if (strict) return -1;
  return isBase64(body) ? written : -1;
}

const BODY_FIRST = '{"body": "';

// The rest of an event envelope exactly as kombu's prepare_message() lays it out (the fixtures'
// frames, every one), as JSON's own grammar: a JSON string, number or flat object where kombu puts
// one. A frame whose rest matches is a valid envelope with a base64 JSON body, known without
// JSON.parse, which cost 2.4 µs a frame more than this test (a single task-sent is a frame of its
// own: 58% of the frames of busy traffic). Anything else takes the parse, as before.
// eslint-disable-next-line no-control-regex -- JSON forbids raw control characters in strings: the point
const JSON_STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.source;
const JSON_NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/.source;
const JSON_SCALAR = `(?:${JSON_STRING}|${JSON_NUMBER}|null|true|false)`;
const FLAT_OBJECT = `\\{(?:${JSON_STRING}: ${JSON_SCALAR}(?:, ${JSON_STRING}: ${JSON_SCALAR})*)?\\}`;

/** kombu's envelope after the body, with `headers` and `delivery_info` as given (pattern sources). */
function kombuJsonRest(headers: string, deliveryInfo: string): RegExp {
  return new RegExp(
    `, "content-encoding": ${JSON_STRING}, "content-type": "application/json", "headers": ${headers}, ` +
      `"properties": \\{"delivery_mode": ${JSON_NUMBER}, "delivery_info": ${deliveryInfo}, "priority": ${JSON_NUMBER}, ` +
      `"body_encoding": "base64", "delivery_tag": ${JSON_STRING}\\}\\}$`,
    'y',
  );
}
const KOMBU_JSON_REST = kombuJsonRest(FLAT_OBJECT, FLAT_OBJECT);

// The same with Celery's own headers ({"hostname": …}, EventDispatcher.publish) and delivery_info
// ({"exchange": …, "routing_key": …}), capturing the sender and the routing key: what sidecar mode
// needs to drop another worker's message before decoding its body.
const KOMBU_SENDER_REST = kombuJsonRest(
  `\\{"hostname": (${JSON_STRING})\\}`,
  `\\{"exchange": ${JSON_STRING}, "routing_key": (${JSON_STRING})\\}`,
);

/** A JSON string literal matched by JSON_STRING, as its value. */
function jsonStringValue(literal: string): string {
  return literal.includes('\\') ? (JSON.parse(literal) as string) : literal.slice(1, -1);
}

/**
 * The sender (kombu's `hostname` header) and routing key of frame[from…] when it is the rest of a
 * kombu JSON event envelope in exactly the layout Celery's event dispatcher gives it; else undefined.
 */
export function kombuSender(frame: string, from: number): { sender: string; routingKey: string } | undefined {
  KOMBU_SENDER_REST.lastIndex = from;
  const m = KOMBU_SENDER_REST.exec(frame);
  return m === null ? undefined : { sender: jsonStringValue(m[1]!), routingKey: jsonStringValue(m[2]!) };
}

/** True when frame[from…] is the rest of a kombu JSON event envelope in exactly kombu's layout. */
export function isKombuJsonRest(frame: string, from: number): boolean {
  KOMBU_JSON_REST.lastIndex = from;
  return KOMBU_JSON_REST.test(frame);
}

/**
 * Turns broker frames into validated Celery events.
 *
 * Redis frames are kombu envelopes (`{"body": <base64>, "content-type": …, "properties": {…}}`,
 * kombu virtual/base.py prepare_message); AMQP frames are the raw body with the content type in
 * the message properties. Either body is one event or, since Celery 4, a list of them
 * (`task.multi` batches). PROTOCOL.md §1-§3.
 */
export class EventDecoder {
  private readonly onEvent: DecoderSinks['onEvent'];
  private readonly onError: DecoderSinks['onError'];
  private readonly maxFrameBytes: number;
  private readonly skipMessage: DecoderOptions['skipMessage'];
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(sinks: DecoderSinks, options: DecoderOptions) {
    this.onEvent = sinks.onEvent;
    this.onError = sinks.onError;
    this.maxFrameBytes = options.maxFrameBytes;
    this.skipMessage = options.skipMessage;
  }

  /** One Redis pub/sub payload: a kombu JSON envelope. */
  decodeKombuEnvelope(frame: string): void {
    if (frame.length > this.maxFrameBytes) return this.onError('oversized', `frame of ${frame.length} bytes`);
    if (!this.decodeKombuShaped(frame)) this.decodeAnyEnvelope(frame);
  }

  /**
   * The common case, without JSON.parse of the whole frame, which copied the body (nearly all of
   * the frame) into a new string before decoding it: kombu's `json.dumps` of prepare_message()
   * puts the base64 body first, so the rest of the envelope is parsed on its own and the body is
   * decoded straight from the frame. False when the frame is not exactly that shape (a body with
   * escapes or characters outside strict base64, another layout): decodeAnyEnvelope then reads it.
   */
  private decodeKombuShaped(frame: string): boolean {
    if (!frame.startsWith(BODY_FIRST)) return false;
    const end = frame.indexOf('"', BODY_FIRST.length);
    // No scan for escapes in the body: a backslash is not base64, so a body holding one fails the
    // strict check below, and the frame goes to the whole-frame parse.
    if (end === -1 || frame.charCodeAt(end + 1) !== 44 /* , */) return false;
    let contentType: string | undefined;
    if (this.skipMessage !== undefined) {
      const from = kombuSender(frame, end + 1);
      if (from !== undefined) {
        if (this.skipMessage(from.sender, from.routingKey)) return true;
        contentType = 'application/json';
      }
    }
    contentType ??= isKombuJsonRest(frame, end + 1) ? 'application/json' : this.envelopeContentType(frame, end);
    if (contentType === undefined) return false;
    const body = frame.slice(BODY_FIRST.length, end);
    const bytes = decodeBase64Into(this.scratchFor(body), body, true);
    if (bytes < 0) return false;
    this.decodeBody(this.scratch.subarray(0, bytes), contentType);
    return true;
  }

  /**
   * The content type of a kombu-shaped envelope in any other layout, from a JSON.parse of all but
   * its body (which starts at frame[end + 2]); undefined when that is not a valid envelope with a
   * base64 body.
   */
  private envelopeContentType(frame: string, end: number): string | undefined {
    let rest: unknown;
    try {
      rest = JSON.parse(`{${frame.slice(end + 2)}`);
    } catch {
      return undefined;
    }
    if (rest === null || typeof rest !== 'object' || Object.hasOwn(rest, 'body')) return undefined;
    const env = rest as Record<string, unknown>;
    const props = env['properties'];
    if (props === null || typeof props !== 'object' || (props as Record<string, unknown>)['body_encoding'] !== 'base64') return undefined;
    const contentType = env['content-type'];
    if (contentType === undefined) return 'application/json';
    return typeof contentType === 'string' ? contentType : undefined;
  }

  /** Any envelope JSON.parse accepts, with the body's encoding and content type validated. */
  private decodeAnyEnvelope(frame: string): void {
    let envelope: unknown;
    try {
      envelope = JSON.parse(frame);
    } catch {
      return this.onError('invalid_envelope', 'envelope is not JSON');
    }
    if (envelope === null || typeof envelope !== 'object') {
      return this.onError('invalid_envelope', 'envelope is not an object');
    }
    const env = envelope as Record<string, unknown>;
    const body = env['body'];
    if (typeof body !== 'string') return this.onError('invalid_envelope', 'envelope has no string body');
    const props = env['properties'];
    const bodyEncoding =
      props !== null && typeof props === 'object' ? (props as Record<string, unknown>)['body_encoding'] : undefined;
    const contentType = typeof env['content-type'] === 'string' ? (env['content-type'] as string) : 'application/json';

    let payload: Buffer | string;
    if (bodyEncoding === 'base64') {
      const bytes = decodeBase64Into(this.scratchFor(body), body);
      if (bytes < 0) return this.onError('invalid_base64', 'body is not base64');
      payload = this.scratch.subarray(0, bytes);
    } else if (bodyEncoding === undefined || bodyEncoding === null || bodyEncoding === 'utf-8') {
      payload = body;
    } else {
      return this.onError('unsupported_body_encoding', `body_encoding ${String(bodyEncoding).slice(0, 40)}`);
    }
    this.decodeBody(payload, contentType);
  }

  /**
   * The scratch buffer, large enough for the bytes of this base64 text. Bodies are decoded into one
   * reused buffer: a fresh one per frame was an off-heap allocation that only the next full GC gave
   * back, and RSS grew with it. Every frame is fully decoded before the next one is read, so nothing
   * else holds the scratch. It grows to the largest body seen, at most 3/4 of --max-frame-bytes.
   */
  private scratchFor(base64: string): Buffer {
    const need = Math.ceil(base64.length / 4) * 3;
    if (this.scratch.length < need) this.scratch = Buffer.allocUnsafe(Math.max(need, this.scratch.length * 2));
    return this.scratch;
  }

  /**
   * One AMQP message: its body with the content type, routing key and `hostname` header from its
   * properties (pyamqp puts kombu's headers in the message's application headers).
   */
  decodeAmqpMessage(payload: Buffer, contentType: string | undefined, routingKey: string, sender: unknown): void {
    if (this.skipMessage !== undefined && typeof sender === 'string' && this.skipMessage(sender, routingKey)) return;
    this.decodeBody(payload, contentType);
  }

  /** One message body, with its content type. */
  decodeBody(payload: Buffer | string, contentType: string | undefined): void {
    if (payload.length > this.maxFrameBytes) return this.onError('oversized', `body of ${payload.length} bytes`);
    const type = contentType ?? 'application/json';
    let decoded: unknown;
    if (JSON_TYPES.has(type)) {
      const text = typeof payload === 'string' ? payload : payload.toString('utf8');
      decoded = parseJson(text);
      if (decoded === INVALID) return this.onError('invalid_json', 'body is not JSON');
    } else if (MSGPACK_TYPES.has(type)) {
      try {
        decoded = msgpack().decode(typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload);
      } catch {
        return this.onError('invalid_msgpack', 'body is not msgpack');
      }
    } else {
      return this.onError('unsupported_content_type', `content type ${type.slice(0, 60)}`);
    }
    this.emitEvents(decoded);
  }

  private emitEvents(decoded: unknown): void {
    if (Array.isArray(decoded)) {
      for (let i = 0; i < decoded.length; i++) this.emitOne(decoded[i]);
    } else {
      this.emitOne(decoded);
    }
  }

  private emitOne(value: unknown): void {
    const result = normalizeEvent(value);
    if (typeof result === 'string') this.onError(result, describe(value));
    else this.onEvent(result);
  }
}

const INVALID = Symbol('invalid');

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Python's json emits NaN/Infinity for floats it cannot represent; JSON.parse rejects them.
    // Rewrite only the bare tokens (never inside strings) to null and try once more, so one odd
    // float in a batch does not cost the other events in it.
    if (!/NaN|Infinity/.test(text)) return INVALID;
    try {
      return JSON.parse(text.replace(/"(?:[^"\\]|\\.)*"|-?Infinity|NaN/g, (m) => (m.charCodeAt(0) === 34 ? m : 'null')));
    } catch {
      return INVALID;
    }
  }
}

function describe(value: unknown): string {
  if (value === null || typeof value !== 'object') return `value of type ${value === null ? 'null' : typeof value}`;
  const type = (value as Record<string, unknown>)['type'];
  return typeof type === 'string' ? `event type ${type.slice(0, 60)}` : 'event without type';
}
