import { describe, expect, it } from 'vitest';
import { EventDecoder, isKombuJsonRest } from '../../src/protocol/decoder.js';
import type { CeleryEvent, DecodeErrorReason } from '../../src/protocol/events.js';
import { redisEventFrames, redisFrames } from '../fixtures/frames.js';

// The decoder recognizes kombu's envelope layout with one regular expression instead of a
// JSON.parse of the envelope. These tests hold it to two promises: every envelope a real worker
// sent takes that path, and nothing it accepts is something JSON.parse would reject or read
// differently.

const BODY = '{"body": "QQ=="';

/** The envelope after its body: what the expression reads. */
function restOf(frame: string): string {
  const end = frame.indexOf('"', 10);
  return frame.slice(end + 1);
}

/** A small deterministic PRNG (mulberry32), so a failure names a reproducible case. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PALETTE = ['"', '\\', '{', '}', '[', ']', ',', ':', ' ', '0', '1', '-', '.', 'e', 'a', 'u', 'n', '\u0001', '\n', 'é', '\ud800'];

function mutate(text: string, random: () => number): string {
  const at = Math.floor(random() * text.length);
  const ch = PALETTE[Math.floor(random() * PALETTE.length)]!;
  switch (Math.floor(random() * 3)) {
    case 0:
      return text.slice(0, at) + text.slice(at + 1);
    case 1:
      return text.slice(0, at) + ch + text.slice(at);
    default:
      return text.slice(0, at) + ch + text.slice(at + 1);
  }
}

function decodeAll(frames: string[]): { events: CeleryEvent[]; errors: DecodeErrorReason[] } {
  const events: CeleryEvent[] = [];
  const errors: DecodeErrorReason[] = [];
  const decoder = new EventDecoder({ onEvent: (e) => events.push(e), onError: (r) => errors.push(r) }, { maxFrameBytes: 1 << 20 });
  for (const frame of frames) decoder.decodeKombuEnvelope(frame);
  return { events, errors };
}

describe('kombu envelope layout', () => {
  it('matches every event envelope a real Celery worker published, on db 0 and under a key prefix', () => {
    const frames = redisFrames().filter((f) => f.channel.includes('.celeryev/'));
    expect(frames.length).toBeGreaterThan(50);
    for (const f of frames) expect(isKombuJsonRest(BODY + restOf(f.data), BODY.length), f.data.slice(-200)).toBe(true);
  });

  it('accepts nothing that JSON.parse rejects or reads as another envelope', () => {
    const random = prng(20261122);
    const rests = redisEventFrames().map((f) => restOf(f.data));
    let accepted = 0;
    let rejected = 0;
    for (let i = 0; i < 20_000; i++) {
      let rest = rests[i % rests.length]!;
      const edits = 1 + Math.floor(random() * 3);
      for (let k = 0; k < edits; k++) rest = mutate(rest, random);
      const frame = BODY + rest;
      if (!isKombuJsonRest(frame, BODY.length)) {
        rejected++;
        continue;
      }
      accepted++;
      const parsed = JSON.parse(frame) as { body: unknown; 'content-type': unknown; properties: { body_encoding: unknown } };
      expect(parsed.body, frame).toBe('QQ==');
      expect(parsed['content-type'], frame).toBe('application/json');
      expect(parsed.properties.body_encoding, frame).toBe('base64');
    }
    // Both sides are exercised: edits inside strings and numbers keep the layout, most others break it.
    expect(accepted).toBeGreaterThan(1000);
    expect(rejected).toBeGreaterThan(1000);
  });

  it('decodes an envelope in another layout exactly as the same envelope in kombu\'s', () => {
    const frames = redisEventFrames().map((f) => f.data);
    const relaid = frames.map((frame) => {
      const env = JSON.parse(frame) as Record<string, unknown>;
      // Same content, keys in another order and a content type spelled differently: the parse path.
      return `{"body": "${env['body'] as string}", "properties": ${JSON.stringify(env['properties'])}, "headers": {"nested": {"a": 1}}, "content-type": "application/x-json"}`;
    });
    expect(relaid.some((f) => isKombuJsonRest(f, f.indexOf('"', 10) + 1))).toBe(false);
    const kombu = decodeAll(frames);
    const other = decodeAll(relaid);
    expect(kombu.errors).toEqual([]);
    expect(other.errors).toEqual([]);
    expect(other.events).toEqual(kombu.events);
  });
});
