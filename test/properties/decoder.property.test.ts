// Property-based and fuzz tests of the decoder: whatever a broker hands over, no exception
// escapes, every message ends in events or counted errors, and every string that can become a
// label is safe for the exposition format.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventDecoder } from '../../src/protocol/decoder.js';
import { DECODE_ERROR_REASONS } from '../../src/protocol/events.js';
import type { CeleryEvent, DecodeErrorReason } from '../../src/protocol/events.js';
import { redisEventFrames } from '../fixtures/frames.js';

interface Outcome {
  events: CeleryEvent[];
  errors: DecodeErrorReason[];
}

function decoderFor(out: Outcome, maxFrameBytes = 1 << 20): EventDecoder {
  return new EventDecoder({ onEvent: (e) => out.events.push(e), onError: (r) => out.errors.push(r) }, { maxFrameBytes });
}

function envelope(body: string | Uint8Array, bodyEncoding: unknown = 'base64', contentType: unknown = 'application/json'): string {
  return JSON.stringify({
    body: bodyEncoding === 'base64' ? Buffer.from(body).toString('base64') : typeof body === 'string' ? body : Buffer.from(body).toString('latin1'),
    'content-type': contentType,
    properties: { body_encoding: bodyEncoding },
  });
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const REASONS = new Set<string>(DECODE_ERROR_REASONS);

function checkLabels(e: CeleryEvent): void {
  const labels = e.kind === 'task' ? [e.hostname, e.name, e.queue] : [e.hostname];
  for (const l of labels) {
    if (l === undefined) continue;
    expect(l.length).toBeLessThanOrEqual(256);
    expect(UNSAFE.test(l)).toBe(false);
  }
  expect(Number.isFinite(e.timestamp)).toBe(true);
}

const TYPES = ['task-sent', 'task-received', 'task-started', 'task-succeeded', 'task-failed', 'task-retried', 'task-rejected', 'task-revoked', 'task-cancelled', 'worker-online', 'worker-heartbeat', 'worker-offline', 'task-exploded'];
const anyValue = fc.oneof(fc.string({ unit: 'binary' }), fc.double(), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.integer(), { maxLength: 3 }), fc.dictionary(fc.string(), fc.integer(), { maxKeys: 2 }));
/** Objects shaped like events, with every field possibly missing, mistyped or hostile. */
const eventLike = fc.record(
  {
    type: fc.oneof(fc.constantFrom(...TYPES), anyValue),
    hostname: fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), anyValue),
    timestamp: fc.oneof(fc.double({ min: 0, max: 2e9, noNaN: true }), anyValue),
    uuid: fc.oneof(fc.uuid(), anyValue),
    name: fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), anyValue),
    queue: anyValue,
    exception: anyValue,
    runtime: anyValue,
    retries: anyValue,
    freq: anyValue,
    active: anyValue,
    loadavg: anyValue,
    eta: anyValue,
  },
  { requiredKeys: [] },
);

describe('EventDecoder properties', () => {
  it('never throws on arbitrary text frames, and reports errors only with known reasons', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 2000 }), (frame) => {
        const out: Outcome = { events: [], errors: [] };
        decoderFor(out).decodeKombuEnvelope(frame);
        expect(out.events.length + out.errors.length).toBeGreaterThanOrEqual(1);
        for (const r of out.errors) expect(REASONS.has(r)).toBe(true);
        out.events.forEach(checkLabels);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on arbitrary envelopes and bodies (any encoding, content type, bytes)', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 500 }), fc.string({ unit: 'binary', maxLength: 500 }), fc.json()),
        fc.constantFrom('base64', 'utf-8', undefined, null, 'rot13', 5),
        fc.constantFrom('application/json', 'application/x-msgpack', 'text/plain', undefined, 7),
        (body, encoding, type) => {
          const out: Outcome = { events: [], errors: [] };
          decoderFor(out).decodeKombuEnvelope(envelope(body, encoding, type));
          for (const r of out.errors) expect(REASONS.has(r)).toBe(true);
          out.events.forEach(checkLabels);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('accounts for every item of a batch: one event or one error each, in order, whatever the items', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(eventLike, anyValue), { minLength: 1, maxLength: 20 }), (items) => {
        const out: Outcome = { events: [], errors: [] };
        decoderFor(out).decodeKombuEnvelope(envelope(JSON.stringify(items)));
        expect(out.events.length + out.errors.length).toBe(items.length);
        out.events.forEach(checkLabels);
      }),
      { numRuns: 3000 },
    );
  });

  it('survives random corruption of real captured frames: truncation, flipped characters, inserted junk', () => {
    const frames = redisEventFrames().map((f) => f.data);
    const mutation = fc.record({
      frame: fc.integer({ min: 0, max: frames.length - 1 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { maxLength: 8 }),
      insert: fc.option(fc.tuple(fc.nat(), fc.string({ unit: 'binary', maxLength: 50 })), { nil: undefined }),
    });
    fc.assert(
      fc.property(mutation, ({ frame, cut, flips, insert }) => {
        let text = frames[frame]!;
        if (cut !== undefined) text = text.slice(0, cut % (text.length + 1));
        const chars = [...text];
        for (const [at, code] of flips) if (chars.length > 0) chars[at % chars.length] = String.fromCharCode(code);
        text = chars.join('');
        if (insert !== undefined) text = text.slice(0, insert[0] % (text.length + 1)) + insert[1] + text.slice(insert[0] % (text.length + 1));
        const out: Outcome = { events: [], errors: [] };
        decoderFor(out).decodeKombuEnvelope(text);
        expect(out.events.length + out.errors.length).toBeGreaterThanOrEqual(1);
        out.events.forEach(checkLabels);
      }),
      { numRuns: 3000 },
    );
  });

  it('decodes real frames the same when hostile frames are interleaved: nothing around a bad message is lost', () => {
    const frames = redisEventFrames().map((f) => f.data);
    const clean: Outcome = { events: [], errors: [] };
    const reference = decoderFor(clean);
    for (const f of frames) reference.decodeKombuEnvelope(f);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat({ max: frames.length }), fc.string({ unit: 'binary', maxLength: 300 })), { maxLength: 30 }), (junk) => {
        const out: Outcome = { events: [], errors: [] };
        const d = decoderFor(out);
        const at = new Map<number, string[]>();
        for (const [i, j] of junk) at.set(i, [...(at.get(i) ?? []), j]);
        frames.forEach((f, i) => {
          for (const j of at.get(i) ?? []) d.decodeKombuEnvelope(j);
          d.decodeKombuEnvelope(f);
        });
        for (const j of at.get(frames.length) ?? []) d.decodeKombuEnvelope(j);
        const real = out.events.filter((e) => e.hostname.endsWith('@vm'));
        expect(real).toEqual(clean.events);
      }),
      { numRuns: 200 },
    );
  });
});
