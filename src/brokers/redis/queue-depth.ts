import type { Redis } from 'ioredis';
import { newRedisClient } from './client.js';
import type { Logger } from 'pino';
import type { TlsFiles } from '../../config/broker-settings.js';
import type { BrokerConfig, TransportOptions } from '../../config/config.js';
import { backoffDelay } from '../backoff.js';
import type { QueueDepthSource, QueueFigures } from '../driver.js';
import { redisOptions } from './options.js';

export interface RedisQueueOptions {
  readonly transport: TransportOptions;
  readonly eventExchange: string;
  readonly tls: TlsFiles | undefined;
}

// kombu transport/redis.py: a queue Q with priorities is up to four lists, Q (steps 0-2) and
// Q + sep + step for the other steps (`_q_for_pri`); `_size` sums their LLEN.
const DEFAULT_SEP = '\x06\x16';
const DEFAULT_PRIORITY_STEPS = [0, 3, 6, 9];
/** kombu `keyprefix_queue`: one SET per exchange, members `routing_key SEP pattern SEP queue`. */
const BINDING_PREFIX = '_kombu.binding.';
/** Bindings are rescanned at most this often: SCAN walks the whole keyspace of the db. */
const DISCOVERY_INTERVAL_MS = 30_000;
/**
 * Above this many unacked messages the per-queue split is skipped: each hash value is a whole task
 * message, and reading 100k of them every scrape would cost the broker more than it tells.
 */
const MAX_UNACKED_SCAN = 20_000;

/**
 * Queue depth on Redis, on a connection of its own: one pipeline of LLEN over every priority
 * sub-list of every queue, the `unacked` hash grouped by routing key (HSCAN), and kombu's binding
 * sets to discover queues nobody told us about. Redis has no notion of consumers.
 */
export class RedisQueueDepth implements QueueDepthSource {
  private readonly client: Redis;
  private readonly prefix: string;
  private readonly subLists: readonly string[];
  private readonly sep: string;
  private readonly ignoredExchanges: ReadonlySet<string>;
  private discovered: readonly string[] = [];
  private lastDiscovery = 0;
  private warnedUnacked = false;

  constructor(
    private readonly broker: BrokerConfig,
    options: RedisQueueOptions,
    private readonly logger: Logger,
  ) {
    this.prefix = options.transport.globalKeyprefix;
    this.sep = options.transport.raw['sep'] ?? DEFAULT_SEP;
    this.subLists = priorityStepSuffixes(options.transport.raw['priority_steps'], this.sep);
    // Fanout exchanges of events and remote control: their queues are per-process and come and go.
    this.ignoredExchanges = new Set([options.eventExchange, 'celery.pidbox', 'reply.celery.pidbox']);
    this.client = newRedisClient({
      ...redisOptions(broker.url, options.transport, options.tls),
      connectionName: 'celery-pulse-queues',
      // Fail at once while disconnected instead of queueing: the scrape must not wait for a reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt) => backoffDelay(attempt),
    });
    this.client.on('error', (err: Error) => this.logger.debug({ broker: broker.name, err: err.message }, 'redis queue-depth connection error'));
    this.client.connect().catch(() => undefined);
  }

  async collect(queues: readonly string[]): Promise<Map<string, QueueFigures>> {
    if (this.client.status !== 'ready') throw new Error(`redis connection is ${this.client.status}`);
    const names = new Set(queues);
    for (const q of await this.discover()) names.add(q);
    const list = [...names];
    const pipeline = this.client.pipeline();
    for (const q of list) for (const suffix of this.subLists) pipeline.llen(this.prefix + q + suffix);
    pipeline.hlen(`${this.prefix}unacked`);
    const replies = (await pipeline.exec()) ?? [];
    const unackedTotal = Number(replies[replies.length - 1]?.[1] ?? 0);
    const unacked = unackedTotal === 0 ? new Map<string, number>() : await this.unackedByQueue(unackedTotal);
    const out = new Map<string, QueueFigures>();
    list.forEach((q, i) => {
      let ready = 0;
      for (let j = 0; j < this.subLists.length; j++) {
        const [err, n] = replies[i * this.subLists.length + j] ?? [null, 0];
        if (err) throw err;
        ready += Number(n);
      }
      out.set(q, { ready, unacked: unacked === undefined ? undefined : (unacked.get(q) ?? 0), consumers: undefined });
    });
    return out;
  }

