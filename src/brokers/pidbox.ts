// kombu pidbox (Celery remote control) wire format shared by both brokers' transports.

/** Where workers send replies (kombu pidbox.py `reply_exchange_fmt`, a direct exchange). */
export const PIDBOX_REPLY_EXCHANGE = 'reply.celery.pidbox';

/** A reply address: kombu's Mailbox.oid is the routing key, its reply queue `<oid>.reply.celery.pidbox`. */
export interface PidboxReplyTo {
  readonly oid: string;
  readonly ticket: string;
}

export function pidboxReplyQueue(oid: string): string {
  return `${oid}.${PIDBOX_REPLY_EXCHANGE}`;
}

/**
 * The JSON body of a broadcast (kombu Mailbox._publish): with `reply`, the `ticket` replies carry
 * in their headers and the `reply_to` they are published to.
 */
export function pidboxBody(method: string, args: Record<string, unknown>, reply?: PidboxReplyTo): string {
  const body: Record<string, unknown> = { method, arguments: args, destination: null, pattern: null, matcher: null };
  if (reply !== undefined) {
    body['ticket'] = reply.ticket;
    body['reply_to'] = { exchange: PIDBOX_REPLY_EXCHANGE, routing_key: reply.oid };
  }
  return JSON.stringify(body);
}
