import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel } from 'amqplib';
import { PIDBOX_REPLY_EXCHANGE, pidboxBody, pidboxReplyQueue } from '../pidbox.js';
import type { ReplyLimits } from '../source.js';

/** kombu Mailbox('celery') broadcasts go to this fanout exchange (kombu pidbox.py `exchange_fmt`). */
const PIDBOX_EXCHANGE = 'celery.pidbox';
const NOT_FOUND = 404;
const REPLY_QUEUE_EXPIRES_MS = 10_000;

/**
 * Publishes a Celery remote-control broadcast the way `app.control.broadcast()` does
 * (kombu pidbox.py Mailbox._broadcast): a JSON body `{method, arguments, destination, pattern,
 * matcher}` with `clock` and `expires` headers, routing key '', on the `celery.pidbox` fanout
 * exchange. The exchange is only checked (passive declare), never declared: kombu versions declare
 * it with different flags, and a declaration that differs from the workers' would make them fail
 * with 406 PRECONDITION_FAILED. When it does not exist no worker is listening, and there is nothing
 * to send. The check and publish run on a channel of their own, so a refusal closes only that
 * channel, never the one consuming events.
 */
export async function publishPidboxBroadcast(model: ChannelModel, method: string, args: Record<string, unknown>, ttlSeconds = 1): Promise<void> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    try {
      await channel.checkExchange(PIDBOX_EXCHANGE);
    } catch (err) {
      if ((err as { code?: number }).code === NOT_FOUND) return;
      throw err;
    }
    const body = Buffer.from(pidboxBody(method, args));
    channel.publish(PIDBOX_EXCHANGE, '', body, {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 1,
      headers: { clock: 1, expires: Date.now() / 1000 + ttlSeconds },
    });
  } finally {
    await channel.close().catch(() => undefined);
  }
}

/**
 * A broadcast with replies over AMQP, as kombu's Mailbox does it: a reply queue of our own bound
 * to the direct exchange `reply.celery.pidbox` with our oid as routing key, consumed without acks,
 * then the broadcast with `ticket` and `reply_to` in its body. Replies are JSON
 * `{ "<worker node name>": <value> }` with the ticket in their headers. The reply exchange is
 * declared only when missing, with kombu's flags (non-durable direct), so a worker's own
 * declaration never conflicts. Everything runs on a channel of its own, closed at the end, which
 * takes the auto-delete queue with it.
 */
export async function requestPidboxReplies(model: ChannelModel, method: string, args: Record<string, unknown>, limits: ReplyLimits): Promise<unknown[]> {
  if (!(await exchangeExists(model, PIDBOX_EXCHANGE))) return [];
  if (!(await exchangeExists(model, PIDBOX_REPLY_EXCHANGE))) {
    const declare = await model.createChannel();
    declare.on('error', () => undefined);
    await declare.assertExchange(PIDBOX_REPLY_EXCHANGE, 'direct', { durable: false, autoDelete: false });
    await declare.close().catch(() => undefined);
  }
  const oid = randomUUID();
  const ticket = randomUUID();
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  const out: unknown[] = [];
  try {
    const queue = pidboxReplyQueue(oid);
    // Auto-delete removes it once our consumer goes; `expires` (kombu's reply_queue_expires, 10 s)
    // also removes one whose consumer never started (a failed bind or consume), which would
    // otherwise live as long as the connection, one per failed round.
    await channel.assertQueue(queue, { durable: false, autoDelete: true, exclusive: true, expires: REPLY_QUEUE_EXPIRES_MS });
    await channel.bindQueue(queue, PIDBOX_REPLY_EXCHANGE, oid);
    await new Promise<void>((resolve) => {
      let bytes = 0;
      const timer = setTimeout(resolve, limits.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      channel
        .consume(
          queue,
          (msg) => {
            if (msg === null) return done();
            bytes += msg.content.length;
            const headers = msg.properties.headers as Record<string, unknown> | undefined;
            if (headers?.['ticket'] === ticket) {
              try {
                out.push(JSON.parse(msg.content.toString('utf8')) as unknown);
              } catch {
                // Not JSON: not a reply of Celery's.
              }
            }
            if (out.length >= (limits.maxReplies ?? Infinity) || bytes >= limits.maxBytes) done();
          },
          { noAck: true },
        )
        .then(() => publishRequest(channel, method, args, oid, ticket, limits.timeoutMs / 1000), done);
    });
  } finally {
    await channel.close().catch(() => undefined);
  }
  return out;
}

function publishRequest(channel: Channel, method: string, args: Record<string, unknown>, oid: string, ticket: string, ttlSeconds: number): void {
  channel.publish(PIDBOX_EXCHANGE, '', Buffer.from(pidboxBody(method, args, { oid, ticket })), {
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    deliveryMode: 1,
    headers: { clock: 1, expires: Date.now() / 1000 + Math.max(1, ttlSeconds) },
  });
}

/** A passive check on a throwaway channel: a missing exchange closes the channel that asked. */
async function exchangeExists(model: ChannelModel, name: string): Promise<boolean> {
  const channel = await model.createChannel();
  channel.on('error', () => undefined);
  try {
    await channel.checkExchange(name);
    return true;
  } catch (err) {
    if ((err as { code?: number }).code === NOT_FOUND) return false;
    throw err;
  } finally {
    await channel.close().catch(() => undefined);
  }
}
