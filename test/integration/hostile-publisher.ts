// Publishes hand-made Celery events and broken messages onto a real Redis event channel, as a
// kombu client would (a JSON envelope with a base64 body, shared/celery-wire PROTOCOL.md §1).
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';

export type RawEvent = Record<string, unknown>;

/** A kombu envelope around `body` (bytes or text), body_encoding base64 unless told otherwise. */
export function envelope(body: Buffer | string, options: { bodyEncoding?: string; contentType?: string } = {}): string {
  const encoding = options.bodyEncoding ?? 'base64';
  const text = encoding === 'base64' ? Buffer.from(body).toString('base64') : body.toString();
  return JSON.stringify({
    body: text,
    'content-encoding': 'utf-8',
    'content-type': options.contentType ?? 'application/json',
    headers: { hostname: 'hostile@test' },
    properties: {
      delivery_mode: 1,
      delivery_info: { exchange: 'celeryev', routing_key: 'task.multi' },
      priority: 0,
      body_encoding: encoding,
      delivery_tag: randomUUID(),
    },
  });
}

/** One task's received/started/succeeded events, as a worker batches them (`task.multi`). */
export function goodTask(name: string, hostname: string, t: number, uuid = randomUUID()): RawEvent[] {
  const base = { uuid, hostname, pid: 1, clock: 1, utcoffset: 0 };
  return [
    { ...base, type: 'task-received', name, args: '()', kwargs: '{}', retries: 0, eta: null, timestamp: t },
    { ...base, type: 'task-started', timestamp: t + 0.001 },
    { ...base, type: 'task-succeeded', result: '1', runtime: 0.002, timestamp: t + 0.003 },
  ];
}

export class EventPublisher {
  private constructor(
    private readonly client: Redis,
    private readonly prefix: string,
  ) {}

  static async connect(port: number, db: number, password?: string): Promise<EventPublisher> {
    const client = new Redis({ host: '127.0.0.1', port, password, lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    return new EventPublisher(client, `/${db}.celeryev/`);
  }

  /** PUBLISHes a raw payload; resolves with the number of subscribers that received it. */
  raw(payload: string | Buffer, routingKey = 'task.multi'): Promise<number> {
    return this.client.publish(this.prefix + routingKey, payload);
  }

  events(events: RawEvent[] | RawEvent): Promise<number> {
    return this.raw(envelope(JSON.stringify(events)));
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => undefined);
    this.client.disconnect();
  }
}
