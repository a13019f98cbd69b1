// Sidecar mode drops the messages of workers it does not watch before decoding them, from the
// sender and routing key each message carries outside its body. Checked on the frames captured
// from real Celery workers: what is dropped undecoded is exactly what the filter would have thrown
// away after decoding, and every task-sent is still decoded.
import { describe, expect, it } from 'vitest';
import { WorkerFilter } from '../../src/filter/worker-filter.js';
import { EventDecoder, kombuSender } from '../../src/protocol/decoder.js';
import type { CeleryEvent } from '../../src/protocol/events.js';
import { amqpFrames, redisEventFrames, redisFrames } from '../fixtures/frames.js';

const BODY_FIRST = '{"body": "';
/** Where the rest of a kombu-shaped envelope starts: just after its body string. */
const restOf = (frame: string): number => frame.indexOf('"', BODY_FIRST.length) + 1;

/** A sidecar's decoder and filter for `patterns`; what reached the state, and every decoded event. */
function sidecar(patterns: string[]): { decoder: EventDecoder; filter: WorkerFilter; delivered: CeleryEvent[]; decoded: CeleryEvent[] } {
  const delivered: CeleryEvent[] = [];
  const decoded: CeleryEvent[] = [];
  const filter = new WorkerFilter({ patterns, maxHeldSent: 1000, heldSentTtl: 3600 }, (e) => delivered.push(e));
  const decoder = new EventDecoder(
    {
      onEvent: (e) => {
        decoded.push(e);
        filter.apply(e, 1000);
      },
      onError: (reason) => {
        throw new Error(reason);
      },
    },
    { maxFrameBytes: 4 * 1024 * 1024, skipMessage: (sender, routingKey) => filter.skipsMessage(sender, routingKey) },
  );
  return { decoder, filter, delivered, decoded };
}

/** The same decoder and filter without the skip: every message decoded, then filtered. */
function filterAfterDecoding(patterns: string[]): { decoder: EventDecoder; filter: WorkerFilter; delivered: CeleryEvent[] } {
  const delivered: CeleryEvent[] = [];
  const filter = new WorkerFilter({ patterns, maxHeldSent: 1000, heldSentTtl: 3600 }, (e) => delivered.push(e));
  const decoder = new EventDecoder({ onEvent: (e) => filter.apply(e, 1000), onError: () => undefined }, { maxFrameBytes: 4 * 1024 * 1024 });
  return { decoder, filter, delivered };
}

const eventsOf = (data: string): { hostname: string; type: string }[] => {
  const env = JSON.parse(data) as { body: string };
  const body = JSON.parse(Buffer.from(env.body, 'base64').toString('utf8')) as unknown;
  return (Array.isArray(body) ? body : [body]) as { hostname: string; type: string }[];
};

describe('sender and routing key of a Redis event message, without decoding its body', () => {
  it('reads them from every captured event frame: the sender is the node name of every event inside', () => {
    const frames = redisFrames().filter((f) => f.channel.includes('.celeryev/'));
    expect(frames.length).toBeGreaterThan(150);
    for (const f of frames) {
      const from = kombuSender(f.data, restOf(f.data));
      expect(from, f.channel).toBeDefined();
      expect(from!.routingKey).toBe(f.channel.slice(f.channel.indexOf('celeryev/') + 'celeryev/'.length));
      for (const e of eventsOf(f.data)) expect(e.hostname).toBe(from!.sender);
    }
  });

  it('reads an escaped node name as its value, and gives up on headers other than Celery\'s', () => {
    const f = redisEventFrames().find((x) => x.channel.endsWith('/task.multi'))!.data;
    const sender = kombuSender(f, restOf(f))!.sender;
    const escaped = f.replace(`"headers": {"hostname": "${sender}"}`, `"headers": {"hostname": "${sender.replace('@', '\\u0040')}"}`);
    expect(escaped).not.toBe(f);
    expect(kombuSender(escaped, restOf(escaped))?.sender).toBe(sender);
    const moreHeaders = f.replace(`"headers": {"hostname": "${sender}"}`, `"headers": {"hostname": "${sender}", "x": 1}`);
    expect(moreHeaders).not.toBe(f);
    expect(kombuSender(moreHeaders, restOf(moreHeaders))).toBeUndefined();
  });
});

