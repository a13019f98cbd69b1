// A socket that reports two errors must not end the daemon. A TLS handshake the server refuses (no
// client certificate) reports the alert and then `read ECONNRESET`; ioredis listens for the first
// only, and the second killed a daemon in redis-tls-sentinel.test.ts. The sequence depends on
// timing, so here it is replayed on a real connection's socket, then the socket is dropped.
import type { Socket } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newRedisClient } from '../../src/brokers/redis/client.js';
import { startRedis, waitFor } from './harness.js';
import type { RedisServer } from './harness.js';

const ALERT = 'tlsv13 alert certificate required';
const RESET = 'read ECONNRESET';

function reportTwice(socket: Socket): void {
  socket.emit('error', new Error(ALERT));
  socket.emit('error', Object.assign(new Error(RESET), { code: 'ECONNRESET', syscall: 'read' }));
}

describe('Redis clients and sockets that fail twice', () => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await startRedis();
  });

  afterAll(async () => {
    await redis?.stop();
  });

  it('ioredis alone lets the second error through (why src/brokers/redis/client.ts exists)', async () => {
    const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true, retryStrategy: () => null });
    client.on('error', () => undefined);
    await client.connect();
    expect(() => reportTwice(client.stream as Socket)).toThrow(RESET);
    client.disconnect();
  });

  it('reports the first error once, drops the second, and reconnects when the socket closes', async () => {
    const client = newRedisClient({ host: '127.0.0.1', port: redis.port, lazyConnect: true, retryStrategy: () => 50 });
    const errors: string[] = [];
    let readies = 0;
    client.on('error', (err: Error) => errors.push(err.message));
    client.on('ready', () => readies++);
    await client.connect();
    const socket = client.stream as Socket;
    expect(() => reportTwice(socket)).not.toThrow();
    expect(errors).toEqual([ALERT]);
    socket.destroy();
    await waitFor('the client to reconnect', () => readies === 2 && client.status === 'ready', 10_000);
    expect(client.stream).not.toBe(socket);
    expect(await client.ping()).toBe('PONG');
    // The new socket is guarded too.
    expect(() => reportTwice(client.stream as Socket)).not.toThrow();
    client.disconnect();
  });
});
