import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';

/** What the guard needs of ioredis's connector: the method that opens each socket. */
interface SocketOpener {
  connect(...args: unknown[]): Promise<NodeJS.EventEmitter>;
}

/**
 * An ioredis client whose sockets can never end the process with an 'error' nobody listens to.
 *
 * ioredis listens for a socket's first 'error' only (`stream.once('error')` in Redis#connect). A
 * TLS handshake the server refuses (no client certificate) can report two, the alert and then
 * `read ECONNRESET`, and the second, with no listener, was thrown and killed the daemon: seen in
 * the TLS integration test. ioredis declined to listen with `on` (redis/ioredis#961, #962), so each
 * socket its connector opens gets a listener of ours. It does nothing: the first error has been
 * reported through the client's own 'error' event, and the socket's close that follows makes the
 * client reconnect.
 */
export function newRedisClient(options: RedisOptions): Redis {
  const client = new Redis(options);
  const connector = (client as unknown as { connector?: Partial<SocketOpener> }).connector;
  const connect = connector?.connect;
  // A private field of ioredis: fail at start-up, in the tests, if a version changes it.
  if (connector === undefined || typeof connect !== 'function') {
    throw new Error('ioredis has no connector.connect to guard: check src/brokers/redis/client.ts against this ioredis version');
  }
  connector.connect = async (...args: unknown[]) => {
    const socket = await connect.apply(connector, args);
    socket.on('error', ignoreLaterSocketError);
    return socket;
  };
  return client;
}

function ignoreLaterSocketError(): void {
  // See newRedisClient: ioredis has seen the first error; a later one on the same socket adds nothing.
}
