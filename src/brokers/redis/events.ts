import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { newRedisClient } from './client.js';
import type { BrokerConfig, TransportOptions } from '../../config/config.js';
import { EVENT_SOURCE_BACKOFF, backoffDelay } from '../backoff.js';
import { redisEventChannels } from './channels.js';
import { decodeRedisReply, pidboxEnvelope, redisPidboxChannels, redisReplyBinding } from './control.js';
import { redisOptions } from './options.js';
import type { TlsFiles } from './options.js';
import type { EventSource, ReplyLimits, SourceContext } from '../source.js';

/** Broadcasts expire this long after sending: Celery uses 1 s, more tolerates skewed worker clocks. */
const BROADCAST_TTL_SECONDS = 10;

export interface RedisSourceOptions {
  readonly transport: TransportOptions;
  readonly eventExchange: string;
  readonly tls: TlsFiles | undefined;
  /** Seconds between liveness PINGs on the subscriber connection. */
  readonly pingInterval: number;
}

/**
 * Celery events from Redis pub/sub. Redis keeps nothing for a subscriber that is away, so the
 * connection state is reported precisely: up once the subscriptions are confirmed, down as soon as
 * the socket closes or a PING goes unanswered (a paused server keeps the socket open).
 */
export class RedisEventSource implements EventSource {
  connected = false;
  reconnects = 0;
  private client: Redis | undefined;
  /** A connection in subscriber mode cannot PUBLISH: broadcasts get their own, opened on first use. */
  private publisher: Redis | undefined;
  /** Replies are awaited with a blocking BRPOP, on a connection of their own so broadcasts never wait behind it. */
  private replies: Redis | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  /** Frames received: proof that the broker is alive which does not wait for a PONG queued behind them. */
  private frames = 0;
  private everConnected = false;
  private stopping = false;

  constructor(
    private readonly broker: BrokerConfig,
    private readonly options: RedisSourceOptions,
    private readonly ctx: SourceContext,
  ) {}

  start(): void {
    const { patterns, channels } = redisEventChannels(this.broker.url.db, this.options.eventExchange, this.options.transport, this.broker.url.sentinel);
    const log = this.ctx.logger;
    const client = newRedisClient({
      ...redisOptions(this.broker.url, this.options.transport, this.options.tls),
      connectionName: 'celery-pulse-events',
      // Subscriptions are renewed by hand on every 'ready' so that `up` means "subscribed".
      autoResubscribe: false,
      retryStrategy: (attempt) => (this.stopping ? null : backoffDelay(attempt, EVENT_SOURCE_BACKOFF)),
    });
    this.client = client;
    const decoder = this.ctx.decoder;
    client.on('pmessage', (_pattern: string, _channel: string, message: string) => {
      this.frames++;
      decoder.decodeKombuEnvelope(message);
    });
    client.on('message', (_channel: string, message: string) => {
      this.frames++;
      decoder.decodeKombuEnvelope(message);
    });
    client.on('ready', () => {
      const subscribed = Promise.all([
        patterns.length > 0 ? client.psubscribe(...patterns) : undefined,
        channels.length > 0 ? client.subscribe(...channels) : undefined,
      ]);
      subscribed.then(
        () => {
          if (this.stopping) return;
          if (this.everConnected) this.reconnects++;
          this.everConnected = true;
          this.connected = true;
          log.info({ broker: this.broker.name, patterns, channels }, 'subscribed to Celery events');
          this.ctx.status.up();
        },
        (err: Error) => {
          log.error({ broker: this.broker.name, err: err.message }, 'subscribing to Celery events failed');
          client.disconnect(true);
        },
      );
    });
    client.on('close', () => this.markDown('connection closed'));
    client.on('error', (err: Error) => log.warn({ broker: this.broker.name, err: err.message }, 'redis connection error'));
    client.connect().catch(() => {
      // The first attempt failed; retryStrategy keeps trying and 'error' has logged why.
    });
    this.pingTimer = setInterval(() => this.ping(), this.options.pingInterval * 1000);
    this.pingTimer.unref();
  }

  /** Celery remote control (e.g. `enable_events`, `heartbeat`) to every worker: PUBLISH on the pidbox channel. */
  async broadcast(method: string, args: Record<string, unknown> = {}): Promise<void> {
    if (this.stopping) return;
    this.publisher ??= this.controlClient('celery-pulse-control');
    const envelope = pidboxEnvelope(method, args, Date.now() / 1000, BROADCAST_TTL_SECONDS);
    const publisher = this.publisher;
    await Promise.all(redisPidboxChannels(this.broker.url.db, this.options.transport, this.broker.url.sentinel).map((channel) => publisher.publish(channel, envelope)));
  }

