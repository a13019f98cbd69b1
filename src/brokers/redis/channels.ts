import type { TransportOptions } from '../../config/config.js';

export interface RedisEventChannels {
  /** Patterns for PSUBSCRIBE: events published with a routing key (fanout_patterns=True). */
  readonly patterns: readonly string[];
  /** Channels for SUBSCRIBE: events published without one (fanout_patterns=False). */
  readonly channels: readonly string[];
}

/**
 * Where kombu publishes Celery events on Redis (kombu transport/redis.py `_get_publish_topic`):
 *   global_keyprefix + keyprefix_fanout + exchange [+ '/' + routing_key if fanout_patterns]
 * with keyprefix_fanout = '/{db}.' by default. Pub/sub channels are server-wide, so the db only
 * appears in this prefix. ioredis keyPrefix is not applied to channels, so the names are built
 * here. When fanout_patterns is not set, both forms are subscribed: each event is published to
 * exactly one of them, so nothing is counted twice.
 */
export function redisEventChannels(db: number, exchange: string, options: TransportOptions, sentinel = false): RedisEventChannels {
  const fanout = options.fanoutPrefix === true ? `/${db}.` : options.fanoutPrefix === false ? '' : options.fanoutPrefix.replace('{db}', String(db));
  const bases = [`${options.globalKeyprefix}${fanout}${exchange}`];
  // kombu before 5.4.0 never formatted the prefix on Sentinel (SentinelChannel skipped the
  // `.format(db=…)` of Channel._get_pool; kombu #1986): those clients publish on a literal
  // `/{db}.celeryev/…`. Both are subscribed; a client publishes each event on one of them only.
  const literal = options.fanoutPrefix === true ? '/{db}.' : typeof options.fanoutPrefix === 'string' ? options.fanoutPrefix : undefined;
  if (sentinel && literal !== undefined && literal.includes('{db}')) bases.push(`${options.globalKeyprefix}${literal}${exchange}`);
  const patterns = bases.map((base) => `${escapeGlob(base)}/*`);
  if (options.fanoutPatterns === true) return { patterns, channels: [] };
  if (options.fanoutPatterns === false) return { patterns: [], channels: bases };
  return { patterns, channels: bases };
}

/** Redis glob-style patterns treat * ? [ ] and \ specially; a prefix must match literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
