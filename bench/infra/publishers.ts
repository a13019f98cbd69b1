// Publishing frames onto a real broker exactly as Celery does (shared/celery-wire/PROTOCOL.md):
// on Redis a kombu JSON envelope with a base64 body, PUBLISHed to `/{db}.celeryev/{routing key}`;
// on RabbitMQ the raw JSON body to the `celeryev` topic exchange with the routing key.
import { randomUUID } from 'node:crypto';
import { connect as connectTcp } from 'node:net';
import type { Socket } from 'node:net';
import type { Frame } from './traffic.js';

export interface Publisher {
  /** Queues one frame; false when the connection's buffer is full (call `drain` before more). */
  publish(frame: Frame): boolean;
  /** Sends what was queued. */
  flush(): void;
  drain(): Promise<void>;
  /** Frames the broker confirmed delivering to nobody (no subscriber): lost by definition. */
  readonly undelivered: number;
  close(): Promise<void>;
}

/** The kombu envelope of virtual/base.py prepare_message, key order and spacing as Python writes it. */
export function kombuEnvelope(frame: Frame): string {
  const body = Buffer.from(frame.body, 'utf8').toString('base64');
  return (
    `{"body": "${body}", "content-encoding": "utf-8", "content-type": "application/json", "headers": {"hostname": "${frame.hostname}"}, ` +
    `"properties": {"delivery_mode": 1, "delivery_info": {"exchange": "celeryev", "routing_key": "${frame.routingKey}"}, ` +
    `"priority": 0, "body_encoding": "base64", "delivery_tag": "${randomUUID()}"}}`
  );
}

/**
 * Redis PUBLISH over a plain socket speaking RESP. A client library would cost the generator a
 * promise per frame; here one write carries every frame of a tick, and the integer replies
 * (subscribers reached) are counted so that a frame nobody received is known.
 */
export class RedisPublisher implements Publisher {
  undelivered = 0;
  /** Replies received (frames the server handled). */
  replies = 0;
  private pending: string[] = [];
  private partial = '';

  private constructor(
    private readonly socket: Socket,
    private readonly channelPrefix: string,
  ) {
    socket.setNoDelay(true);
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.onReplies(chunk));
  }

  static async connect(port: number, db = 0, host = '127.0.0.1'): Promise<RedisPublisher> {
    const socket = connectTcp({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RedisPublisher(socket, `/${db}.celeryev/`);
  }

  publish(frame: Frame): boolean {
    const channel = this.channelPrefix + frame.routingKey;
    const payload = kombuEnvelope(frame);
    // Envelope, channel and base64 are ASCII (hostnames here are too): length is the byte length.
    this.pending.push(`*3\r\n$7\r\nPUBLISH\r\n$${channel.length}\r\n${channel}\r\n$${payload.length}\r\n${payload}\r\n`);
    return this.pending.length < 256 || this.flushNow();
  }

  flush(): void {
    this.flushNow();
  }

  drain(): Promise<void> {
    if (!this.socket.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => this.socket.once('drain', resolve));
  }

  async close(): Promise<void> {
    this.flushNow();
    await new Promise<void>((resolve) => this.socket.end(resolve));
    this.socket.destroy();
  }

  private flushNow(): boolean {
    if (this.pending.length === 0) return !this.socket.writableNeedDrain;
    const data = this.pending.join('');
    this.pending = [];
    return this.socket.write(data, 'latin1');
  }

  private onReplies(chunk: string): void {
    const text = this.partial + chunk;
    let start = 0;
    for (;;) {
      const end = text.indexOf('\r\n', start);
      if (end < 0) break;
      if (text.charCodeAt(start) === 58 /* ':' */) {
        this.replies++;
        if (end === start + 2 && text.charCodeAt(start + 1) === 48 /* '0' */) this.undelivered++;
      } else {
        throw new Error(`redis answered PUBLISH with ${text.slice(start, end)}`);
      }
      start = end + 2;
    }
    this.partial = text.slice(start);
  }
}

interface AmqpChannel {
  publish(exchange: string, routingKey: string, content: Buffer, options: object): boolean;
  once(event: 'drain', cb: () => void): unknown;
  assertExchange(name: string, type: string, options: object): Promise<unknown>;
  close(): Promise<void>;
}

/** RabbitMQ: the raw JSON body to the `celeryev` topic exchange, with pyamqp's message properties. */
export class AmqpPublisher implements Publisher {
  readonly undelivered = 0;
  /** The last publish found the channel's buffer full. */
  private full = false;

  private constructor(
    private readonly connection: { close(): Promise<void> },
    private readonly channel: AmqpChannel,
  ) {}

  static async connect(url: string): Promise<AmqpPublisher> {
    const amqp = await import('amqplib');
    const connection = await amqp.connect(url);
    const channel = (await connection.createChannel()) as unknown as AmqpChannel;
    // Declared as kombu does (entity.py Exchange defaults): topic, durable, not auto-deleted.
    await channel.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
    return new AmqpPublisher(connection, channel);
  }

  publish(frame: Frame): boolean {
    this.full = !this.channel.publish('celeryev', frame.routingKey, Buffer.from(frame.body, 'utf8'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: { hostname: frame.hostname },
      deliveryMode: 1,
      priority: 0,
    });
    return !this.full;
  }

  flush(): void {
    // amqplib writes as it goes.
  }

  drain(): Promise<void> {
    if (!this.full) return Promise.resolve();
    return new Promise((resolve) =>
      this.channel.once('drain', () => {
        this.full = false;
        resolve();
      }),
    );
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}
