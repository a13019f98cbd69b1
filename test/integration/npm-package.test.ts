// The npm package as a user gets it: `npm pack` of a clean checkout (the repository's files only,
// no dist/), installed globally into a temporary prefix, gives a `celery-pulse` command that
// counts a real workload from a real redis-server, also when the only shell tools are BusyBox's.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC_FINAL_EVENTS, Proc, ROOT, basicWorkloadDone, freePort, parseMetrics, runWorkload, settledMetrics, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The files a fresh clone of the working tree would have: tracked and new, never ignored (dist/). */
function cleanCheckout(into: string): void {
  const files = run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], ROOT).split('\0').filter((f) => f !== '');
  for (const f of files) {
    if (!existsSync(join(ROOT, f))) continue; // deleted, not yet committed
    mkdirSync(dirname(join(into, f)), { recursive: true });
    copyFileSync(join(ROOT, f), join(into, f));
  }
  // What `npm ci` would install, without the network: the build needs the devDependencies.
  symlinkSync(join(ROOT, 'node_modules'), join(into, 'node_modules'));
}

/** A PATH holding node and BusyBox's applets only: no coreutils, no `env -S`. */
function busyboxPath(dir: string): string {
  mkdirSync(dir);
  for (const applet of ['sh', 'env', 'readlink', 'dirname']) symlinkSync('/usr/bin/busybox', join(dir, applet));
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

// npm from PATH (the system's, or Node's own); it runs on the Node first on PATH.
const NPM = 'npm';
const TIMEOUT_MS = 300_000;

describe('the npm package, installed globally from `npm pack` of a clean checkout', () => {
  let dir: string;
  let prefix: string;
  let tarball: string;
  let redis: RedisServer;
  let worker: CeleryWorker;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-npm-'));
    const checkout = join(dir, 'checkout');
    cleanCheckout(checkout);
    expect(existsSync(join(checkout, 'dist'))).toBe(false);
    run(NPM, ['pack', '--silent', '--pack-destination', dir], checkout);
    tarball = join(dir, readdirSync(dir).find((f) => f.endsWith('.tgz'))!);
    prefix = join(dir, 'prefix');
    run(NPM, ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], dir);
    redis = await startRedis();
    worker = await startWorker({ broker: redis.url, name: 'npm@%h' });
  }, TIMEOUT_MS);

  afterAll(async () => {
    await worker?.stop();
    await redis?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('holds the built CLI, the LICENSE, the docs the README links to and no source map without its source', () => {
    const files = run('tar', ['-tzf', tarball], dir).split('\n').filter((f) => f !== '');
    expect(files).toContain('package/docs/security.md');
    expect(files).toContain('package/dist/cli.js');
    expect(files).toContain('package/bin/celery-pulse');
    expect(files).toContain('package/LICENSE');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  async function daemonFrom(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<DaemonProc> {
    const port = await freePort();
    const proc = new Proc(command, [...args, '--broker-url', redis.url, '--listen-address', `127.0.0.1:${port}`], { env });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('the installed celery-pulse /readyz', async () => {
      if (!proc.running) throw new Error(`celery-pulse exited:\n${proc.output}`);
      return (await fetch(`${base}/readyz`)).status === 200;
    }, 30_000);
    const scrape = async (): Promise<string> => (await fetch(`${base}/metrics`)).text();
    return { proc, port, base, scrape, metrics: async () => parseMetrics(await scrape()), stop: () => proc.stop() };
  }

  it('gives a celery-pulse command that counts a real workload', async () => {
    const bin = join(prefix, 'bin', 'celery-pulse');
    const daemon = await daemonFrom(bin, [], { PATH: `${dirname(process.execPath)}:${process.env['PATH']}` });
    try {
      await runWorkload(redis.url, 'basic');
      const m = await settledMetrics(daemon, 'the basic workload counted', (x) => basicWorkloadDone(x), 60_000);
      for (const [metric, count] of Object.entries(BASIC_FINAL_EVENTS)) expect(m.value(metric), metric).toBe(count);
      expect(m.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
    } finally {
      await daemon.stop();
    }
  });

  it('starts with the heap settings where the only tools are BusyBox\'s (whose env has no -S)', async () => {
    const path = busyboxPath(join(dir, 'busybox-bin'));
    const env = { PATH: path };
    // The old `#!/usr/bin/env -S …` shebang would have failed here.
    expect(spawnSync('env', ['-S', 'true'], { env }).status).not.toBe(0);
    const daemon = await daemonFrom(join(path, 'sh'), [join(prefix, 'bin', 'celery-pulse')], env);
    try {
      const flags = readFileSync(`/proc/${daemon.proc.child.pid}/cmdline`, 'utf8').split('\0');
      expect(flags).toContain('--max-semi-space-size=4');
      const environ = readFileSync(`/proc/${daemon.proc.child.pid}/environ`, 'utf8').split('\0');
      expect(environ).toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=65536']));
      expect((await daemon.metrics()).value('celery_pulse_broker_up')).toBe(1);
    } finally {
      await daemon.stop();
    }
  });
});