  /**
   * A broadcast with replies, the way kombu's Redis transport carries them: the reply queue is
   * bound to `reply.celery.pidbox` in kombu's binding set, each worker LPUSHes its reply envelope
   * onto the list of that name, and BRPOP takes them until the time or the limits run out. The
   * binding and the list are removed afterwards (kombu deletes the list the same way). Requests
   * to one broker share the blocking connection, so they are served one after the other.
   */
  async request(method: string, args: Record<string, unknown>, limits: ReplyLimits): Promise<unknown[]> {
    if (this.stopping) return [];
    this.publisher ??= this.controlClient('celery-pulse-control');
    this.replies ??= this.controlClient('celery-pulse-replies');
    const publisher = this.publisher;
    const replies = this.replies;
    const reply = { oid: randomUUID(), ticket: randomUUID() };
    const binding = redisReplyBinding(this.options.transport.globalKeyprefix, reply.oid);
    const deadline = Date.now() + limits.timeoutMs;
    const out: unknown[] = [];
    await publisher.sadd(binding.key, binding.member);
    try {
      const envelope = pidboxEnvelope(method, args, Date.now() / 1000, Math.max(1, limits.timeoutMs / 1000), reply);
      await Promise.all(redisPidboxChannels(this.broker.url.db, this.options.transport, this.broker.url.sentinel).map((channel) => publisher.publish(channel, envelope)));
      let bytes = 0;
      while (!this.stopping && out.length < (limits.maxReplies ?? Infinity) && bytes < limits.maxBytes) {
        const left = deadline - Date.now();
        if (left <= 0) break;
        // BRPOP's timeout is in seconds, fractions allowed since Redis 6.
        const got = await replies.brpop(binding.list, Math.max(0.01, left / 1000));
        if (got === null) break;
        bytes += got[1].length;
        const body = decodeRedisReply(got[1], reply.ticket);
        if (body !== undefined) out.push(body);
      }
    } finally {
      await Promise.all([publisher.srem(binding.key, binding.member), publisher.del(binding.list)]).catch(() => undefined);
    }
    return out;
  }

  private controlClient(connectionName: string): Redis {
    const client = newRedisClient({
      ...redisOptions(this.broker.url, this.options.transport, this.options.tls),
      connectionName,
      lazyConnect: true,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => (this.stopping ? null : backoffDelay(attempt, EVENT_SOURCE_BACKOFF)),
    });
    client.on('error', () => undefined); // each failed request rejects; the caller logs it
    return client;
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.pingTimer !== undefined) clearInterval(this.pingTimer);
    this.publisher?.disconnect(false);
    this.publisher = undefined;
    this.replies?.disconnect(false);
    this.replies = undefined;
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (client === undefined) return;
    try {
      await Promise.race([client.quit(), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
    } catch {
      // Already closed.
    }
    client.disconnect(false);
  }

  private markDown(reason: string): void {
    if (!this.connected) return;
    this.connected = false;
    if (this.stopping) return;
    this.ctx.logger.warn({ broker: this.broker.name, reason }, 'lost the broker: events published until reconnection are lost');
    this.ctx.status.down(reason);
  }

  private ping(): void {
    const client = this.client;
    if (client === undefined || !this.connected) return;
    const timeoutMs = this.options.pingInterval * 1000;
    const framesAtPing = this.frames;
    let answered = false;
    const timer = setTimeout(() => {
      // Judged after the loop has read the socket once more (setImmediate runs after the I/O
      // phase), and only if no frame came either: a daemon whose own loop stalled (GC, a busy
      // CPU, a backlog of events ahead of the PONG) must not drop a healthy broker. The soak
      // bench did exactly that with a 1 s interval under load, losing what was in flight.
      setImmediate(() => {
        if (answered || this.frames !== framesAtPing || this.client !== client) return;
        this.markDown(`no answer to PING within ${this.options.pingInterval}s`);
        client.disconnect(true);
      });
    }, timeoutMs);
    timer.unref();
    const settled = (): void => {
      answered = true;
      clearTimeout(timer);
    };
    client.ping().then(settled, settled);
  }
}
