import { fs } from '../../builtins.js';
import type { RedisOptions } from 'ioredis';
import type { BrokerUrl } from '../url.js';
import type { TlsFiles, TransportOptions } from '../../config/config-shape.js';

export type { TlsFiles };

/**
 * ioredis options for a Celery broker URL: plain, TLS (rediss://) or Sentinel
 * (sentinel://h1:26379;sentinel://h2:26379 with the master_name transport option, as kombu's
 * SentinelChannel resolves it). Reconnection is left to the caller's retryStrategy.
 */
export function redisOptions(url: BrokerUrl, transport: TransportOptions, tls: TlsFiles | undefined): RedisOptions {
  const tlsOptions = url.tls
    ? {
        ca: tls?.ca !== undefined ? fs.readFileSync(tls.ca) : undefined,
        cert: tls?.cert !== undefined ? fs.readFileSync(tls.cert) : undefined,
        key: tls?.key !== undefined ? fs.readFileSync(tls.key) : undefined,
        rejectUnauthorized: tls?.verify !== false,
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
    // In kombu the URL's credentials are the master's; the Sentinels' own come from the
    // sentinel_kwargs transport option (redis-py Sentinel(sentinel_kwargs=…)), and are none by default.
    const sentinelAuth = sentinelCredentials(transport.raw['sentinel_kwargs']);
    return {
      ...common,
      sentinels: url.endpoints.map((e) => ({ host: e.host, port: e.port })),
      name: transport.masterName ?? 'mymaster',
      sentinelUsername: sentinelAuth.username,
      sentinelPassword: sentinelAuth.password,
      enableTLSForSentinelMode: url.tls,
    };
  }
  const endpoint = url.endpoints[0]!;
  return { ...common, host: endpoint.host, port: endpoint.port };
}

/**
 * Username and password from Celery's `sentinel_kwargs` transport option, written as JSON or as a
 * Python dict literal (`{'password': 'x'}`). Anything else gives no credentials.
 */
export function sentinelCredentials(option: string | undefined): { username: string | undefined; password: string | undefined } {
  if (option === undefined || option.trim() === '') return { username: undefined, password: undefined };
  let parsed: unknown;
  for (const text of [option, option.replace(/'/g, '"')]) {
    try {
      parsed = JSON.parse(text);
      break;
    } catch {
      // try the next spelling
    }
  }
  const obj = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  return { username: str(obj['username']), password: str(obj['password']) };
}
