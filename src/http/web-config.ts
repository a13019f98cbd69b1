import { fs } from '../builtins.js';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type * as Yaml from 'yaml';
import { lazyModule } from '../lazy-module.js';
import { configError } from '../errors.js';

const yaml = lazyModule<typeof Yaml>('yaml');

// The web configuration file of Prometheus exporters (prometheus/exporter-toolkit
// docs/web-configuration.md), so a scrape config written for node_exporter or redis_exporter
// (scheme: https, tls_config, basic_auth) works unchanged against celery-pulse. Like the toolkit,
// relative paths are resolved against the file's directory and unknown keys are an error.

/** exporter-toolkit's client_auth_type values (Go's tls.ClientAuthType names). */
export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

const CLIENT_AUTH_TYPES = new Set<string>(['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert']);
const TLS_ORDER = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
const TLS_VERSIONS: Record<string, 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3'> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };

export interface WebTlsConfig {
  /** PEM text (strings, not Buffers: Config is deep-frozen). */
  readonly cert: string;
  readonly key: string;
  readonly clientCa: string | undefined;
  readonly clientAuth: ClientAuthType;
  readonly minVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  readonly maxVersion: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3' | undefined;
}

export interface WebConfig {
  readonly path: string;
  readonly tls: WebTlsConfig | undefined;
  /** user -> bcrypt hash; undefined when no basic auth is configured. */
  readonly users: Readonly<Record<string, string>> | undefined;
  /** Extra response headers (http_server_config.headers). */
  readonly headers: Readonly<Record<string, string>>;
}

const BCRYPT_HASH = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

function fail(path: string, message: string): never {
  throw configError('CP_ERR_WEB_CONFIG', `web config file ${path}: ${message}`);
}

function mapping(path: string, what: string, value: unknown): Record<string, unknown> {
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) fail(path, `${what} must be a mapping`);
  return value as Record<string, unknown>;
}

function onlyKeys(path: string, what: string, obj: Record<string, unknown>, allowed: readonly string[]): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail(path, `${what}: unsupported setting "${key}" (supported: ${allowed.join(', ')})`);
  }
}

function str(path: string, what: string, value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') fail(path, `${what} must be a string`);
  return value;
}

function readPem(path: string, what: string, file: string): string {
  const full = resolve(dirname(path), file);
  try {
    return fs.readFileSync(full, 'utf8');
  } catch {
    return fail(path, `${what}: cannot read "${full}"`);
  }
}

/** Reads and validates the file once at start-up; every later problem is a start-up error. */
export function loadWebConfig(path: string): WebConfig {
  let doc: unknown;
  try {
    doc = yaml().parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    fail(path, err instanceof Error ? (err.message.split('\n')[0] ?? 'unreadable') : 'unreadable');
  }
  const top = mapping(path, 'the file', doc);
  onlyKeys(path, 'the file', top, ['tls_server_config', 'basic_auth_users', 'http_server_config']);
  const tls = parseTls(path, top['tls_server_config']);

  const usersRaw = mapping(path, 'basic_auth_users', top['basic_auth_users']);
  // No prototype: a user called `__proto__` (or `constructor`) is a user like any other, not a
  // write to Object.prototype that leaves the table empty and the server open.
  const users: Record<string, string> = Object.create(null) as Record<string, string>;
  const named = Object.keys(usersRaw);
  for (const user of named) {
    const hash = usersRaw[user];
    if (user.includes(':')) fail(path, `basic_auth_users: user name "${user}" contains ":"`);
    if (typeof hash !== 'string' || !BCRYPT_HASH.test(hash)) fail(path, `basic_auth_users: the password of "${user}" is not a bcrypt hash`);
    Object.defineProperty(users, user, { value: hash, enumerable: true });
  }
  // Fail closed: a file that names users gets basic auth, or the daemon does not start.
  if (Object.keys(users).length !== named.length) fail(path, 'basic_auth_users: could not read every user');

  const http = mapping(path, 'http_server_config', top['http_server_config']);
  onlyKeys(path, 'http_server_config', http, ['headers']);
  const headersRaw = mapping(path, 'http_server_config.headers', http['headers']);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(headersRaw)) {
    if (!/^[A-Za-z0-9-]+$/.test(name) || typeof value !== 'string' || /[\r\n]/.test(value)) fail(path, `http_server_config.headers: bad header "${name}"`);
    headers[name] = value;
  }
  return { path, tls, users: named.length > 0 ? users : undefined, headers };
}

function parseTls(path: string, raw: unknown): WebTlsConfig | undefined {
  if (raw === undefined || raw === null) return undefined;
  const t = mapping(path, 'tls_server_config', raw);
  onlyKeys(path, 'tls_server_config', t, ['cert_file', 'key_file', 'client_ca_file', 'client_auth_type', 'min_version', 'max_version']);
  const certFile = str(path, 'tls_server_config.cert_file', t['cert_file']);
  const keyFile = str(path, 'tls_server_config.key_file', t['key_file']);
  if (certFile === undefined || keyFile === undefined) fail(path, 'tls_server_config needs both cert_file and key_file');
  const caFile = str(path, 'tls_server_config.client_ca_file', t['client_ca_file']);
  const clientAuth = str(path, 'tls_server_config.client_auth_type', t['client_auth_type']) ?? (caFile !== undefined ? 'RequireAndVerifyClientCert' : 'NoClientCert');
  if (!CLIENT_AUTH_TYPES.has(clientAuth)) fail(path, `tls_server_config.client_auth_type "${clientAuth}" (one of ${[...CLIENT_AUTH_TYPES].join(', ')})`);
  if ((clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert') && caFile === undefined) {
    fail(path, `tls_server_config.client_auth_type ${clientAuth} needs client_ca_file`);
  }
  const version = (key: string): WebTlsConfig['maxVersion'] => {
    const v = str(path, `tls_server_config.${key}`, t[key]);
    if (v === undefined) return undefined;
    const mapped = TLS_VERSIONS[v];
    if (mapped === undefined) fail(path, `tls_server_config.${key} "${v}" (TLS10, TLS11, TLS12 or TLS13)`);
    return mapped;
  };
  // exporter-toolkit's default minimum is TLS 1.2.
  const minVersion = version('min_version') ?? 'TLSv1.2';
  const maxVersion = version('max_version');
  if (maxVersion !== undefined && TLS_ORDER.indexOf(minVersion) > TLS_ORDER.indexOf(maxVersion)) {
    fail(path, `tls_server_config.min_version is above max_version: no TLS version is left`);
  }
  const cert = readPem(path, 'tls_server_config.cert_file', certFile);
  const key = readPem(path, 'tls_server_config.key_file', keyFile);
  // A swapped or mismatched pair would otherwise fail when the server starts, with an OpenSSL
  // message that names neither file.
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    fail(path, `cert_file "${resolve(dirname(path), certFile)}" and key_file "${resolve(dirname(path), keyFile)}" are not a certificate and its private key (${reason})`);
  }
  return {
    cert,
    key,
    clientCa: caFile === undefined ? undefined : readPem(path, 'tls_server_config.client_ca_file', caFile),
    clientAuth: clientAuth as ClientAuthType,
    minVersion,
    maxVersion,
  };
}
