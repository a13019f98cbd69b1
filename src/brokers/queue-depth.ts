import type { Logger } from 'pino';
import type { BrokerConfig, Config } from '../config/config.js';
import { AmqpQueueDepth } from './amqp-queues.js';
import { RedisQueueDepth } from './redis-queues.js';

/** What a broker tells about one queue at one moment. */
export interface QueueFigures {
  /** Messages waiting to be delivered (Redis: all priority sub-lists; RabbitMQ: ready). */
  readonly ready: number;
  /** Delivered to a worker and not acknowledged yet; undefined when the broker cannot tell. */
  readonly unacked: number | undefined;
  /** Consumers attached to the queue; undefined when the broker cannot tell (Redis). */
  readonly consumers: number | undefined;
}

/**
 * Reads queue depth from one broker at scrape time, on connections of its own (never the event
 * connection, so a slow LLEN or a 404 on a missing queue cannot disturb event delivery).
 */
export interface QueueDepthSource {
  /**
   * Figures for each of `queues`, plus any queue the broker itself names (kombu's bindings on
   * Redis). A queue that does not exist reports 0. Rejects when the broker cannot be asked.
   */
  collect(queues: readonly string[]): Promise<Map<string, QueueFigures>>;
  close(): Promise<void>;
}

export function createQueueDepthSource(broker: BrokerConfig, config: Config, logger: Logger): QueueDepthSource {
  switch (broker.url.kind) {
    case 'redis':
      return new RedisQueueDepth(broker, { transport: config.transport, eventExchange: config.eventExchange, tls: config.tls }, logger);
    case 'amqp':
      return new AmqpQueueDepth(broker, { tls: config.tls, management: config.rabbitmqManagement[broker.name] }, logger);
  }
}
