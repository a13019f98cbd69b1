// The command-line contract of the built daemon: exit codes, one-line errors, --help/--version,
// and a daemon that starts and serves even when its broker is unreachable.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { DAEMON, ROOT, freePort, startDaemon, waitFor } from './harness.js';

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [DAEMON, ...args], { encoding: 'utf8', timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('celery-pulse command line', () => {
  it('exits 2 with one line naming a bad flag or value', () => {
    for (const [args, needle] of [
      [['--no-such-flag'], '--no-such-flag'],
      [['--listen-address', 'localhost'], '--listen-address'],
      [['--broker-url', 'redis://:pw-in-url@h/zero'], '--broker-url'],
      [['--runtime-buckets', '5,1'], '--runtime-buckets'],
    ] as const) {
      const r = cli(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain(needle);
      expect(r.stderr).not.toContain('pw-in-url');
      expect(r.stdout).toBe('');
    }
  });

  it('names a bad environment twin the same way', () => {
    const r = spawnSync(process.execPath, [DAEMON], { encoding: 'utf8', env: { ...process.env, CELERY_PULSE_TASK_TTL: 'forever' } });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--task-ttl');
  });

  it('prints --help and --version and exits 0', () => {
    const help = cli('--help');
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--broker-url');
    expect(help.stdout).toContain('CELERY_PULSE_BROKER_URL');
    const version = cli('--version');
    expect(version.status).toBe(0);
    expect(version.stdout).toMatch(/^celery-pulse \d+\.\d+\.\d+\n$/);
  });

  it('loads no library and no part of Node that only some configurations use', () => {
    // Every module an idle daemon loads is megabytes of RSS (src/lazy-module.ts, src/builtins.ts).
    // The daemon's own module graph, in a fresh Node: what it loads before any configuration asks.
    const main = join(dirname(DAEMON), 'main.js');
    const probe = `await import(${JSON.stringify(pathToFileURL(main).href)});
      const { createRequire } = await import('node:module');
      console.log(JSON.stringify({ builtins: process.moduleLoadList, libraries: Object.keys(createRequire(import.meta.url).cache) }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status, r.stderr).toBe(0);
    const { builtins, libraries } = JSON.parse(r.stdout) as { builtins: string[]; libraries: string[] };
    // The probe itself is sound: the libraries every daemon uses are there.
    expect(libraries.some((p) => p.includes('/node_modules/ioredis/'))).toBe(true);
    for (const lazy of ['amqplib', 'yaml', '@msgpack/msgpack', 'bcryptjs']) {
      expect(libraries.filter((p) => p.includes(`/node_modules/${lazy}/`))).toEqual([]);
    }
    // What `import … from 'node:http'` and `'node:fs'` would load: undici and http2 for http's
    // WebSocket getters, the promise API and the REPL's history for fs.
    for (const unused of ['internal/deps/undici/undici', 'http2', 'internal/fs/promises', 'internal/repl/history']) {
      expect(builtins).not.toContain(`NativeModule ${unused}`);
    }
    expect(builtins).toContain('NativeModule http');
  });

  it('runs through `npm start -- <flags>`', () => {
    const r = spawnSync('npm', ['start', '--silent', '--', '--version'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('celery-pulse ');
  });

  it('serves /metrics with the broker down when the broker is unreachable, and is not ready', async () => {
    const deadPort = await freePort();
    const daemon = await startDaemon(['--broker-url', `redis://:hidden-pass@127.0.0.1:${deadPort}/0`], {}, { waitReady: false });
    try {
      const m = await daemon.metrics();
      expect(m.value('celery_pulse_broker_up')).toBe(0);
      expect((await fetch(`${daemon.base}/readyz`)).status).toBe(503);
      expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
      expect((await fetch(`${daemon.base}/metrics`, { method: 'POST' })).status).toBe(405);
      const landing = await (await fetch(`${daemon.base}/`)).text();
      expect(landing).toContain('/metrics');
      // It keeps trying (and saying so) without exiting.
      await waitFor('a connection error in the log', () => daemon.proc.output.includes('redis connection error'), 10_000);
      expect(daemon.proc.running).toBe(true);
      expect(daemon.proc.output).not.toContain('hidden-pass');
    } finally {
      await daemon.stop();
    }
  });
});
