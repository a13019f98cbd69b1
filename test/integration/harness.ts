// Real parts for integration tests: redis-server, rabbitmq-server, Celery workers (Debian's
// python3-celery, or current Celery from .ci/celery.sh's venv) and the built daemon, each started on
// loopback on a free port and stopped by the test that started it.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAUNCH_ENV, NODE_FLAGS } from '../../src/heap-tuning.js';
import type { Certificates } from './certificates.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CELERY_DIR = join(ROOT, 'test', 'integration', 'celery');
/**
 * The interpreter whose Celery the workers run: Debian's (python3-celery; a pyenv `python3` on PATH
 * would not have it) unless CELERY_PULSE_TEST_PYTHON names another, as the integration-celery-current
 * project does (vitest.config.ts).
 */
export const PYTHON = process.env['CELERY_PULSE_TEST_PYTHON'] ?? '/usr/bin/python3';

/** `celery X kombu Y` as PYTHON imports them; throws, naming the interpreter, when it cannot. */
export function celeryVersions(python = PYTHON): string {
  const r = spawnSync(python, [join(CELERY_DIR, 'worker.py'), '--print-versions'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python} cannot import Celery and kombu: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
  return r.stdout.trim();
}

/** The Celery minor PYTHON runs, e.g. [5, 6]: for behaviour that only newer Celery has. */
export function celeryMinor(python = PYTHON): [number, number] {
  const m = /^celery (\d+)\.(\d+)/.exec(celeryVersions(python));
  if (!m) throw new Error(`unexpected version line from ${python}`);
  return [Number(m[1]), Number(m[2])];
}
/** The built daemon; CELERY_PULSE_DAEMON points tests at another build (each developer's own outDir). */
export const DAEMON = process.env['CELERY_PULSE_DAEMON'] ?? join(ROOT, 'dist', 'cli.js');

// Ports are drawn at random below Linux's ephemeral range (32768-60999) and checked free. Asking
// the kernel for port 0 instead hands a just-released port to the next caller, and with two test
// files running at once, one file's daemon could answer the other's readiness check.
const PORT_LOW = 20_000;
const PORT_HIGH = 32_000;

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = PORT_LOW + Math.floor(Math.random() * (PORT_HIGH - PORT_LOW));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port found between ${PORT_LOW} and ${PORT_HIGH}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 20_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/** A child process whose output is kept for assertions and for the failure message. */
export class Proc {
  readonly child: ChildProcess;
  output = '';
  exited: Promise<number | null>;

  constructor(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
    this.child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code)));
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (!this.running) return;
    this.child.kill('SIGTERM');
    const done = await Promise.race([this.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly proc: Proc;
  cli(...args: string[]): string;
  stop(): Promise<void>;
}

export async function startRedis(extraArgs: string[] = [], port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pulse-redis-'));
  const proc = new Proc('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs]);
  const cli = (...args: string[]): string => {
    const r = spawnSync('redis-cli', ['-p', String(p), ...args], { encoding: 'utf8' });
    return r.stdout.trim();
  };
  await waitFor('redis-server to answer PING', () => cli('PING') === 'PONG', 10_000);
  return {
    port: p,
    url: `redis://127.0.0.1:${p}/0`,
    proc,
    cli,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface WorkerOptions {
  readonly broker: string;
  /** Celery node name, e.g. `w1@%h`. */
  readonly name: string;
  readonly concurrency?: number;
  readonly pool?: 'prefork' | 'solo' | 'threads';
  /** Send task events (-E). */
  readonly events?: boolean;
  readonly queues?: string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly extraArgs?: string[];
}

export interface CeleryWorker {
  readonly proc: Proc;
  /** The node name as Celery reports it in events. */
  readonly hostname: string;
  stop(): Promise<void>;
}

/** The node name Celery builds from `name@%h`: %h is socket.gethostname(). */
export function celeryHostname(name: string): string {
  const host = spawnSync(PYTHON, ['-c', 'import socket; print(socket.gethostname())'], { encoding: 'utf8' }).stdout.trim();
  return name.replace('%h', host);
}

export async function startWorker(options: WorkerOptions): Promise<CeleryWorker> {
  // celery/worker.py, not `celery worker`: current Celery's command line needs packages the test
  // venv does not hold (see that file); the flags mean the same.
  const args = [
    join(CELERY_DIR, 'worker.py'),
    '-n', options.name,
    '-P', options.pool ?? 'prefork',
    '-c', String(options.concurrency ?? 2),
    '--without-mingle', '--without-gossip',
    '-l', 'INFO',
    ...(options.events === false ? [] : ['-E']),
    ...(options.queues ? ['-Q', options.queues.join(',')] : []),
    ...(options.extraArgs ?? []),
  ];
  const proc = new Proc(PYTHON, args, {
    cwd: CELERY_DIR,
    env: { PULSE_BROKER: options.broker, PULSE_TASK_EVENTS: options.events === false ? '0' : '1', PYTHONUNBUFFERED: '1', ...options.env },
  });
  await waitFor(`celery worker ${options.name} to be ready`, () => {
    if (!proc.running) throw new Error(`worker exited:\n${proc.output}`);
    return /\bready\.?/.test(proc.output);
  }, 30_000);
  return {
    proc,
    hostname: celeryHostname(options.name),
    // Warm shutdown; a worker stuck in a task gets SIGKILL after the grace time.
    stop: () => proc.stop(15_000),
  };
}

/**
 * The final events of one run of the `basic` workload (workload.py): 5 ok + 2 flaky_retry
 * succeed, 3 ValueError + 2 KeyError fail, 1 rejected, 2 revoked (one expired, one revoked).
 */
export const BASIC_FINAL_EVENTS = {
  celery_task_succeeded_total: 7,
  celery_task_failed_total: 5,
  celery_task_rejected_total: 1,
  celery_task_revoked_total: 2,
} as const;

/** True once `times` runs of the `basic` workload have all their final events counted (under `labels`). */
export function basicWorkloadDone(m: Metrics, times = 1, labels: Record<string, string> = {}): boolean {
  return Object.entries(BASIC_FINAL_EVENTS).every(([metric, count]) => m.value(metric, labels) === count * times);
}

/**
 * The daemon's metrics once `done` holds for them, read again 1.5 s later, so that anything
 * counted twice or late shows in what the test asserts.
 */
export async function settledMetrics(daemon: DaemonProc, what: string, done: (m: Metrics) => boolean, timeoutMs: number): Promise<Metrics> {
  await waitFor(what, async () => done(await daemon.metrics()), timeoutMs);
  await sleep(1500);
  return daemon.metrics();
}

/** Runs test/integration/celery/workload.py NAME and returns the task ids it printed. */
export async function runWorkload(broker: string, name: string, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string[]>> {
  const proc = new Proc(PYTHON, [join(CELERY_DIR, 'workload.py'), name], { cwd: CELERY_DIR, env: { PULSE_BROKER: broker, ...env } });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`workload ${name} failed (${code}):\n${proc.output}`);
  const lastLine = proc.output.trim().split('\n').pop() ?? '{}';
  return JSON.parse(lastLine) as Record<string, string[]>;
}

export interface DaemonProc {
  readonly proc: Proc;
  readonly port: number;
  readonly base: string;
  scrape(accept?: string): Promise<string>;
  metrics(): Promise<Metrics>;
  stop(): Promise<void>;
}

export async function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}, options: { waitReady?: boolean } = {}): Promise<DaemonProc> {
  const port = await freePort();
  const proc = new Proc(process.execPath, [...NODE_FLAGS, DAEMON, '--listen-address', `127.0.0.1:${port}`, ...args], { env: { ...LAUNCH_ENV, ...env } });
  const base = `http://127.0.0.1:${port}`;
  const path = options.waitReady === false ? '/healthz' : '/readyz';
  await waitFor(`daemon ${path}`, async () => {
    if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
    const res = await fetch(base + path);
    return res.status === 200;
  }, 20_000);
  // A daemon that could not bind its port exits at once; make sure the one answering is ours.
  await sleep(200);
  if (!proc.running) throw new Error(`daemon exited after start:\n${proc.output}`);
  const scrape = async (accept?: string): Promise<string> => {
    const res = await fetch(`${base}/metrics`, { headers: accept ? { accept } : {} });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text();
  };
  return {
    proc,
    port,
    base,
    scrape,
    metrics: async () => parseMetrics(await scrape()),
    stop: () => proc.stop(),
  };
}

/** Parsed Prometheus text: `value(name, labels)` sums every series of `name` matching `labels`. */
export class Metrics {
  constructor(readonly series: { name: string; labels: Record<string, string>; value: number }[]) {}

  value(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const s of this.series) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  find(name: string, labels: Record<string, string> = {}): { labels: Record<string, string>; value: number }[] {
    return this.series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

export function parseMetrics(text: string): Metrics {
  const series: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(m[2] ?? '')) !== null) labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return new Metrics(series);
}

export interface RabbitServer {
  /** AMQP port on 127.0.0.1. */
  readonly port: number;
  /** Management plugin HTTP port on 127.0.0.1. */
  readonly managementPort: number;
  /** `amqp://guest:guest@127.0.0.1:<port>//` (the default vhost `/`, Celery's spelling). */
  readonly url: string;
  /** `http://guest:guest@127.0.0.1:<managementPort>`. */
  readonly managementUrl: string;
  /** AMQPS port on 127.0.0.1, and `amqps://guest:guest@127.0.0.1:<tlsPort>//`, when started with a TLS listener. */
  readonly tlsPort: number | undefined;
  readonly tlsUrl: string | undefined;
  readonly nodename: string;
  readonly proc: Proc;
  /** Calls the management HTTP API as guest; returns the parsed JSON (undefined for an empty body). */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  /** Runs rabbitmqctl against this node (slow: ~2 s of Erlang start-up per call; prefer api()). */
  ctl(...args: string[]): string;
  /**
   * Stops the node (graceful, or SIGKILL with `kill`), waits `downMs` if given, and starts it again
   * on the same ports and data; resolves once it accepts AMQP and management requests again.
   */
  restart(options?: { kill?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

/**
 * A private rabbitmq-server node with the management plugin: its own node name (epmd is shared by
 * every Erlang node on the machine, so names must not collide), data, logs and config in a temp
 * dir, AMQP, management and distribution ports all free ports on 127.0.0.1. The Erlang VM is run
 * directly (RUNNING_UNDER_SYSTEMD) so SIGTERM is a clean shutdown and SIGKILL a crash. `port`
 * chooses the AMQP port (e.g. one a daemon already points at). `tls` adds an AMQPS listener on a
 * free port that requires a client certificate signed by the same CA (mutual TLS).
 */
export async function startRabbit(options: { port?: number; tls?: Certificates } = {}): Promise<RabbitServer> {
  const [port, managementPort, distPort] = [options.port ?? (await freePort()), await freePort(), await freePort()];
  const tlsPort = options.tls === undefined ? undefined : await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pulse-rabbit-'));
  const nodename = `pulse${process.pid}x${Math.random().toString(36).slice(2, 8)}@localhost`;
  const tlsConfig =
    options.tls === undefined || tlsPort === undefined
      ? []
      : [
          `listeners.ssl.1 = 127.0.0.1:${tlsPort}`,
          `ssl_options.cacertfile = ${options.tls.ca}`,
          `ssl_options.certfile = ${options.tls.serverCert}`,
          `ssl_options.keyfile = ${options.tls.serverKey}`,
          'ssl_options.verify = verify_peer',
          'ssl_options.fail_if_no_peer_cert = true',
        ];
  writeFileSync(join(dir, 'rabbitmq.conf'), [`management.tcp.port = ${managementPort}`, 'management.tcp.ip = 127.0.0.1', 'log.console = false', 'log.file.level = warning', ...tlsConfig, ''].join('\n'));
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_management].\n');
  const env: NodeJS.ProcessEnv = {
    HOME: dir,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins-expand'),
    RABBITMQ_PID_FILE: join(dir, 'rabbit.pid'),
    RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf'),
    RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS: '-kernel inet_dist_use_interface {127,0,0,1}',
    RUNNING_UNDER_SYSTEMD: '1',
    // A node that fails at boot writes a crash dump: into the temp dir, never the working tree.
    ERL_CRASH_DUMP: join(dir, 'erl_crash.dump'),
  };
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  const base = `http://127.0.0.1:${managementPort}`;
  const auth = `Basic ${Buffer.from('guest:guest').toString('base64')}`;
  const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
    const res = await fetch(base + path, {
      method,
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    const text = await res.text();
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  };
  // `proc` is the node running or starting now, so that stop() can end it whatever is under way
  // (a test that fails mid-restart still stops the node it was bringing up).
  let proc: Proc | undefined;
  let stopped = false;
  const launch = async (): Promise<Proc> => {
    // A node that just died may still be registered with the shared epmd for a moment.
    await waitFor(`epmd to forget ${nodename}`, () => !epmdNames().includes(`name ${nodename.split('@')[0]!} at`), 15_000, 100);
    if (stopped) throw new Error(`rabbitmq-server ${nodename} was stopped`);
    const p = new Proc('/usr/lib/rabbitmq/bin/rabbitmq-server', [], { env, cwd: dir });
    proc = p;
    try {
      await waitFor(`rabbitmq-server ${nodename} to accept AMQP and management requests`, async () => {
        if (!p.running) throw new Error(`rabbitmq-server exited:\n${p.output.slice(-3000)}`);
        if (!(await tcpOpen(port)) || (tlsPort !== undefined && !(await tcpOpen(tlsPort)))) return false;
        await api('GET', '/api/overview');
        return true;
      }, 60_000, 200);
    } catch (err) {
      p.signal('SIGKILL');
      await p.exited;
      throw err;
    }
    return p;
  };
  const halt = async (kill: boolean): Promise<void> => {
    const p = proc;
    if (p === undefined) return;
    if (kill) {
      p.signal('SIGKILL');
      await p.exited;
    } else {
      await p.stop(20_000);
    }
  };
  try {
    await launch();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    managementPort,
    url: `amqp://guest:guest@127.0.0.1:${port}//`,
    managementUrl: `http://guest:guest@127.0.0.1:${managementPort}`,
    tlsPort,
    tlsUrl: tlsPort === undefined ? undefined : `amqps://guest:guest@127.0.0.1:${tlsPort}//`,
    nodename,
    get proc() {
      return proc!;
    },
    api,
    ctl: (...args: string[]) => spawnSync('/usr/lib/rabbitmq/bin/rabbitmqctl', ['-n', nodename, ...args], { encoding: 'utf8', env: { ...process.env, ...env } }).stdout.trim(),
    async restart(options = {}) {
      await halt(options.kill === true);
      if (options.downMs !== undefined) await sleep(options.downMs);
      await launch();
    },
    async stop() {
      stopped = true;
      // The data is thrown away: no need for a clean shutdown, which takes seconds.
      await halt(true);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function epmdNames(): string {
  return spawnSync('epmd', ['-names'], { encoding: 'utf8' }).stdout ?? '';
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A redis-server with `requirepass`; its `cli()` authenticates (startRedis's PING check would not). */
export async function startRedisWithPassword(password: string, port?: number): Promise<RedisServer> {
  const p = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'pulse-redis-'));
  const proc = new Proc('redis-server', ['--port', String(p), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', password]);
  const cli = (...args: string[]): string => spawnSync('redis-cli', ['-p', String(p), '--no-auth-warning', '-a', password, ...args], { encoding: 'utf8' }).stdout.trim();
  await waitFor('redis-server to answer PING', () => cli('PING') === 'PONG', 10_000);
  return {
    port: p,
    url: `redis://:${encodeURIComponent(password)}@127.0.0.1:${p}/0`,
    proc,
    cli,
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
