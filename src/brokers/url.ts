import { configError } from '../errors.js';

export type BrokerKind = 'redis' | 'amqp';

export interface BrokerEndpoint {
  readonly host: string;
  readonly port: number;
}

/** A broker URL taken apart; `display` is the only form that may reach a log, label or page. */
export interface BrokerUrl {
  readonly kind: BrokerKind;
  readonly scheme: string;
  readonly tls: boolean;
  /** One endpoint, or several Sentinels for `sentinel://`. */
  readonly endpoints: readonly BrokerEndpoint[];
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** Redis database number. */
  readonly db: number;
  /** AMQP virtual host. */
  readonly vhost: string;
  readonly sentinel: boolean;
  /** The URL with any password replaced by `****`. */
  readonly display: string;
}

const REDIS_SCHEMES = new Set(['redis', 'rediss', 'sentinel', 'sentinels']);
const AMQP_SCHEMES = new Set(['amqp', 'amqps', 'pyamqp', 'librabbitmq']);
const AMQP_TLS_SCHEMES = new Set(['amqps']);

/**
 * Replaces the password of every `scheme://user:pass@` in a string; safe on any text. The
 * userinfo runs to the LAST `@` of the authority (urllib's netloc.rpartition('@'), which kombu
 * uses, and the WHATWG parser agree), so a password holding `@` or `;` is masked whole.
 */
export function redactSecrets(text: string): string {
  return text.replace(/(\b[a-z][a-z0-9+.-]*:\/\/)([^\s/?#]*)@/gi, (_all, scheme: string, userinfo: string) => `${scheme}${maskUserinfo(userinfo)}@`);
}

function maskUserinfo(userinfo: string): string {
  const colon = userinfo.indexOf(':');
  return colon === -1 ? userinfo : `${userinfo.slice(0, colon)}:****`;
}

/** A URL that did not parse, for an error message: everything before the authority's last `@` goes. */
function withoutUserinfo(text: string): string {
  return text.replace(/^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)[^/?#]*@/i, '$1****@');
}

/** The parsed URL with its password replaced: what may reach a log, a label or a page. */
function displayOf(url: URL): string {
  if (url.password === '') return url.href;
  const shown = new URL(url.href);
  shown.password = '****';
  return shown.href;
}

// Several URLs are joined with `;` only for Sentinel (`sentinel://a;sentinel://b`): a `;` not
// followed by a scheme belongs to the URL, e.g. to its password.
const URL_LIST_SEPARATOR = /;(?=\s*[a-z][a-z0-9+.-]*:\/\/)/i;

/**
 * Parses a broker URL the way Celery/kombu accept them: `redis://[user:pass@]host[:port][/db]`,
 * `rediss://…`, `sentinel://h1:26379;sentinel://h2:26379[/db]`, `amqp://user:pass@host:5672/vhost`,
 * `amqps://…`. Errors never echo the password.
 */
export function parseBrokerUrl(input: string): BrokerUrl {
  const parts = input.split(URL_LIST_SEPARATOR).map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw configError('CP_ERR_BROKER_URL', 'empty broker URL');
  const parsed = parts.map((p) => parseOne(p));
  const display = parsed.map(displayOf).join(';');
  const first = parsed[0]!;
  const scheme = first.protocol.slice(0, -1).toLowerCase();
  if (parsed.some((u) => u.protocol !== first.protocol)) {
    throw configError('CP_ERR_BROKER_URL', `broker URL ${display} mixes schemes`);
  }
  const sentinel = scheme === 'sentinel' || scheme === 'sentinels';
  if (parsed.length > 1 && !sentinel) {
    throw configError('CP_ERR_BROKER_URL', `broker URL ${display}: only sentinel:// URLs may list several hosts`);
  }
  const kind: BrokerKind | undefined = REDIS_SCHEMES.has(scheme) ? 'redis' : AMQP_SCHEMES.has(scheme) ? 'amqp' : undefined;
  if (kind === undefined) {
    throw configError('CP_ERR_BROKER_URL', `broker URL ${display}: unsupported scheme "${scheme}" (redis, rediss, sentinel, amqp, amqps)`);
  }
  const defaultPort = kind === 'amqp' ? (AMQP_TLS_SCHEMES.has(scheme) ? 5671 : 5672) : sentinel ? 26379 : 6379;
  const endpoints = parsed.map((u) => ({ host: stripBrackets(u.hostname) || 'localhost', port: u.port ? Number(u.port) : defaultPort }));
  // Credentials and db/vhost come from the first URL that has them (Celery's sentinel form puts them on each).
  const withAuth = parsed.find((u) => u.username !== '' || u.password !== '') ?? first;
  const username = withAuth.username !== '' ? decodeURIComponent(withAuth.username) : undefined;
  const password = withAuth.password !== '' ? decodeURIComponent(withAuth.password) : undefined;
  const path = (parsed.find((u) => u.pathname.length > 1) ?? first).pathname;

  let db = 0;
  let vhost = '/';
  if (kind === 'redis') {
    const dbText = path.replace(/^\//, '');
    if (dbText !== '') {
      if (!/^\d+$/.test(dbText)) throw configError('CP_ERR_BROKER_URL', `broker URL ${display}: database "${dbText}" is not a number`);
      db = Number(dbText);
    }
  } else if (path.length > 1) {
    vhost = decodeURIComponent(path.slice(1));
  }
  return {
    kind,
    scheme,
    tls: scheme === 'rediss' || scheme === 'sentinels' || AMQP_TLS_SCHEMES.has(scheme),
    endpoints,
    username,
    password,
    db,
    vhost,
    sentinel,
    display,
  };
}

function parseOne(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw configError('CP_ERR_BROKER_URL', `broker URL ${withoutUserinfo(text)} is not a URL`);
  }
  if (url.port !== '' && (Number(url.port) < 1 || Number(url.port) > 65535)) {
    throw configError('CP_ERR_BROKER_URL', `broker URL ${displayOf(url)}: bad port`);
  }
  return url;
}

function stripBrackets(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}
