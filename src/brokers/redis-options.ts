import { readFileSync } from 'node:fs';
import type { RedisOptions } from 'ioredis';
import type { BrokerUrl } from './url.js';
import type { TransportOptions } from '../config/config.js';

export interface TlsFiles {
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
}

/**
 * ioredis options for a Celery broker URL: plain, TLS (rediss://) or Sentinel
 * (sentinel://h1:26379;sentinel://h2:26379 with the master_name transport option, as kombu's
 * SentinelChannel resolves it). Reconnection is left to the caller's retryStrategy.
 */
export function redisOptions(url: BrokerUrl, transport: TransportOptions, tls: TlsFiles | undefined): RedisOptions {
  const tlsOptions = url.tls
    ? {
        ca: tls?.ca !== undefined ? readFileSync(tls.ca) : undefined,
        cert: tls?.cert !== undefined ? readFileSync(tls.cert) : undefined,
        key: tls?.key !== undefined ? readFileSync(tls.key) : undefined,
      }
    : undefined;
  const common: RedisOptions = {
    username: url.username,
    password: url.password,
    db: url.db,
    lazyConnect: true,
    enableReadyCheck: true,
    maxRetriesPerRequest: null,
    connectTimeout: 5000,
    tls: tlsOptions,
  };
  if (url.sentinel) {
    return {
      ...common,
      sentinels: url.endpoints.map((e) => ({ host: e.host, port: e.port })),
      name: transport.masterName ?? 'mymaster',
      sentinelUsername: url.username,
      sentinelPassword: url.password,
      enableTLSForSentinelMode: url.tls,
    };
  }
  const endpoint = url.endpoints[0]!;
  return { ...common, host: endpoint.host, port: endpoint.port };
}
