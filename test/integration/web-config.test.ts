// /metrics behind the Prometheus exporter-toolkit web config: real certificates made with the
// openssl CLI, real HTTPS requests, bcrypt basic auth, client certificates, a real Prometheus
// scraping with an ordinary scrape config, and the HTTP server's own limits.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON, Proc, freePort, sleep, startDaemon, startRedis, waitFor } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';

const USER = 'prometheus';
const PASSWORD = 'scrape-s3cret';

interface Pki {
  dir: string;
  file: (name: string) => string;
}

/** A CA, a server certificate for 127.0.0.1 and two client certificates: one from the CA, one from a stranger. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-pki-'));
  const file = (name: string): string => join(dir, name);
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ca = (name: string): void => ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`);
  const leaf = (name: string, signer: string, ext: string): void => {
    writeFileSync(file(`${name}.ext`), ext);
    ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${signer}.crt`, '-CAkey', `${signer}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`);
  };
  ca('ca');
  ca('stranger-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('stranger', 'stranger-ca', 'extendedKeyUsage=clientAuth\n');
  return { dir, file };
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function get(port: number, path: string, options: { pki: Pki; auth?: string | undefined; client?: string | undefined; method?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path,
        method: options.method ?? 'GET',
        ca: execFileSync('cat', [options.pki.file('ca.crt')]),
        cert: options.client ? execFileSync('cat', [options.pki.file(`${options.client}.crt`)]) : undefined,
        key: options.client ? execFileSync('cat', [options.pki.file(`${options.client}.key`)]) : undefined,
        headers: options.auth ? { authorization: `Basic ${Buffer.from(options.auth).toString('base64')}` } : {},
        agent: false,
        timeout: 10_000,
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

/** The daemon with a web config; readiness is polled over HTTPS with good credentials. */
async function startSecureDaemon(redisUrl: string, webConfig: string, pki: Pki, client?: string): Promise<{ proc: Proc; port: number }> {
  const port = await freePort();
  const proc = new Proc(process.execPath, [DAEMON, '--broker-url', redisUrl, '--listen-address', `127.0.0.1:${port}`, '--web-config-file', webConfig, '--log-level', 'info']);
  await waitFor('the HTTPS daemon', async () => {
    if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
    return (await get(port, '/readyz', { pki, auth: `${USER}:${PASSWORD}`, client })).status === 200;
  }, 20_000, 200);
  return { proc, port };
}

