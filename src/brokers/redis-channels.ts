import type { TransportOptions } from '../config/config.js';

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
export function redisEventChannels(db: number, exchange: string, options: TransportOptions): RedisEventChannels {
  const fanout = options.fanoutPrefix === true ? `/${db}.` : options.fanoutPrefix === false ? '' : options.fanoutPrefix.replace('{db}', String(db));
  const base = `${options.globalKeyprefix}${fanout}${exchange}`;
  const pattern = `${escapeGlob(base)}/*`;
  if (options.fanoutPatterns === true) return { patterns: [pattern], channels: [] };
  if (options.fanoutPatterns === false) return { patterns: [], channels: [base] };
  return { patterns: [pattern], channels: [base] };
}

/** Redis glob-style patterns treat * ? [ ] and \ specially; a prefix must match literally. */
function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
