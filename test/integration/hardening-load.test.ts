// Hardening under load, against real daemons on a real redis-server: a flood of distinct task
// names stays within --max-label-values with exact overflow counts; 200 concurrent scrapes share
// one rendering; 1,000 idle or slow-header connections (plain and TLS) do not lock out a probe or
// a scrape; wrong-password floods do not starve a good client; Celery's ready-state precedence,
// absurd values, reserved label values and a filtered OpenMetrics histogram.
import { randomUUID } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../kit/certificates.js';
import { DAEMON, Proc, freePort, sleep, startDaemon, startRedis, waitFor } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';
import { EventPublisher, goodTask } from './hostile-publisher.js';
import type { RawEvent } from './hostile-publisher.js';

const H = 'w1@hardening';

/** Publishes events in task.multi batches of 300 (as a busy worker batches them). */
async function publishAll(pub: EventPublisher, events: RawEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += 300) expect(await pub.events(events.slice(i, i + 300))).toBe(1);
}

/** A task sent to queue `celery`, received and started, never finished. */
function runningTask(name: string, t: number): RawEvent[] {
  const base = { uuid: randomUUID(), hostname: H, pid: 1, clock: 1, utcoffset: 0 };
  return [
    { ...base, type: 'task-sent', hostname: 'gen1@client', name, queue: 'celery', routing_key: 'celery', retries: 0, timestamp: t },
    { ...base, type: 'task-received', name, args: '()', kwargs: '{}', retries: 0, timestamp: t + 0.001 },
    { ...base, type: 'task-started', timestamp: t + 0.002 },
  ];
}

/** Peak resident memory of a process so far (kB), from /proc. */
function peakRssKb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

/** Opens `n` TCP connections; half send nothing, half a request line and a header but never the blank line. */
async function openIdle(port: number, n: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = connect({ host: '127.0.0.1', port });
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      s.once('connect', () => resolve());
      s.once('close', () => resolve());
    });
    if (i % 2 === 1) s.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    sockets.push(s);
  }
  return sockets;
}

/**
 * The built daemon on redis with a --web-config-file, once `ready()` (a /readyz with good
 * credentials, over the scheme the file asks for) answers 200.
 */
async function startWebDaemon(redisUrl: string, port: number, webConfig: string, ready: () => Promise<number>): Promise<Proc> {
  const proc = new Proc(process.execPath, [DAEMON, '--broker-url', redisUrl, '--listen-address', `127.0.0.1:${port}`, '--web-config-file', webConfig, '--log-level', 'warn']);
  await waitFor('the daemon with its web config', async () => {
    if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
    return (await ready().catch(() => 0)) === 200;
  }, 20_000, 200);
  return proc;
}

async function timed<T>(what: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await what();
  return { value, ms: performance.now() - t0 };
}

describe('a flood of distinct task names with --max-label-values 50', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let pub: EventPublisher;
  const NAMES = 2000;
  const CAP = 50;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--max-label-values', String(CAP), '--log-level', 'warn']);
    pub = await EventPublisher.connect(redis.port, 0);
  });

  afterAll(async () => {
    await pub?.close();
    await daemon?.stop();
    await redis?.stop();
  });

  it('keeps every per-name family and detector map within the cap under a flood of names, overflow counted exactly', async () => {
    const t = Date.now() / 1000;
    const events: RawEvent[] = [];
    for (let i = 0; i < NAMES; i++) events.push(...runningTask(`flood.n${i}`, t + i * 0.001));
    await publishAll(pub, events);
    const m = await waitFor('every flooded task started', async () => {
      const got = await daemon.metrics();
      return got.value('celery_task_running') === NAMES ? got : undefined;
    }, 30_000);
    for (const family of ['celery_task_last_sent_timestamp_seconds', 'celery_task_last_received_timestamp_seconds']) {
      expect(m.find(family), family).toHaveLength(CAP + 1);
      expect(m.find(family, { name: '__overflow__' }), family).toHaveLength(1);
    }
    for (const family of ['celery_task_running', 'celery_task_stalled', 'celery_task_oldest_running_age_seconds', 'celery_task_stalled_threshold_seconds']) {
      expect(m.find(family), family).toHaveLength(CAP + 1);
    }
    expect(m.value('celery_task_running', { name: '__overflow__', queue_name: 'celery' })).toBe(NAMES - CAP);
    expect(m.value('celery_task_running', { name: 'flood.n0' })).toBe(1);
    // One count per event recorded under __overflow__: a task-started each, a task-sent and a task-received each.
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_running', label: 'name' })).toBe(NAMES - CAP);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_last_received_timestamp_seconds', label: 'name' })).toBe(2 * (NAMES - CAP));
  });

});

