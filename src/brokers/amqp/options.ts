import { fs } from '../../builtins.js';
import type { Options, SocketOptions } from 'amqplib';
import type { TlsFiles } from '../../config/broker-settings.js';
import type { BrokerUrl } from '../url.js';

export interface AmqpConnectOptions {
  readonly connect: Options.Connect;
  readonly socket: SocketOptions;
}

/** Seconds between AMQP heartbeats: a broker that vanished without a FIN is noticed within ~2x this. */
const HEARTBEAT_SECONDS = 10;
const CONNECT_TIMEOUT_MS = 5000;

/**
 * amqplib options for a Celery broker URL (amqp://, amqps://, pyamqp://): credentials default to
 * guest/guest as in kombu, the vhost comes from the path (`/` when empty, `%2F` decoded), TLS
 * uses the --broker-tls-* files. An options object, never a URL string, so the password cannot
 * end up in an amqplib error message.
 */
export function amqpConnectOptions(url: BrokerUrl, tls: TlsFiles | undefined, connectionName: string, heartbeatSeconds = HEARTBEAT_SECONDS): AmqpConnectOptions {
  const endpoint = url.endpoints[0]!;
  const socket: SocketOptions = {
    timeout: CONNECT_TIMEOUT_MS,
    // Nagle's algorithm held each small request (a passive declare, one after another on the
    // queue-depth channel) until the broker's delayed ACK, ~40 ms apiece: a scrape of four queues
    // took 190 ms instead of 29. Nothing here benefits from coalescing writes.
    noDelay: true,
    clientProperties: { connection_name: connectionName, product: 'celery-pulse' },
  };
  if (url.tls) {
    if (tls?.ca !== undefined) socket.ca = fs.readFileSync(tls.ca);
    if (tls?.cert !== undefined) socket.cert = fs.readFileSync(tls.cert);
    if (tls?.key !== undefined) socket.key = fs.readFileSync(tls.key);
    if (tls?.verify === false) socket.rejectUnauthorized = false;
  }
  return {
    connect: {
      protocol: url.tls ? 'amqps' : 'amqp',
      hostname: endpoint.host,
      port: endpoint.port,
      username: url.username ?? 'guest',
      password: url.password ?? 'guest',
      vhost: url.vhost,
      // RabbitMQ uses the smaller of its own and ours; whole seconds, at least 1.
      heartbeat: Math.max(1, Math.round(heartbeatSeconds)),
    },
    socket,
  };
}