describe('--web-config-file: TLS and basic auth', () => {
  let pki: Pki;
  let redis: RedisServer;
  let daemon: { proc: Proc; port: number };
  const auth = `${USER}:${PASSWORD}`;

  beforeAll(async () => {
    pki = makePki();
    redis = await startRedis();
    const hash = bcrypt.hashSync(PASSWORD, 10);
    // Relative paths resolve against the web config's directory, as in exporter-toolkit.
    writeFileSync(pki.file('web.yml'), `tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\nbasic_auth_users:\n  ${USER}: ${hash}\n  other: ${bcrypt.hashSync('other-pass', 4)}\n`);
    daemon = await startSecureDaemon(redis.url, pki.file('web.yml'), pki);
  });

  afterAll(async () => {
    await daemon?.proc.stop();
    await redis?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('serves /metrics over HTTPS to a client with the right credentials', async () => {
    const r = await get(daemon.port, '/metrics', { pki, auth });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^celery_pulse_broker_up 1$/m);
    expect((await get(daemon.port, '/metrics', { pki, auth: 'other:other-pass' })).status).toBe(200);
  });

  it('refuses missing, wrong and unknown credentials on every path with 401 and a Basic challenge', async () => {
    for (const path of ['/metrics', '/', '/health', '/healthz', '/readyz', '/nope']) {
      for (const bad of [undefined, `${USER}:wrong`, `nobody:${PASSWORD}`, `${USER}`, `${USER}:${PASSWORD}x`]) {
        const r = await get(daemon.port, path, { pki, auth: bad });
        expect(r.status).toBe(401);
        expect(r.headers['www-authenticate']).toMatch(/^Basic realm="celery-pulse"/);
        expect(r.body).not.toMatch(/celery_/);
      }
    }
  });

  it('turns a flood of wrong passwords away without starving good scrapes', async () => {
    // The good credentials were checked once above and are remembered: no bcrypt for them now.
    const flood = Array.from({ length: 30 }, () => get(daemon.port, '/metrics', { pki, auth: `${USER}:guess` }));
    const good = await get(daemon.port, '/metrics', { pki, auth });
    const statuses = (await Promise.all(flood)).map((r) => r.status);
    expect(good.status).toBe(200);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 401).length).toBeGreaterThanOrEqual(2);
  });

  it('accepts only GET and HEAD', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await get(daemon.port, '/metrics', { pki, auth, method });
      expect(r.status).toBe(405);
      expect(r.headers['allow']).toBe('GET, HEAD');
    }
    const head = await get(daemon.port, '/metrics', { pki, auth, method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it('does not speak plain HTTP on the TLS port', async () => {
    const res = await fetch(`http://127.0.0.1:${daemon.port}/metrics`).then(
      (r) => r.status,
      () => 'refused',
    );
    expect(res).not.toBe(200);
  });

  it('is scraped by a real Prometheus with scheme https, tls_config and basic_auth', async () => {
    const promPort = await freePort();
    writeFileSync(
      pki.file('prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 1s }',
        'scrape_configs:',
        '  - job_name: celery-pulse',
        '    scheme: https',
        `    tls_config: { ca_file: ${pki.file('ca.crt')} }`,
        `    basic_auth: { username: ${USER}, password: ${PASSWORD} }`,
        `    static_configs: [{ targets: ['127.0.0.1:${daemon.port}'] }]`,
        '  - job_name: celery-pulse-no-auth',
        '    scheme: https',
        `    tls_config: { ca_file: ${pki.file('ca.crt')} }`,
        `    static_configs: [{ targets: ['127.0.0.1:${daemon.port}'] }]`,
        '',
      ].join('\n'),
    );
    const prom = new Proc('prometheus', [`--config.file=${pki.file('prometheus.yml')}`, `--web.listen-address=127.0.0.1:${promPort}`, `--storage.tsdb.path=${pki.file('tsdb')}`]);
    try {
      const query = async (q: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]> => {
        const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
        return ((await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
      };
      const results = await waitFor('Prometheus to scrape both jobs', async () => {
        if (!prom.running) throw new Error(prom.output);
        const up = await query('up');
        return up.length === 2 ? up : undefined;
      }, 30_000, 500);
      const byJob = Object.fromEntries(results.map((r) => [r.metric['job'], r.value[1]]));
      expect(byJob).toEqual({ 'celery-pulse': '1', 'celery-pulse-no-auth': '0' });
      expect((await query('celery_pulse_broker_up'))[0]?.value[1]).toBe('1');
    } finally {
      await prom.stop();
    }
  });
});

describe('--web-config-file: client certificates (RequireAndVerifyClientCert)', () => {
  let pki: Pki;
  let redis: RedisServer;
  let daemon: { proc: Proc; port: number };

  beforeAll(async () => {
    pki = makePki();
    redis = await startRedis();
    writeFileSync(
      pki.file('web.yml'),
      `tls_server_config:\n  cert_file: ${pki.file('server.crt')}\n  key_file: ${pki.file('server.key')}\n  client_ca_file: ${pki.file('ca.crt')}\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n`,
    );
    const port = await freePort();
    const proc = new Proc(process.execPath, [DAEMON, '--broker-url', redis.url, '--listen-address', `127.0.0.1:${port}`, '--web-config-file', pki.file('web.yml')]);
    await waitFor('the mTLS daemon', async () => (await get(port, '/readyz', { pki, client: 'client' }).catch(() => ({ status: 0 }))).status === 200, 20_000, 200);
    daemon = { proc, port };
  });

  afterAll(async () => {
    await daemon?.proc.stop();
    await redis?.stop();
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  it('serves a client whose certificate the CA signed', async () => {
    const r = await get(daemon.port, '/metrics', { pki, client: 'client' });
    expect(r.status).toBe(200);
    expect(r.body).toContain('celery_pulse_build_info');
  });

  it('refuses a client without a certificate or with a stranger\'s', async () => {
    for (const client of [undefined, 'stranger']) {
      const outcome = await get(daemon.port, '/metrics', { pki, client }).then(
        (r) => `status ${r.status}`,
        (err: Error) => `error ${err.message}`,
      );
      expect(outcome).toMatch(/^error /);
    }
  });
});

describe('--web-config-file: bad files stop the start-up with one clear line', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-webcfg-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cases: [string, string, RegExp][] = [
    ['plain password', 'basic_auth_users:\n  u: hunter2\n', /password of "u" is not a bcrypt hash/],
    ['unknown key', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  cipher_suites: [x]\n', /unsupported setting "cipher_suites"/],
    ['missing key file', 'tls_server_config:\n  cert_file: a.crt\n', /needs both cert_file and key_file/],
    ['unreadable certificate', 'tls_server_config:\n  cert_file: none.crt\n  key_file: none.key\n', /cannot read ".*none.crt"/],
    ['bad client auth', 'tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Sometimes\n', /client_auth_type "Sometimes"/],
    ['not YAML', 'basic_auth_users: [\n', /web config file/],
  ];
  for (const [what, text, message] of cases) {
    it(`rejects ${what}`, () => {
      const file = join(dir, `${what.replace(/\W/g, '_')}.yml`);
      writeFileSync(file, text);
      const r = spawnSync(process.execPath, [DAEMON, '--web-config-file', file, '--broker-url', 'redis://127.0.0.1:1/0'], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    });
  }
});

describe('HTTP server limits (plain HTTP)', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
  });

  afterAll(async () => {
    await daemon?.stop();
    await redis?.stop();
  });

  it('answers 405 to every method but GET and HEAD, on every path', async () => {
    for (const path of ['/metrics', '/', '/health', '/healthz', '/readyz', '/nope']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const res = await fetch(daemon.base + path, { method, body: method === 'OPTIONS' ? undefined : 'x' });
        expect(res.status).toBe(405);
        expect(res.headers.get('allow')).toBe('GET, HEAD');
      }
    }
    const head = await fetch(`${daemon.base}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  it('refuses request headers over 16 KiB with 431', async () => {
    const res = await fetch(`${daemon.base}/metrics`, { headers: { 'x-big': 'a'.repeat(20 * 1024) } });
    expect(res.status).toBe(431);
    expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
  });

  it('holds at most 256 connections, and serves again once they go', async () => {
    let closed = 0;
    const sockets = await Promise.all(
      Array.from({ length: 300 }, () => new Promise<Socket>((resolve) => {
        const s = connect({ host: '127.0.0.1', port: daemon.port });
        s.on('error', () => undefined);
        s.on('close', () => closed++);
        s.once('connect', () => resolve(s));
      })),
    );
    await sleep(1000);
    // The server closes what it cannot hold (this process may keep a few keep-alive sockets of its own).
    expect(closed).toBeGreaterThanOrEqual(300 - 256);
    expect(closed).toBeLessThanOrEqual(300 - 256 + 5);
    for (const s of sockets) s.destroy();
    await waitFor('the server to serve again', async () => (await fetch(`${daemon.base}/healthz`)).status === 200, 5000);
  });
});
