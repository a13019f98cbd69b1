// Real brokers on loopback: redis-server and a private RabbitMQ node per test file.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Certificates } from './certificates.js';
import { Proc, freePort, sleep, waitFor } from './processes.js';

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
