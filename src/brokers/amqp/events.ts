import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { BrokerConfig } from '../../config/config.js';
import type { TlsFiles } from '../../config/broker-settings.js';
import { amqpConnectOptions } from './options.js';
import { EVENT_SOURCE_BACKOFF, backoffDelay } from '../backoff.js';
import { publishPidboxBroadcast, requestPidboxReplies } from './control.js';
import type { EventSource, ReplyLimits, SourceContext } from '../source.js';

export interface AmqpSourceOptions {
  readonly eventExchange: string;
  readonly tls: TlsFiles | undefined;
  /** AMQP heartbeat in seconds (--broker-ping-interval): a paused broker is noticed within ~2x this. */
  readonly heartbeat?: number;
}

// Celery's EventReceiver queue (celery/events/receiver.py, app/defaults.py): event_queue_ttl 5 s
// and event_queue_expires 60 s, sent in milliseconds (kombu maybe_s_to_ms). The TTL keeps a
// stalled consumer from piling up events; `x-expires` removes the queue if we vanish uncleanly.
const EVENT_QUEUE_ARGUMENTS = { 'x-message-ttl': 5000, 'x-expires': 60000 } as const;

/**
 * Celery events from RabbitMQ. Declares the event exchange exactly as Celery does (topic,
 * durable, not auto-delete: any difference is a 406 that closes the channel) and consumes, without
 * acks as Celery does, from its own exclusive auto-delete queue bound with `#`, so `task.multi`
 * batches and every other routing key arrive. Any connection or channel failure tears the
 * connection down and starts again after a capped, jittered backoff.
 */
export class AmqpEventSource implements EventSource {
  connected = false;
  reconnects = 0;
  private model: ChannelModel | undefined;
  private attempt = 0;
  private everConnected = false;
  private stopping = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly broker: BrokerConfig,
    private readonly options: AmqpSourceOptions,
    private readonly ctx: SourceContext,
  ) {}

  start(): void {
    void this.connectOnce();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.connected = false;
    const model = this.model;
    this.model = undefined;
    if (model === undefined) return;
    await Promise.race([model.close().catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 1000).unref())]);
  }

  async broadcast(method: string, args: Record<string, unknown> = {}): Promise<void> {
    const model = this.model;
    if (model === undefined || !this.connected) throw new Error(`broker ${this.broker.name} is not connected`);
    await publishPidboxBroadcast(model, method, args);
  }

  async request(method: string, args: Record<string, unknown>, limits: ReplyLimits): Promise<unknown[]> {
    const model = this.model;
    if (model === undefined || !this.connected) throw new Error(`broker ${this.broker.name} is not connected`);
    return requestPidboxReplies(model, method, args, limits);
  }

  private async connectOnce(): Promise<void> {
    if (this.stopping) return;
    const log = this.ctx.logger;
    const name = this.broker.name;
    let model: ChannelModel | undefined;
    try {
      const opts = amqpConnectOptions(this.broker.url, this.options.tls, 'celery-pulse-events', this.options.heartbeat);
      const { connect } = await import('amqplib');
      model = await connect(opts.connect, opts.socket);
      this.model = model;
      model.on('error', (err: Error) => log.warn({ broker: name, err: err.message }, 'amqp connection error'));
      model.on('close', () => this.lost(model!, 'connection closed'));
      model.on('blocked', (reason: string) => log.warn({ broker: name, reason }, 'broker blocked the connection'));
      const channel = await model.createChannel();
      channel.on('error', (err: Error) => log.warn({ broker: name, err: err.message }, 'amqp channel error'));
      // A closed channel (e.g. 406 on the exchange, queue deleted) leaves the connection idle: restart it all.
      channel.on('close', () => this.lost(model!, 'channel closed'));
      const queue = await this.declare(channel);
      if (this.stopping) return void model.close().catch(() => undefined);
      this.attempt = 0;
      if (this.everConnected) this.reconnects++;
      this.everConnected = true;
      this.connected = true;
      log.info({ broker: name, exchange: this.options.eventExchange, queue }, 'consuming Celery events');
      this.ctx.status.up();
    } catch (err) {
      log.warn({ broker: name, err: (err as Error).message }, 'could not start consuming Celery events');
      if (model !== undefined) this.lost(model, 'setup failed');
      else this.scheduleRetry();
    }
  }

  private async declare(channel: Channel): Promise<string> {
    const exchange = this.options.eventExchange;
    await channel.assertExchange(exchange, 'topic', { durable: true, autoDelete: false });
    const queue = `celeryev.${randomUUID()}`;
    await channel.assertQueue(queue, { durable: false, autoDelete: true, exclusive: true, arguments: EVENT_QUEUE_ARGUMENTS });
    await channel.bindQueue(queue, exchange, '#');
    const decoder = this.ctx.decoder;
    const model = this.model;
    await channel.consume(
      queue,
      (msg: ConsumeMessage | null) => {
        // null: the broker cancelled the consumer (queue deleted); reconnect declares a new one.
        if (msg === null) return void (model !== undefined && this.lost(model, 'consumer cancelled by the broker'));
        const headers = msg.properties.headers as Record<string, unknown> | undefined;
        decoder.decodeAmqpMessage(msg.content, msg.properties.contentType as string | undefined, msg.fields.routingKey, headers?.['hostname']);
      },
      { noAck: true },
    );
    return queue;
  }

  /** Called once per failed connection, whichever of close/error/setup reports it first. */
  private lost(model: ChannelModel, reason: string): void {
    if (this.model !== model) return;
    this.model = undefined;
    model.close().catch(() => undefined);
    if (this.stopping) return;
    if (this.connected) {
      this.connected = false;
      this.ctx.logger.warn({ broker: this.broker.name, reason }, 'lost the broker: events published until reconnection are lost');
      this.ctx.status.down(reason);
    }
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.stopping || this.retryTimer !== undefined) return;
    this.attempt++;
    const delay = backoffDelay(this.attempt, EVENT_SOURCE_BACKOFF);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connectOnce();
    }, delay);
    this.retryTimer.unref();
  }
}