describe('events with clocks, numbers and label values out of the ordinary', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let pub: EventPublisher;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--max-label-values', '50', '--unknown-task-grace', '250ms', '--log-level', 'warn']);
    pub = await EventPublisher.connect(redis.port, 0);
  });

  afterAll(async () => {
    await pub?.close();
    await daemon?.stop();
    await redis?.stop();
  });

  it('ends a task on a task-succeeded stamped before its task-started (Celery precedence)', async () => {
    const t = Date.now() / 1000;
    const a = randomUUID();
    const b = randomUUID();
    const base = { hostname: H, pid: 1, clock: 1, utcoffset: 0 };
    await pub.events([
      { ...base, uuid: a, type: 'task-received', name: 'prec.succeeded', retries: 0, timestamp: t },
      { ...base, uuid: a, type: 'task-started', timestamp: t + 1 },
      // The worker's clock stepped back half a second between the two.
      { ...base, uuid: a, type: 'task-succeeded', result: '1', runtime: 0.2, timestamp: t + 0.5 },
      { ...base, uuid: b, type: 'task-received', name: 'prec.failed', retries: 0, timestamp: t },
      { ...base, uuid: b, type: 'task-started', timestamp: t + 1 },
      { ...base, uuid: b, type: 'task-failed', exception: "ValueError('x')", timestamp: 0 },
    ]);
    const m = await waitFor('both outcomes', async () => {
      const got = await daemon.metrics();
      return got.value('celery_task_succeeded_total', { name: 'prec.succeeded' }) === 1 && got.value('celery_task_failed_total', { name: 'prec.failed' }) === 1 ? got : undefined;
    });
    expect(m.value('celery_task_running', { name: 'prec.succeeded' })).toBe(0);
    expect(m.value('celery_task_running', { name: 'prec.failed' })).toBe(0);
  });

  it('takes neither a runtime of 1e308 nor a heartbeat freq of 1e-300 at face value', async () => {
    const t = Date.now() / 1000;
    await pub.events(goodTask('absurd.runtime', H, t).map((e) => (e['type'] === 'task-succeeded' ? { ...e, runtime: 1e308 } : e)));
    // A live worker beating every 300 ms while claiming freq=1e-300, with a task running on it.
    const tiny = 'tiny@hardening';
    const uuid = randomUUID();
    await pub.events([
      { type: 'worker-online', hostname: tiny, freq: 1e-300, active: 0, processed: 0, timestamp: t },
      { type: 'task-received', uuid, hostname: tiny, name: 'absurd.freq', retries: 0, timestamp: t },
      { type: 'task-started', uuid, hostname: tiny, timestamp: t + 0.01 },
    ]);
    for (let i = 1; i <= 8; i++) {
      await sleep(300);
      await pub.events({ type: 'worker-heartbeat', hostname: tiny, freq: 1e-300, active: 1, processed: 0, timestamp: t + i * 0.3 });
    }
    const m = await daemon.metrics();
    expect(m.value('celery_task_succeeded_total', { name: 'absurd.runtime' })).toBe(1);
    const sum = m.value('celery_task_runtime_seconds_sum', { name: 'absurd.runtime' });
    expect(Number.isFinite(sum)).toBe(true);
    expect(sum).toBeLessThan(1);
    expect(m.value('celery_worker_up', { hostname: tiny })).toBe(1);
    expect(m.value('celery_task_lost_total', { name: 'absurd.freq' })).toBe(0);
    expect(m.value('celery_task_running', { name: 'absurd.freq' })).toBe(1);
  });

  it('never merges a task, host or exception sent as "unknown" or "__overflow__" with the built-in values', async () => {
    const t = Date.now() / 1000;
    const before = await daemon.metrics();
    const builtIn = (m: typeof before): number[] => [
      m.value('celery_task_succeeded_total', { name: 'unknown' }),
      m.value('celery_task_succeeded_total', { name: '__overflow__' }),
      m.value('celery_task_failed_total', { exception: 'unknown' }),
    ];
    const events: RawEvent[] = [...goodTask('unknown', H, t), ...goodTask('__overflow__', 'unknown', t + 0.01), ...goodTask('wire:x', H, t + 0.02)];
    const uuid = randomUUID();
    events.push(
      { type: 'task-received', uuid, hostname: H, name: 'raises.unknown', retries: 0, timestamp: t },
      { type: 'task-failed', uuid, hostname: H, exception: "unknown('x')", timestamp: t + 0.1 },
    );
    await pub.events(events);
    const m = await waitFor('the four tasks', async () => {
      const got = await daemon.metrics();
      return got.value('celery_task_failed_total', { name: 'wire:raises.unknown' }) + got.value('celery_task_failed_total', { name: 'raises.unknown' }) === 1 &&
        got.value('celery_task_succeeded_total', { name: 'wire:wire:x' }) === 1
        ? got
        : undefined;
    });
    expect(builtIn(m)).toEqual(builtIn(before));
    expect(m.value('celery_task_succeeded_total', { name: 'wire:unknown', hostname: H })).toBe(1);
    expect(m.value('celery_task_succeeded_total', { name: 'wire:__overflow__', hostname: 'wire:unknown' })).toBe(1);
    expect(m.value('celery_task_failed_total', { name: 'raises.unknown', exception: 'wire:unknown' })).toBe(1);
  });

  it('writes a filtered OpenMetrics histogram whole (+Inf bucket, sum and count)', async () => {
    const res = await fetch(`${daemon.base}/metrics?name[]=celery_task_runtime_seconds_count`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    const text = await res.text();
    expect(text.endsWith('# EOF\n')).toBe(true);
    // Filtered: nothing but the runtime histogram's samples.
    expect(text.split('\n').filter((l) => l !== '' && !l.startsWith('#') && !l.startsWith('celery_task_runtime_seconds_'))).toEqual([]);
    const counts = text.split('\n').filter((l) => l.startsWith('celery_task_runtime_seconds_count{'));
    expect(counts.length).toBeGreaterThan(0);
    const inf = text.split('\n').filter((l) => l.startsWith('celery_task_runtime_seconds_bucket{le="+Inf"'));
    const sums = text.split('\n').filter((l) => l.startsWith('celery_task_runtime_seconds_sum{'));
    expect(inf).toHaveLength(counts.length);
    expect(sums).toHaveLength(counts.length);
  });
});

