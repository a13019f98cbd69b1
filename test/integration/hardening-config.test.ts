// Start-up hardening of the built daemon: durations past Node's timer limit, conflicting flags, an
// empty broker URL, web configs that would fail open or fail obscurely, passwords holding `@` or
// `;` (valid against a real redis-server, masked everywhere), and SIGHUP.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../kit/certificates.js';
import type { Certificates } from '../kit/certificates.js';
import { DAEMON, startDaemon, startRedisWithPassword, waitFor } from './harness.js';

function cli(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DAEMON, ...args], { encoding: 'utf8', timeout: 8000, env: { ...process.env, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, one line on stderr, naming `needle`. */
function expectRefused(args: string[], needle: string | RegExp, env: NodeJS.ProcessEnv = {}): string {
  const r = cli(['--broker-url', 'redis://127.0.0.1:1/0', ...args], env);
  expect(r.status, `${args.join(' ')}: ${r.stderr}`).toBe(2);
  expect(r.stderr.trim().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(needle);
  return r.stderr;
}

describe('start-up checks', () => {
  let dir: string;
  let certs: Certificates;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-hardening-'));
    certs = makeCertificates(dir);
  });

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses durations past their bound, naming the flag (Node timers fire at once past 24.8 days)', async () => {
    for (const [flag, value] of [
      ['broker-ping-interval', '25d'],
      ['enable-events-interval', '30d'],
      ['queue-metrics-timeout', '30d'],
      ['unknown-task-grace', '2h'],
      ['task-ttl', '400d'],
      ['traces-max-span-age', '1000d'],
    ] as const) {
      expectRefused([`--${flag}`, value], new RegExp(`--${flag}: "${value}" \\(at most \\d+[dhms]\\)`));
    }
    // The bound itself is accepted: the daemon starts and serves (its broker is unreachable here).
    const atBounds = await startDaemon(['--broker-url', 'redis://127.0.0.1:1/0', '--broker-ping-interval', '1h', '--enable-events-interval', '1d', '--enable-events', '--queue-metrics-timeout', '1m', '--unknown-task-grace', '1h'], {}, { waitReady: false });
    try {
      expect((await atBounds.metrics()).value('celery_pulse_broker_up')).toBe(0);
    } finally {
      await atBounds.stop();
    }
  });

  it('refuses conflicting flags and an empty CELERY_PULSE_BROKER_URL', () => {
    expectRefused(['--queue-metrics', '--no-queue-metrics'], '--queue-metrics given twice');
    expectRefused(['--listen-address', '127.0.0.1:1', '--listen-address', '127.0.0.1:2'], '--listen-address given twice');
    expectRefused(['--traces-task-args'], '--traces-task-args needs --traces');
    const r = cli([], { CELERY_PULSE_BROKER_URL: '' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('CELERY_PULSE_BROKER_URL is set but empty');
  });

  it('refuses a web config whose TLS versions leave none, or whose certificate and key are swapped, naming the files', () => {
    const versions = join(dir, 'versions.yml');
    writeFileSync(versions, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\n  min_version: TLS13\n  max_version: TLS12\n`);
    expectRefused(['--web-config-file', versions], 'min_version is above max_version');
    const swapped = join(dir, 'swapped.yml');
    writeFileSync(swapped, `tls_server_config:\n  cert_file: ${certs.serverKey}\n  key_file: ${certs.serverCert}\n`);
    const err = expectRefused(['--web-config-file', swapped], /are not a certificate and its private key/);
    expect(err).toContain(certs.serverKey);
    expect(err).toContain(certs.serverCert);
    // Each half of two different pairs is refused the same way.
    const mismatched = join(dir, 'mismatched.yml');
    writeFileSync(mismatched, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.clientKey}\n`);
    expectRefused(['--web-config-file', mismatched], /are not a certificate and its private key/);
  });

  it('reports an invalid broker URL without its userinfo, whatever it holds', () => {
    for (const url of [
      'redis://:abc;TAILSECRET@127.0.0.1:99999/0',
      'redis://:abc@TAILSECRET@127.0.0.1:99999/0',
      'rediss://user:TAILSECRET@127.0.0.1:port/0',
      'sentinel://:abc@127.0.0.1:26379;sentinel://:TAILSECRET@127.0.0.1:99999',
      'amqp://guest:TAILSECRET@[bad/',
    ]) {
      const r = cli(['--broker-url', url]);
      expect(r.status, url).toBe(2);
      expect(r.stderr, url).toContain('--broker-url');
      expect(r.stderr, url).not.toContain('TAILSECRET');
      expect(r.stderr, url).not.toContain('abc');
    }
  });
});

describe('passwords holding "@" and ";" on a real redis-server', () => {
  for (const password of ['abc@TAILSECRET', 'abc;TAILSECRET']) {
    it(`connects with ${password} written raw in the URL and never shows it`, async () => {
      const redis = await startRedisWithPassword(password);
      const daemon = await startDaemon(['--broker-url', `redis://:${password}@127.0.0.1:${redis.port}/0`, '--log-level', 'debug']).catch(async (err: unknown) => {
        await redis.stop();
        throw err;
      });
      try {
        const m = await daemon.metrics();
        expect(m.value('celery_pulse_broker_up')).toBe(1);
        expect(daemon.proc.output).toContain('redis://:****@127.0.0.1');
        expect(daemon.proc.output).not.toContain('TAILSECRET');
        expect(daemon.proc.output).not.toContain('abc');
      } finally {
        await daemon.stop();
        await redis.stop();
      }
    });
  }
});

describe('basic auth and signals', () => {
  it('enforces basic auth for a user called __proto__', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-proto-'));
    const web = join(dir, 'web.yml');
    writeFileSync(web, `basic_auth_users:\n  __proto__: ${bcrypt.hashSync('proto-pass', 4)}\n`);
    const redis = await startRedisWithPassword('x');
    const { freePort, Proc } = await import('./harness.js');
    const port = await freePort();
    const proc = new Proc(process.execPath, [DAEMON, '--broker-url', redis.url, '--listen-address', `127.0.0.1:${port}`, '--web-config-file', web]);
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor('the daemon to answer', async () => {
        if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
        return (await fetch(`${base}/healthz`).catch(() => undefined)) !== undefined;
      });
      for (const path of ['/metrics', '/healthz', '/']) expect((await fetch(base + path)).status, path).toBe(401);
      const auth = { authorization: `Basic ${Buffer.from('__proto__:proto-pass').toString('base64')}` };
      expect((await fetch(`${base}/metrics`, { headers: auth })).status).toBe(200);
      const wrong = { authorization: `Basic ${Buffer.from('__proto__:nope').toString('base64')}` };
      expect((await fetch(`${base}/metrics`, { headers: wrong })).status).toBe(401);
    } finally {
      await proc.stop();
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('logs SIGHUP, reloads nothing and keeps serving', async () => {
    const redis = await startRedisWithPassword('y');
    const daemon = await startDaemon(['--broker-url', redis.url]);
    try {
      daemon.proc.signal('SIGHUP');
      await waitFor('the SIGHUP line', () => daemon.proc.output.includes('SIGHUP received'), 5000);
      expect(daemon.proc.running).toBe(true);
      expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
      expect((await daemon.metrics()).value('celery_pulse_broker_up')).toBe(1);
    } finally {
      await daemon.stop();
      await redis.stop();
    }
  });
});
