import { randomUUID } from 'node:crypto';
import type { TransportOptions } from '../config/config.js';

/** kombu Mailbox('celery') broadcasts go to this exchange (kombu pidbox.py `exchange_fmt`). */
const PIDBOX_EXCHANGE = 'celery.pidbox';

/**
 * The Redis channel of Celery's remote-control broadcasts. kombu names fanout channels the same
 * way for every exchange (transport/redis.py `_get_publish_topic`), and a broadcast has routing
 * key '', so: global_keyprefix + '/{db}.' + 'celery.pidbox' (captured: '/0.celery.pidbox').
 */
export function redisPidboxChannel(db: number, options: TransportOptions): string {
  const fanout = options.fanoutPrefix === true ? `/${db}.` : options.fanoutPrefix === false ? '' : options.fanoutPrefix.replace('{db}', String(db));
  return `${options.globalKeyprefix}${fanout}${PIDBOX_EXCHANGE}`;
}

/**
 * Every channel a broadcast goes to. On Sentinel, kombu before 5.4.0 never formatted `{db}` in
 * the fanout prefix (kombu #1986, as for events in redis-channels.ts), so those workers listen on
 * a literal `/{db}.celery.pidbox`: both are published to; a worker listens on one of them.
 */
export function redisPidboxChannels(db: number, options: TransportOptions, sentinel: boolean): string[] {
  const channels = [redisPidboxChannel(db, options)];
  const literal = options.fanoutPrefix === true ? '/{db}.' : typeof options.fanoutPrefix === 'string' ? options.fanoutPrefix : undefined;
  if (sentinel && literal !== undefined && literal.includes('{db}')) channels.push(`${options.globalKeyprefix}${literal}${PIDBOX_EXCHANGE}`);
  return channels;
}

/**
 * The kombu envelope of a broadcast with no reply, as `app.control.broadcast(method,
 * reply=False)` publishes it (captured in celery-wire/redis/pidbox_enable_events.redis.txt).
 * Workers drop it after `expires`; `ttlSeconds` leaves room for clock skew between hosts.
 */
export function pidboxEnvelope(method: string, args: Record<string, unknown>, nowSeconds: number, ttlSeconds: number): string {
  const body = JSON.stringify({ method, arguments: args, destination: null, pattern: null, matcher: null });
  return JSON.stringify({
    body: Buffer.from(body, 'utf8').toString('base64'),
    'content-encoding': 'utf-8',
    'content-type': 'application/json',
    headers: { clock: 1, expires: nowSeconds + ttlSeconds },
    properties: {
      delivery_mode: 2,
      delivery_info: { exchange: PIDBOX_EXCHANGE, routing_key: '' },
      priority: 0,
      body_encoding: 'base64',
      delivery_tag: randomUUID(),
    },
  });
}