describe('one daemon with 1,000 task names under scrape and connection floods', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  const NAMES = 1000;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    const pub = await EventPublisher.connect(redis.port, 0);
    const t = Date.now() / 1000;
    const events: RawEvent[] = [];
    for (let i = 0; i < NAMES; i++) events.push(...goodTask(`many.n${i}`, H, t + i * 0.001));
    await publishAll(pub, events);
    await pub.close();
    await waitFor('every task counted', async () => (await daemon.metrics()).value('celery_task_succeeded_total') === NAMES, 30_000);
  });

  afterAll(async () => {
    await daemon?.stop();
    await redis?.stop();
  });

  it('answers 200 concurrent scrapes whole and alike, sharing one rendering', async () => {
    // The series written, without their values and without the process' own (CPU, heap) families.
    const shape = (text: string): string => text.replace(/^(?:process_|nodejs_).*\n/gm, '').replace(/ \S+$/gm, '');
    const reference = shape(await daemon.scrape());
    expect(reference.match(/^celery_task_succeeded_total\{/gm)).toHaveLength(NAMES);
    expect(reference.split('\n').length).toBeGreaterThan(40 * NAMES);
    const before = peakRssKb(daemon.proc.child.pid!);
    const bodies = await Promise.all(Array.from({ length: 200 }, () => daemon.scrape()));
    const peak = peakRssKb(daemon.proc.child.pid!);
    expect(bodies).toHaveLength(200);
    for (const body of new Set(bodies)) expect(shape(body)).toBe(reference);
    console.log(`200 concurrent scrapes of ${(bodies[0]!.length / 1e6).toFixed(1)} MB: peak RSS ${Math.round(before / 1024)} -> ${Math.round(peak / 1024)} MB`);
    // Each scrape holding its own copy took 1.5 GB and more here; one shared rendering adds tens of MB.
    expect(peak - before).toBeLessThan(150 * 1024);
  });

  it('answers a probe and a scrape within 2 s with 1,000 idle or slow-header connections open', async () => {
    const sockets = await openIdle(daemon.port, 1000);
    try {
      const probe = await timed(() => fetch(`${daemon.base}/healthz`, { signal: AbortSignal.timeout(5000) }).then((r) => r.status));
      const scrape = await timed(() => fetch(`${daemon.base}/metrics`, { signal: AbortSignal.timeout(5000) }).then(async (r) => [r.status, (await r.text()).length] as const));
      expect(probe.value).toBe(200);
      expect(scrape.value[0]).toBe(200);
      expect(scrape.value[1]).toBeGreaterThan(1e6);
      expect(probe.ms).toBeLessThan(2000);
      expect(scrape.ms).toBeLessThan(2000);
      expect(daemon.proc.running).toBe(true);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe('an HTTPS daemon with basic auth under a connection flood', () => {
  let dir: string;
  let redis: RedisServer;
  let proc: Proc;
  let port: number;
  let ca: string;
  const good = `Basic ${Buffer.from('prom:right-pass').toString('base64')}`;

  const get = (path: string, authorization: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path, ca, headers: { authorization }, agent: false, timeout: 5000 }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-hardening-tls-'));
    const certs = makeCertificates(dir);
    ca = readFileSync(certs.ca, 'utf8');
    const web = join(dir, 'web.yml');
    writeFileSync(web, `tls_server_config:\n  cert_file: ${certs.serverCert}\n  key_file: ${certs.serverKey}\nbasic_auth_users:\n  prom: ${bcrypt.hashSync('right-pass', 10)}\n`);
    redis = await startRedis();
    port = await freePort();
    proc = await startWebDaemon(redis.url, port, web, () => get('/readyz', good));
  });

  afterAll(async () => {
    await proc?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers within 2 s with 1,000 connections that never start their TLS handshake', async () => {
    const sockets = await openIdle(port, 1000);
    try {
      const probe = await timed(() => get('/healthz', good));
      const scrape = await timed(() => get('/metrics', good));
      expect([probe.value, scrape.value]).toEqual([200, 200]);
      expect(probe.ms).toBeLessThan(2000);
      expect(scrape.ms).toBeLessThan(2000);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });
});

describe('basic auth under a flood of wrong passwords', () => {
  let dir: string;
  let redis: RedisServer;
  let proc: Proc;
  let port: number;
  const good = `Basic ${Buffer.from('prom:right-pass').toString('base64')}`;
  const bad = `Basic ${Buffer.from('prom:wrong-pass').toString('base64')}`;
  const get = async (path: string, authorization: string): Promise<number> =>
    (await fetch(`http://127.0.0.1:${port}${path}`, { headers: { authorization }, signal: AbortSignal.timeout(5000) })).status;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pulse-hardening-auth-'));
    const web = join(dir, 'web.yml');
    writeFileSync(web, `basic_auth_users:\n  prom: ${bcrypt.hashSync('right-pass', 10)}\n`);
    redis = await startRedis();
    port = await freePort();
    proc = await startWebDaemon(redis.url, port, web, () => get('/readyz', good));
  });

  afterAll(async () => {
    await proc?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps a good client fast while 80 clients send wrong passwords', async () => {
    let flooding = true;
    const statuses: number[] = [];
    const flooder = async (): Promise<void> => {
      while (flooding) statuses.push(await get('/metrics', bad).catch(() => 0));
    };
    const flood = Array.from({ length: 80 }, flooder);
    await sleep(500);
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await timed(() => get('/metrics', good));
      expect(r.value).toBe(200);
      latencies.push(r.ms);
    }
    flooding = false;
    await Promise.all(flood);
    const byStatus: Record<number, number> = {};
    for (const st of statuses) byStatus[st] = (byStatus[st] ?? 0) + 1;
    console.log(`wrong-password flood: ${JSON.stringify(byStatus)}; good client ms: ${latencies.map(Math.round).join(' ')}`);
    expect(statuses.length).toBeGreaterThan(80);
    expect(statuses.every((s) => s === 401 || s === 429)).toBe(true);
    // The flooders alone keep the loop busy answering 429s; bcrypt on the event loop made this seconds.
    expect(Math.max(...latencies)).toBeLessThan(1500);
  });
});
