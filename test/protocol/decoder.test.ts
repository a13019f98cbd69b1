import { encode as encodeMsgpack } from '@msgpack/msgpack';
import { describe, expect, it } from 'vitest';
import { EventDecoder } from '../../src/protocol/decoder.js';
import type { CeleryEvent, DecodeErrorReason } from '../../src/protocol/events.js';
import { amqpFrames, redisEventFrames, redisFrames, redisReceiverEvents, redisDb3ReceiverEvents } from '../fixtures/frames.js';

function collect(maxFrameBytes = 4 * 1024 * 1024): { decoder: EventDecoder; events: CeleryEvent[]; errors: DecodeErrorReason[] } {
  const events: CeleryEvent[] = [];
  const errors: DecodeErrorReason[] = [];
  const decoder = new EventDecoder({ onEvent: (e) => events.push(e), onError: (r) => errors.push(r) }, { maxFrameBytes });
  return { decoder, events, errors };
}

const key = (e: { type: string; hostname: string; timestamp: number }): string => `${e.type}|${e.hostname}|${e.timestamp}`;

function envelope(body: string, contentType = 'application/json', bodyEncoding: string | undefined = 'base64'): string {
  return JSON.stringify({
    body: bodyEncoding === 'base64' ? Buffer.from(body).toString('base64') : body,
    'content-encoding': 'utf-8',
    'content-type': contentType,
    headers: { hostname: 'w1@vm' },
    properties: { delivery_mode: 1, delivery_info: { exchange: 'celeryev', routing_key: 'task.multi' }, priority: 0, body_encoding: bodyEncoding, delivery_tag: 'x' },
  });
}

const event = { hostname: 'w1@vm', utcoffset: 0, pid: 1, clock: 3, uuid: 'u-1', result: '5', runtime: 0.5, timestamp: 1795310668.3, type: 'task-succeeded' };

describe('EventDecoder on captured Redis frames', () => {
  it('decodes every captured event frame on db 0 with no error, exactly as Celery\'s receiver did', () => {
    const { decoder, events, errors } = collect();
    for (const f of redisEventFrames()) decoder.decodeKombuEnvelope(f.data);
    expect(errors).toEqual([]);
    const reference = redisReceiverEvents();
    const decoded = new Map(events.map((e) => [key(e), e]));
    // Every event Celery's own EventReceiver handed out is decoded, with the same fields.
    for (const r of reference) {
      const e = decoded.get(key(r));
      expect(e, key(r)).toBeDefined();
      if (e?.kind === 'task') {
        expect(e.uuid).toBe(r.uuid);
        if (typeof r['name'] === 'string') expect(e.name).toBe(r['name']);
      }
    }
    // task.multi frames hold several events each: more events than frames.
    expect(events.length).toBeGreaterThan(redisEventFrames().length);
  });

  it('decodes the db-3 / global_keyprefix frames too', () => {
    const { decoder, events, errors } = collect();
    for (const f of redisFrames().filter((x) => x.channel.startsWith('pfx:/3.celeryev/'))) decoder.decodeKombuEnvelope(f.data);
    expect(errors).toEqual([]);
    const keys = new Set(events.map(key));
    for (const r of redisDb3ReceiverEvents()) expect(keys.has(key(r)), key(r)).toBe(true);
  });
});

describe('EventDecoder on captured AMQP bodies', () => {
  it('decodes raw JSON bodies, single and batched', () => {
    const { decoder, events, errors } = collect();
    const frames = amqpFrames();
    for (const f of frames) decoder.decodeBody(Buffer.from(f.body_utf8), f.properties.content_type);
    expect(errors).toEqual([]);
    const batches = frames.filter((f) => f.routing_key === 'task.multi');
    expect(batches.length).toBeGreaterThan(0);
    const expected = frames.reduce((n, f) => {
      const body = JSON.parse(f.body_utf8) as unknown;
      return n + (Array.isArray(body) ? body.length : 1);
    }, 0);
    expect(events).toHaveLength(expected);
  });
});

