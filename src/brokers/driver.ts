import type { Logger } from 'pino';
import type { BrokerConfig, Config } from '../config/config-shape.js';
import type { EventSource, SourceContext } from './source.js';

// What every broker offers the daemon, one driver per broker kind (redis/, amqp/), picked once in
// registry.ts: node_exporter's registered collectors, for brokers. Worker control (pidbox
// broadcast and inspect replies) rides on the event source's connection: `broadcast`/`request`.

/** One kind of broker: its event source and its queue-depth reader, built from the validated Config. */
export interface BrokerDriver {
  /** OpenTelemetry's `messaging.system` value for spans of this broker's tasks (semantic conventions 1.x). */
  readonly messagingSystem: string;
  eventSource(broker: BrokerConfig, config: Config, ctx: SourceContext): EventSource;
  queueDepth(broker: BrokerConfig, config: Config, logger: Logger): QueueDepthSource;
}

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
