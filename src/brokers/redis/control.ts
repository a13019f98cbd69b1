import { randomUUID } from 'node:crypto';
import type { TransportOptions } from '../../config/config.js';
import { PIDBOX_REPLY_EXCHANGE, pidboxBody, pidboxReplyQueue } from '../pidbox.js';
import type { PidboxReplyTo } from '../pidbox.js';

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
 * the fanout prefix (kombu #1986, as for events in channels.ts), so those workers listen on
 * a literal `/{db}.celery.pidbox`: both are published to; a worker listens on one of them.
 */
export function redisPidboxChannels(db: number, options: TransportOptions, sentinel: boolean): string[] {
  const channels = [redisPidboxChannel(db, options)];
  const literal = options.fanoutPrefix === true ? '/{db}.' : typeof options.fanoutPrefix === 'string' ? options.fanoutPrefix : undefined;
  if (sentinel && literal !== undefined && literal.includes('{db}')) channels.push(`${options.globalKeyprefix}${literal}${PIDBOX_EXCHANGE}`);
  return channels;
}

/**
 * kombu's Redis binding of the reply queue to the reply exchange (transport/redis.py
 * `_queue_bind`): a member `routing_key SEP pattern SEP queue` of `_kombu.binding.<exchange>`.
 * A worker's reply goes to the queues this set names (`_lookup`); none, and it is dropped.
 */
export function redisReplyBinding(globalKeyprefix: string, oid: string): { key: string; member: string; list: string } {
  const sep = '\x06\x16';
  const queue = pidboxReplyQueue(oid);
  return { key: `${globalKeyprefix}_kombu.binding.${PIDBOX_REPLY_EXCHANGE}`, member: [oid, '', queue].join(sep), list: `${globalKeyprefix}${queue}` };
}

/**
 * The body of a reply as kombu's Redis transport stores it in the reply list: an envelope whose
 * `body` is base64 (properties.body_encoding) JSON, `{ "<worker node name>": <value> }`, with the
 * ticket in its headers. Undefined for anything else, or a reply to another request.
 */
export function decodeRedisReply(envelope: string, ticket: string): unknown {
  try {
    const msg = JSON.parse(envelope) as { body?: unknown; headers?: { ticket?: unknown }; properties?: { body_encoding?: unknown } };
    if (msg.headers?.ticket !== ticket || typeof msg.body !== 'string') return undefined;
    const text = msg.properties?.body_encoding === 'base64' ? Buffer.from(msg.body, 'base64').toString('utf8') : msg.body;
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * The kombu envelope of a broadcast, as `app.control.broadcast(method, reply=False)` publishes it
 * (captured in celery-wire/redis/pidbox_enable_events.redis.txt), or with `reply` as
 * `reply=True` does. Workers drop it after `expires`; `ttlSeconds` leaves room for clock skew
 * between hosts.
 */
export function pidboxEnvelope(method: string, args: Record<string, unknown>, nowSeconds: number, ttlSeconds: number, reply?: PidboxReplyTo): string {
  const body = pidboxBody(method, args, reply);
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