describe('a sidecar drops other workers\' messages undecoded', () => {
  it('Redis: delivers exactly what filtering after decoding delivers, decodes only its worker\'s messages and task-sent', () => {
    const frames = redisEventFrames();
    const fast = sidecar(['w1@vm']);
    const slow = filterAfterDecoding(['w1@vm']);
    for (const f of frames) {
      fast.decoder.decodeKombuEnvelope(f.data);
      slow.decoder.decodeKombuEnvelope(f.data);
    }
    expect(fast.delivered).toEqual(slow.delivered);
    expect(fast.filter.heldSentCount).toBe(slow.filter.heldSentCount);
    // Nothing of another worker was decoded; every message of w2 and w4 was dropped unread.
    expect(fast.decoded.filter((e) => e.type !== 'task-sent' && e.hostname !== 'w1@vm')).toEqual([]);
    expect(fast.filter.otherWorker).toBe(0);
    const others = frames.filter((f) => !f.channel.endsWith('/task.sent') && kombuSender(f.data, restOf(f.data))!.sender !== 'w1@vm');
    expect(others.length).toBeGreaterThan(0);
    expect(fast.filter.otherWorkerMessages).toBe(others.length);
    expect(slow.filter.otherWorker).toBe(others.flatMap((f) => eventsOf(f.data)).length);
    // Every task-sent was decoded, whoever sent it.
    const sent = frames.filter((f) => f.channel.endsWith('/task.sent')).length;
    expect(fast.decoded.filter((e) => e.type === 'task-sent')).toHaveLength(sent);
  });

  it('RabbitMQ: drops by the hostname application header, never a task.sent', () => {
    const frames = amqpFrames();
    const fast = sidecar(['nobody@vm']);
    for (const f of frames) {
      fast.decoder.decodeAmqpMessage(Buffer.from(f.body_utf8), f.properties.content_type, f.routing_key, f.properties.application_headers?.['hostname']);
    }
    const workerMessages = frames.filter((f) => f.routing_key !== 'task.sent');
    expect(fast.filter.otherWorkerMessages).toBe(workerMessages.length);
    expect(fast.decoded.map((e) => e.type)).toEqual(Array(frames.length - workerMessages.length).fill('task-sent'));
    expect(fast.delivered).toEqual([]);

    const mine = sidecar(['r1@vm']);
    const all = filterAfterDecoding(['r1@vm']);
    for (const f of frames) {
      const body = Buffer.from(f.body_utf8);
      mine.decoder.decodeAmqpMessage(body, f.properties.content_type, f.routing_key, f.properties.application_headers?.['hostname']);
      all.decoder.decodeBody(body, f.properties.content_type);
    }
    expect(mine.filter.otherWorkerMessages).toBe(0);
    expect(mine.delivered).toEqual(all.delivered);
    expect(mine.delivered.length).toBeGreaterThan(50);
  });

  it('decodes a message whose sender it cannot read, and filters its events after decoding', () => {
    const f = redisEventFrames().find((x) => x.channel.endsWith('/task.multi') && x.data.includes('"headers": {"hostname": "w4@vm"}'))!.data;
    const odd = f.replace('"headers": {"hostname": "w4@vm"}', '"headers": {"hostname": "w4@vm", "x": 1}');
    const s = sidecar(['w1@vm']);
    s.decoder.decodeKombuEnvelope(odd);
    expect(s.filter.otherWorkerMessages).toBe(0);
    expect(s.filter.otherWorker).toBe(eventsOf(f).length);
    expect(s.delivered).toEqual([]);
    // An AMQP message without the header likewise.
    s.decoder.decodeAmqpMessage(Buffer.from(JSON.stringify(eventsOf(f))), 'application/json', 'task.multi', undefined);
    expect(s.filter.otherWorker).toBe(2 * eventsOf(f).length);
  });
});
