import type { Logger } from 'pino';
import type { EventDecoder } from '../protocol/decoder.js';

/** A connection to one broker that delivers Celery event frames to a decoder. */
export interface EventSource {
  /** Starts connecting in the background; never throws for network trouble. */
  start(): void;
  /** Stops consuming and closes the connection. */
  stop(): Promise<void>;
  /** True while subscribed (Redis) or consuming (AMQP). */
  readonly connected: boolean;
  /** Successful connections after the first one. */
  readonly reconnects: number;
  /**
   * Sends a Celery remote-control broadcast (kombu pidbox: the `celery.pidbox` fanout exchange)
   * to every worker, e.g. `enable_events` or `heartbeat`. Rejects when the broker is unreachable.
   */
  broadcast?(method: string, args?: Record<string, unknown>): Promise<void>;
}

export interface SourceStatusListener {
  /** The source is attached and events flow. */
  up(): void;
  /** The connection was lost; events published until `up()` are lost (pub/sub keeps nothing). */
  down(reason: string): void;
}

export interface SourceContext {
  readonly decoder: EventDecoder;
  readonly status: SourceStatusListener;
  readonly logger: Logger;
}
