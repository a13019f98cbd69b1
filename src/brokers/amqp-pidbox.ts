import type { ChannelModel } from 'amqplib';

/** kombu Mailbox('celery') broadcasts go to this fanout exchange (kombu pidbox.py `exchange_fmt`). */
export const PIDBOX_EXCHANGE = 'celery.pidbox';
const NOT_FOUND = 404;

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
    const body = Buffer.from(JSON.stringify({ method, arguments: args, destination: null, pattern: null, matcher: null }));
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