describe('EventDecoder edge cases', () => {
  it('reads msgpack bodies', () => {
    const { decoder, events, errors } = collect();
    const body = Buffer.from(encodeMsgpack([event, { ...event, uuid: 'u-2' }]));
    decoder.decodeKombuEnvelope(JSON.stringify({ body: body.toString('base64'), 'content-type': 'application/x-msgpack', properties: { body_encoding: 'base64' } }));
    expect(errors).toEqual([]);
    expect(events.map((e) => (e.kind === 'task' ? e.uuid : ''))).toEqual(['u-1', 'u-2']);
  });

  it('reads a plain (not base64) body when body_encoding is absent', () => {
    const { decoder, events } = collect();
    decoder.decodeKombuEnvelope(envelope(JSON.stringify(event), 'application/json', undefined));
    expect(events).toHaveLength(1);
  });

  it('counts each kind of bad frame once and keeps the good events of a batch', () => {
    const { decoder, events, errors } = collect(2000);
    decoder.decodeKombuEnvelope('{not json');
    decoder.decodeKombuEnvelope('[1,2]');
    decoder.decodeKombuEnvelope(JSON.stringify({ body: '!!!not base64!!!', properties: { body_encoding: 'base64' } }));
    decoder.decodeKombuEnvelope(envelope('{"type": '));
    decoder.decodeKombuEnvelope(envelope('x', 'application/x-python-serialize'));
    decoder.decodeKombuEnvelope(envelope('x', 'application/json', 'rot13'));
    decoder.decodeKombuEnvelope('x'.repeat(2001));
    decoder.decodeKombuEnvelope(
      envelope(JSON.stringify([event, { ...event, type: 'task-exploded' }, { ...event, uuid: 5 }, { ...event, timestamp: undefined }, 'str', { ...event, uuid: 'u-2' }])),
    );
    expect(errors).toEqual([
      'invalid_envelope',
      'invalid_envelope',
      'invalid_base64',
      'invalid_json',
      'unsupported_content_type',
      'unsupported_body_encoding',
      'oversized',
      'unknown_event_type',
      'wrong_field_type',
      'missing_field',
      'not_an_event',
    ]);
    expect(events.map((e) => (e.kind === 'task' ? e.uuid : ''))).toEqual(['u-1', 'u-2']);
  });

  it('reads frames of kombu\'s exact layout (body first, read without parsing it as JSON) as a whole-frame parse would', () => {
    // Python's json.dumps layout, as kombu publishes it: `{"body": "<base64>", "content-encoding": …}`.
    const kombu = (body: string, rest = '"content-type": "application/json", "properties": {"body_encoding": "base64"}'): string => `{"body": "${body}", ${rest}}`;
    const b64 = Buffer.from(JSON.stringify(event)).toString('base64');
    const cases: [string, DecodeErrorReason[], number][] = [
      [kombu(b64), [], 1],
      // A raw line break inside a JSON string is not JSON: rejected, as JSON.parse of the frame does.
      [kombu(`${b64.slice(0, 8)}\n${b64.slice(8)}`), ['invalid_envelope'], 0],
      // Escapes in the body (\/ for /, \r\n line breaks kombu never writes): decoded the long way.
      [kombu(b64.replaceAll('/', '\\/')), [], 1],
      [kombu(`${b64}\\r\\n`), [], 1],
      // A second "body" key wins in JSON.parse; so it does here.
      [kombu('AAAA', `"properties": {"body_encoding": "base64"}, "body": "${b64}"`), [], 1],
      // A content type that is not a string means the default, JSON.
      [kombu(b64, '"content-type": 7, "properties": {"body_encoding": "base64"}'), [], 1],
      [kombu(b64, '"content-type": "application/json", "properties": {"body_encoding": "rot13"}'), ['unsupported_body_encoding'], 0],
      [kombu(b64, '"content-type": "application/json", "properties": '), ['invalid_envelope'], 0],
      [kombu('!!!!'), ['invalid_base64'], 0],
    ];
    for (const [frame, wantErrors, wantEvents] of cases) {
      const { decoder, events, errors } = collect();
      decoder.decodeKombuEnvelope(frame);
      expect({ frame, errors, events: events.length }).toEqual({ frame, errors: wantErrors, events: wantEvents });
    }
  });

  it('accepts NaN and Infinity that Python json writes, without touching strings', () => {
    const { decoder, events, errors } = collect();
    const text = JSON.stringify([{ ...event, exception: "ValueError('NaN Infinity')" }]).replace('"runtime":0.5', '"runtime":NaN');
    decoder.decodeBody(Buffer.from(text), 'application/json');
    expect(errors).toEqual([]);
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.kind === 'task' && e.runtime).toBe(undefined);
    expect(e.kind === 'task' && e.exception).toBe("ValueError('NaN Infinity')");
  });
});
