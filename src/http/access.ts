import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { WebConfig, WebTlsConfig } from './web-config.js';
import type { Logger } from 'pino';
import { BcryptChecker } from './bcrypt-checker.js';

/** Why a request is refused, or undefined when it may proceed. */
export interface Refusal {
  readonly status: 401 | 403 | 429;
  readonly reason: 'no_credentials' | 'bad_credentials' | 'client_certificate' | 'too_many_attempts';
}

// A hash every unknown user is checked against, so that a wrong user name costs as much time as a
// wrong password and user names cannot be probed by timing (exporter-toolkit does the same).
// bcrypt('celery-pulse-no-such-user', cost 10), computed once offline: hashing at import costs 100 ms.
const DUMMY_HASH = '$2b$10$o0bGeC/AXB2FbIXjCyi98.RAs5agDF9rxTFhgxksnA1r1rCwBluYy';
// Good credentials are remembered (as a SHA-256, never in clear) so that a Prometheus scraping
// every few seconds pays for bcrypt once, not on every scrape; bounded so it cannot grow.
const MAX_REMEMBERED = 64;
// bcrypt costs ~100 ms of CPU per check in pure JS, done on one worker thread: beyond this many
// checks in flight (one running, one queued), unknown credentials are turned away (429) without
// one; remembered good credentials never need a check, so Prometheus keeps scraping meanwhile.
const MAX_CONCURRENT_CHECKS = 2;

/** The node:tls options of an HTTPS server from tls_server_config. */
export function tlsServerOptions(tls: WebTlsConfig): TlsOptions & SecureContextOptions {
  const verify = tls.clientAuth === 'RequireAndVerifyClientCert';
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.clientCa,
    // Only RequireAndVerifyClientCert can be enforced in the handshake; the softer Go modes are
    // checked per request in checkClientCertificate.
    requestCert: tls.clientAuth !== 'NoClientCert',
    rejectUnauthorized: verify,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    // A client that opens a socket and never finishes the handshake is dropped after 10 s.
    handshakeTimeout: 10_000,
  };
}

function checkClientCertificate(tls: WebTlsConfig, req: IncomingMessage): Refusal | undefined {
  const mode = tls.clientAuth;
  if (mode === 'NoClientCert' || mode === 'RequestClientCert' || mode === 'RequireAndVerifyClientCert') return undefined;
  const socket = req.socket as TLSSocket;
  const cert = socket.getPeerCertificate();
  const given = cert !== null && Object.keys(cert).length > 0;
  if (mode === 'RequireAnyClientCert') return given ? undefined : { status: 403, reason: 'client_certificate' };
  // VerifyClientCertIfGiven
  return !given || socket.authorized ? undefined : { status: 403, reason: 'client_certificate' };
}

/** Checks one request against the web config: client certificate mode, then basic auth. */
export class AccessControl {
  private readonly remembered = new Set<string>();
  private readonly bcrypt: BcryptChecker;
  private checking = 0;

  /** `logger` hears of a bcrypt thread that fails (once per outage). */
  constructor(
    private readonly config: WebConfig,
    logger: Pick<Logger, 'error' | 'info'>,
  ) {
    this.bcrypt = new BcryptChecker({ logger });
  }

  get requiresAuth(): boolean {
    return this.config.users !== undefined;
  }

  async check(req: IncomingMessage): Promise<Refusal | undefined> {
    if (this.config.tls !== undefined) {
      const refused = checkClientCertificate(this.config.tls, req);
      if (refused !== undefined) return refused;
    }
    const users = this.config.users;
    if (users === undefined) return undefined;
    const header = req.headers.authorization;
    if (header === undefined || !/^basic /i.test(header)) return { status: 401, reason: 'no_credentials' };
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { status: 401, reason: 'bad_credentials' };
    const user = decoded.slice(0, colon);
    const password = decoded.slice(colon + 1);
    const hash = Object.hasOwn(users, user) ? users[user] : undefined;
    const fingerprint = createHash('sha256').update(`${user}\u0000${password}\u0000${hash ?? ''}`).digest('hex');
    if (hash !== undefined && this.remembered.has(fingerprint)) return undefined;
    if (this.checking >= MAX_CONCURRENT_CHECKS) return { status: 429, reason: 'too_many_attempts' };
    // On a worker thread (bcrypt-checker.ts): the event loop keeps serving meanwhile.
    this.checking++;
    let ok: boolean;
    try {
      ok = await this.bcrypt.compare(password, hash ?? DUMMY_HASH);
    } finally {
      this.checking--;
    }
    if (!ok || hash === undefined) return { status: 401, reason: 'bad_credentials' };
    if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear();
    this.remembered.add(fingerprint);
    return undefined;
  }
}
