// No container engine runs here, so this reproduces the image from the Dockerfile itself
// (test/integration/dockerfile.ts): the build stage compiles the build context that
// .dockerignore lets through, the deps stage installs production dependencies from the lock
// file, and the final stage's files are assembled as its COPY lines say, with the Node binary at
// /usr/local/bin as in the base image. That tree is made read-only and its ENTRYPOINT is run with
// the image's ENV as an unprivileged user, against a real redis-server and Celery worker.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { contextAllowList, parseDockerfile, reproduce, runtimeOf } from './dockerfile.js';
import { NODE_FLAGS } from '../../src/heap-tuning.js';
import { Proc, ROOT, freePort, parseMetrics, runWorkload, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, RedisServer } from './harness.js';

const NOBODY = ['--reuid=65534', '--regid=65534', '--clear-groups'];
// Two npm installs and a TypeScript build on a shared 2-core machine.
const BUILD_TIMEOUT_MS = 300_000;

function run(command: string, args: string[]): void {
  const r = spawnSync(command, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('the container image, reproduced without a container engine', () => {
  const dockerfile = parseDockerfile(join(ROOT, 'Dockerfile'));
  const final = dockerfile.stages.at(-1)!;
  const image = runtimeOf(final);
  const allowed = contextAllowList(join(ROOT, '.dockerignore'));
  let out: string;
  let root: string;
  let app: string;
  let node: string;
  let redis: RedisServer;
  let worker: CeleryWorker;
  let daemon: Proc;
  let port: number;
  const imageEnv = (): NodeJS.ProcessEnv => ({ ...image.env, HOME: '/nonexistent', PATH: `${dirname(node)}:/usr/bin:/bin` });

  beforeAll(async () => {
    out = mkdtempSync(join(tmpdir(), 'pulse-image-'));
    // The build and deps stages run for real (npm from its cache where it can); the final
    // stage's only RUN removes npm from the base image, which the host does not lend anyway.
    const stages = dockerfile.stages.map((s, i) => s.name ?? String(i));
    const roots = reproduce(dockerfile, ROOT, allowed, out, new Set(stages.slice(0, -1)), { npm_config_prefer_offline: 'true', npm_config_loglevel: 'error' });
    root = roots.get(stages.at(-1)!)!;
    node = join(root, 'usr', 'local', 'bin', 'node');
    mkdirSync(dirname(node), { recursive: true });
    copyFileSync(realpathSync(process.execPath), node);
    app = join(root, image.workdir);
    // Read-only for everyone: the unprivileged user owns nothing and may write nowhere in the tree.
    run('chown', ['-R', 'root:root', root]);
    run('chmod', ['-R', 'a-w', root]);
    run('chmod', ['a+rx', out, root]);

    redis = await startRedis();
    port = await freePort();
    const [cmd, ...args] = image.entrypoint;
    daemon = new Proc('setpriv', [...NOBODY, cmd === 'node' ? node : cmd!, ...args, '--broker-url', redis.url, '--listen-address', `127.0.0.1:${port}`], {
      cwd: app,
      env: imageEnv(),
    });
    await waitFor('the daemon in the image layout to be ready', async () => {
      if (!daemon.running) throw new Error(`daemon exited:\n${daemon.output}`);
      return (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200;
    }, 20_000);
    worker = await startWorker({ broker: redis.url, name: 'image1@%h' });
    await runWorkload(redis.url, 'basic');
  }, BUILD_TIMEOUT_MS);

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
    if (out !== undefined) {
      spawnSync('chmod', ['-R', 'u+w', out]);
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('is multi-stage on CI\'s Node major, non-root, and builds from a minimal context', () => {
    const nodeMajor = /^NODE_MAJOR=(\d+)$/m.exec(readFileSync(join(ROOT, '.ci', 'node.sh'), 'utf8'))?.[1];
    expect(dockerfile.stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile.args['NODE_IMAGE']).toMatch(new RegExp(`^node:${nodeMajor}(-|$)`));
    for (const stage of dockerfile.stages) expect(stage.from).toBe('${NODE_IMAGE}');
    expect(image.user).toMatch(/^[1-9]\d*:[1-9]\d*$/);
    expect(image.env['NODE_ENV']).toBe('production');
    expect(image.entrypoint).toEqual(['node', ...NODE_FLAGS, 'dist/cli.js']);
    expect(allowed.sort()).toEqual(['package-lock.json', 'package.json', 'src', 'tsconfig.build.json', 'tsconfig.json']);
  });

  it('holds production dependencies only, and no source maps', () => {
    const modules = readdirSync(join(app, 'node_modules'));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(app, 'node_modules', dep, 'package.json'))).toBe(true);
    for (const dev of ['typescript', 'vitest', 'eslint', 'kubernetes-models', '@types']) expect(modules).not.toContain(dev);
    expect(files(join(app, 'dist')).filter((f) => !f.endsWith('.js'))).toEqual([]);
  });

  it('runs as the unprivileged user, in a tree it cannot write to', () => {
    const status = readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe('65534');
    const touch = spawnSync('setpriv', [...NOBODY, 'touch', join(app, 'dist', 'written')], { encoding: 'utf8' });
    expect(touch.status).not.toBe(0);
    expect(touch.stderr).toContain('Permission denied');
  });

  it('serves /metrics with the exact counts of a real workload', async () => {
    const m = await waitFor('the workload in /metrics', async () => {
      const cur = parseMetrics(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text());
      return cur.value('celery_task_succeeded_total') === 7 && cur.value('celery_task_revoked_total') === 2 ? cur : undefined;
    }, 60_000);
    expect(m.value('celery_task_failed_total')).toBe(5);
    expect(m.value('celery_worker_up', { hostname: worker.hostname })).toBe(1);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    expect(m.value('celery_pulse_build_info', { version, nodejs: process.versions.node })).toBe(1);
  });

  it('sizes the V8 heap from the memory limit with the image\'s NODE_OPTIONS', () => {
    const probe = 'const v8=require("v8");console.log(JSON.stringify({limit:v8.getHeapStatistics().heap_size_limit,constrained:process.constrainedMemory(),total:require("os").totalmem()}))';
    const res = spawnSync('setpriv', [...NOBODY, node, '-e', probe], { cwd: app, env: imageEnv(), encoding: 'utf8' });
    expect(res.status).toBe(0);
    const { limit, constrained, total } = JSON.parse(res.stdout) as { limit: number; constrained: number; total: number };
    // Node takes the cgroup limit when there is one (constrainedMemory), else the machine's memory.
    const memory = constrained > 0 && constrained < total ? constrained : total;
    const pct = Number(/--max-old-space-size-percentage=(\d+)/.exec(image.env['NODE_OPTIONS'] ?? '')?.[1]);
    expect(pct).toBe(60);
    // The old generation is exactly pct% of it; the young generation adds at most 3 x 64 MiB.
    expect(limit).toBeGreaterThanOrEqual(Math.floor((memory * pct) / 100));
    expect(limit).toBeLessThanOrEqual((memory * pct) / 100 + 3 * 64 * 2 ** 20);
  });

  it('exits 0 on SIGTERM', async () => {
    daemon.signal('SIGTERM');
    expect(await daemon.exited).toBe(0);
    expect(daemon.output).toContain('"msg":"stopped"');
    expect(daemon.output).not.toMatch(/EACCES|EROFS|read-only/i);
  });
});
