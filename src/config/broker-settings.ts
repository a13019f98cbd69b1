import { fs } from '../builtins.js';
import { sentinelCredentials } from '../brokers/redis/options.js';
import { redactSecrets } from '../brokers/url.js';
import { configError } from '../errors.js';

// Settings that belong to brokers but not to their URLs: TLS files, queues to watch and the
// RabbitMQ management API. Validated once at start-up, like the rest of Config.

export type { ManagementEndpoint, TlsFiles } from './config-shape.js';
import type { BrokerConfig, Config, ManagementEndpoint, TlsFiles } from './config-shape.js';

export function parseTlsFiles(ca: string | undefined, cert: string | undefined, key: string | undefined, verify = true): TlsFiles {
  for (const [flag, path] of [['broker-tls-ca', ca], ['broker-tls-cert', cert], ['broker-tls-key', key]] as const) {
    if (path === undefined) continue;
    try {
      fs.accessSync(path, fs.constants.R_OK);
    } catch {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${flag}: cannot read "${path}"`);
    }
  }
  if ((cert === undefined) !== (key === undefined)) {
    throw configError('CP_ERR_FLAG_VALUE', 'invalid value for --broker-tls-cert/--broker-tls-key: give both or neither');
  }
  return { ca, cert, key, verify };
}

// AMQP queue names are short strings of at most 255 bytes; whitespace would break label matching.
const QUEUE_NAME = /^[^\s\p{Cc}]{1,255}$/u;

/**
 * `--queues NAME` applies to every broker, `--queues BROKER=NAME` to one. A name may contain `=`
 * only in the second form (the part before the first `=` must then name a broker).
 */
export function parseQueues(values: readonly string[], brokers: readonly BrokerConfig[]): Record<string, string[]> {
  const out: Record<string, string[]> = Object.fromEntries(brokers.map((b) => [b.name, [] as string[]]));
  for (const raw of values) {
    const v = raw.trim();
    const eq = v.indexOf('=');
    const scoped = eq > 0 && out[v.slice(0, eq)] !== undefined;
    const name = scoped ? v.slice(eq + 1) : v;
    if (!QUEUE_NAME.test(name)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --queues: "${v}" (a queue name)`);
    for (const b of scoped ? [v.slice(0, eq)] : Object.keys(out)) {
      const list = out[b]!;
      if (!list.includes(name)) list.push(name);
    }
  }
  return out;
}

const NAMED = /^([A-Za-z_][\w.-]{0,62})=(.+)$/;

/** `--rabbitmq-management-url [NAME=]URL`: without NAME it belongs to the only AMQP broker. */
export function parseManagementUrls(values: readonly string[], brokers: readonly BrokerConfig[]): Record<string, ManagementEndpoint> {
  const amqp = brokers.filter((b) => b.url.kind === 'amqp');
  const out: Record<string, ManagementEndpoint> = {};
  for (const v of values) {
    const m = NAMED.exec(v);
    const named = m !== null && brokers.some((b) => b.name === m[1]);
    const brokerName = named ? m[1]! : amqp.length === 1 ? amqp[0]!.name : undefined;
    if (brokerName === undefined) {
      throw configError(
        'CP_ERR_FLAG_VALUE',
        `invalid value for --rabbitmq-management-url: ${amqp.length === 0 ? 'no amqp:// broker' : 'several AMQP brokers: use NAME=URL'}`,
      );
    }
    if (brokers.find((b) => b.name === brokerName)?.url.kind !== 'amqp') {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --rabbitmq-management-url: broker "${brokerName}" is not AMQP`);
    }
    if (out[brokerName] !== undefined) {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --rabbitmq-management-url: two URLs for broker "${brokerName}"`);
    }
    out[brokerName] = parseManagementUrl(named ? m[2]! : v);
  }
  return out;
}

function parseManagementUrl(text: string): ManagementEndpoint {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  // The value is not echoed: a malformed URL is exactly where a password escapes redaction.
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') {
    throw configError('CP_ERR_FLAG_VALUE', 'invalid value for --rabbitmq-management-url: not an http:// or https:// URL');
  }
  const display = redactSecrets(text);
  const username = url.username !== '' ? decodeURIComponent(url.username) : undefined;
  const password = url.password !== '' ? decodeURIComponent(url.password) : undefined;
  url.username = '';
  url.password = '';
  const baseUrl = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return { baseUrl, username, password, display };
}

/** Every password the configuration holds, for the logger to scrub from any line. */
export function configSecrets(config: Pick<Config, 'brokers' | 'rabbitmqManagement' | 'transport'>): string[] {
  const all = [
    ...config.brokers.map((b) => b.url.password),
    ...Object.values(config.rabbitmqManagement).map((m) => m.password),
    sentinelCredentials(config.transport.raw['sentinel_kwargs']).password,
  ];
  return all.filter((p): p is string => p !== undefined);
}