  async close(): Promise<void> {
    this.client.disconnect(false);
  }

  /** Queue names from `_kombu.binding.*` sets, refreshed every DISCOVERY_INTERVAL_MS. */
  private async discover(): Promise<readonly string[]> {
    const now = Date.now();
    if (now - this.lastDiscovery < DISCOVERY_INTERVAL_MS) return this.discovered;
    this.lastDiscovery = now;
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await this.client.scan(cursor, 'MATCH', `${escapeGlob(this.prefix + BINDING_PREFIX)}*`, 'COUNT', 1000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    const wanted = keys.filter((k) => !this.ignoredExchanges.has(k.slice(this.prefix.length + BINDING_PREFIX.length)));
    const found = new Set<string>();
    if (wanted.length > 0) {
      const pipeline = this.client.pipeline();
      for (const k of wanted) pipeline.smembers(k);
      for (const [err, members] of (await pipeline.exec()) ?? []) {
        if (err) continue;
        for (const m of members as string[]) {
          const queue = m.split(this.sep)[2];
          if (queue !== undefined && queue !== '') found.add(queue);
        }
      }
    }
    this.discovered = [...found];
    return this.discovered;
  }

  /**
   * kombu's QoS keeps every delivered, unacknowledged message in one hash for the whole db:
   * delivery_tag -> JSON [message, exchange, routing_key] (redis.py QoS.append). Under Celery's
   * default direct routing the routing key is the queue name.
   */
  private async unackedByQueue(total: number): Promise<Map<string, number> | undefined> {
    if (total > MAX_UNACKED_SCAN) {
      if (!this.warnedUnacked) {
        this.warnedUnacked = true;
        this.logger.warn({ broker: this.broker.name, unacked: total, limit: MAX_UNACKED_SCAN }, 'too many unacked messages to split by queue; celery_queue_unacked_messages omitted');
      }
      return undefined;
    }
    const counts = new Map<string, number>();
    let cursor = '0';
    do {
      const [next, flat] = await this.client.hscan(`${this.prefix}unacked`, cursor, 'COUNT', 500);
      cursor = next;
      for (let i = 1; i < flat.length; i += 2) {
        const queue = routingKeyOf(flat[i]!);
        if (queue !== undefined) counts.set(queue, (counts.get(queue) ?? 0) + 1);
      }
    } while (cursor !== '0');
    return counts;
  }
}

/** The routing key, last element of `[message, exchange, routing_key]`, without parsing the message. */
export function routingKeyOf(entry: string): string | undefined {
  const m = /,\s*("(?:[^"\\]|\\.)*")\s*\]\s*$/.exec(entry);
  if (m === null) return undefined;
  try {
    const v = JSON.parse(m[1]!) as unknown;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Suffixes of the sub-lists of a queue: '' for step 0, SEP+step for the others. The
 * `priority_steps` transport option may be given as `0,3,6,9` or `[0, 3, 6, 9]`.
 */
export function priorityStepSuffixes(option: string | undefined, sep: string): string[] {
  let steps = DEFAULT_PRIORITY_STEPS;
  if (option !== undefined) {
    const parsed = option.replace(/[[\]\s]/g, '').split(',').filter((s) => s !== '').map(Number);
    if (parsed.length > 0 && parsed.every((n) => Number.isInteger(n) && n >= 0)) steps = parsed;
  }
  return ['', ...steps.filter((s) => s !== 0).map((s) => `${sep}${s}`)];
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
