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
  /**
   * Sends a broadcast that asks for replies, as `app.control.broadcast(method, reply=True)` does
   * (kombu pidbox: a `ticket` and `reply_to` in the body; workers answer on the direct exchange
   * `reply.celery.pidbox` with our oid as routing key), and collects the decoded reply bodies
   * that arrive within `timeoutMs`. Rejects when the broker is unreachable.
   */
  request?(method: string, args: Record<string, unknown>, limits: ReplyLimits): Promise<unknown[]>;
}

/** Bounds of one request for replies: it never waits or holds more than this. */
export interface ReplyLimits {
  readonly timeoutMs: number;
  /** Stop once this many replies are in (e.g. the number of live workers); undefined: wait the timeout. */
  readonly maxReplies?: number | undefined;
  /** Stop collecting once the replies add up to this many bytes. */
  readonly maxBytes: number;
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
