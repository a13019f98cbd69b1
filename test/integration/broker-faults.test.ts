// Broker faults on a real redis-server: killed and restarted on the same port, paused with SIGSTOP,
// unreachable at start-up, a subscriber dropped for a full output buffer, and one of two brokers
// failing. Throughout, the daemon stays up and serves /metrics; it reports the broker down within
// seconds, reconnects, and counts exactly the events published after recovery.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC_FINAL_EVENTS, basicWorkloadDone, freePort, runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RedisServer } from './harness.js';
import { EventPublisher, envelope, goodTask } from './hostile-publisher.js';

const PING = '1s';
// Queue lengths are read from the broker at scrape time and wait up to --queue-metrics-timeout for
// a paused one; they are not under test here, and the timings below are of the event connection.
const COMMON = ['--broker-ping-interval', PING, '--no-queue-metrics'];

/** Polls /metrics every 100 ms until `broker_up` is `value`; every scrape must succeed. Returns the seconds it took. */
async function timeUntilUp(daemon: DaemonProc, value: 0 | 1, labels: Record<string, string> = {}, timeoutMs = 20_000): Promise<number> {
  const start = Date.now();
  await waitFor(`celery_pulse_broker_up ${JSON.stringify(labels)} to be ${value}`, async () => {
    const res = await fetch(`${daemon.base}/metrics`);
    expect(res.status).toBe(200);
    const m = await daemon.metrics();
    return m.find('celery_pulse_broker_up', labels)[0]?.value === value;
  }, timeoutMs);
  return (Date.now() - start) / 1000;
}

/** Publishes `n` complete tasks named `name` and waits until the daemon has counted `expected` successes of it. */
async function publishAndCount(daemon: DaemonProc, port: number, name: string, n: number, expected = n, labels: Record<string, string> = {}): Promise<Metrics> {
  const pub = await EventPublisher.connect(port, 0);
  try {
    let t = Date.now() / 1000;
    for (let i = 0; i < n; i++) expect(await pub.events(goodTask(name, 'faults@h', (t += 0.01)))).toBe(1);
  } finally {
    await pub.close();
  }
  await waitFor(`${expected} successes of ${name}`, async () => (await daemon.metrics()).value('celery_task_succeeded_total', { name, ...labels }) === expected);
  await sleep(500);
  return daemon.metrics();
}

describe('a Redis broker that fails while the daemon runs', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, ...COMMON, '--log-level', 'info']);
    const m = await publishAndCount(daemon, redis.port, 'faults.before', 10);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.before' })).toBe(10);
  });

  afterAll(async () => {
    redis?.proc.signal('SIGCONT');
    await daemon?.stop();
    await redis?.stop();
  });

  it('survives SIGKILL and a restart on the same port, then counts again', async () => {
    redis.proc.signal('SIGKILL');
    await redis.proc.exited;
    const down = await timeUntilUp(daemon, 0);
    expect(down).toBeLessThan(3);
    // While the broker is away, /metrics, /healthz answer; /readyz names the broker it waits for.
    expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
    expect((await fetch(`${daemon.base}/readyz`)).status).toBe(503);
    await sleep(1500);
    await redis.stop();
    redis = await startRedis([], redis.port);
    await timeUntilUp(daemon, 1);
    const m = await publishAndCount(daemon, redis.port, 'faults.after-kill', 25);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.after-kill' })).toBe(25);
    expect(m.value('celery_task_received_total', { name: 'faults.after-kill' })).toBe(25);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.before' })).toBe(10);
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(1);
    expect(daemon.proc.running).toBe(true);
  });

  it('notices a broker paused with SIGSTOP within two ping intervals, and recovers on SIGCONT', async () => {
    redis.proc.signal('SIGSTOP');
    let down: number;
    try {
      down = await timeUntilUp(daemon, 0);
      await sleep(1000);
    } finally {
      redis.proc.signal('SIGCONT');
    }
    // A PING every second, each given one second to answer.
    expect(down).toBeLessThan(3);
    await timeUntilUp(daemon, 1);
    const m = await publishAndCount(daemon, redis.port, 'faults.after-stop', 25);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.after-stop' })).toBe(25);
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(2);
  });

  it('is dropped by Redis when its output buffer overflows, reports it and comes back', async () => {
    // Redis's default `client-output-buffer-limit pubsub` is 32 MB: three 14 MB frames for a
    // subscriber that is not reading (the daemon paused) get it disconnected by the server.
    const pub = await EventPublisher.connect(redis.port, 0);
    const huge = envelope('x'.repeat(10 * 1024 * 1024));
    daemon.proc.signal('SIGSTOP');
    try {
      for (let i = 0; i < 3; i++) await pub.raw(huge);
      await waitFor('redis to drop the subscriber', () => redis.cli('PUBSUB', 'NUMPAT') === '0', 10_000);
    } finally {
      daemon.proc.signal('SIGCONT');
      await pub.close();
    }
    // broker_up may still read 1 from before: wait for the reconnection itself.
    await waitFor('the daemon to resubscribe', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_broker_reconnects_total') === 3 && cur.value('celery_pulse_broker_up') === 1;
    });
    const m = await publishAndCount(daemon, redis.port, 'faults.after-overflow', 25);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.after-overflow' })).toBe(25);
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(3);
    expect(daemon.proc.output).toMatch(/lost the broker/);
  });
});

describe('a Redis broker unreachable at start-up', () => {
  let redis: RedisServer | undefined;
  let worker: CeleryWorker | undefined;
  let daemon: DaemonProc;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    daemon = await startDaemon(['--broker-url', `redis://127.0.0.1:${port}/0`, ...COMMON, '--log-level', 'warn'], {}, { waitReady: false });
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  it('serves /metrics with the broker down, then attaches once it appears and counts a Celery workload exactly', async () => {
    // Several connection attempts fail meanwhile (backoff from 200 ms): none may stop the daemon.
    await sleep(2000);
    expect(daemon.proc.running).toBe(true);
    expect((await fetch(`${daemon.base}/metrics`)).status).toBe(200);
    const before = await daemon.metrics();
    expect(before.find('celery_pulse_broker_up').map((s) => s.value)).toEqual([0]);
    expect((await fetch(`${daemon.base}/readyz`)).status).toBe(503);
    expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
    redis = await startRedis([], port);
    await timeUntilUp(daemon, 1);
    expect((await fetch(`${daemon.base}/readyz`)).status).toBe(200);
    const m = await publishAndCount(daemon, port, 'faults.late-broker', 20);
    expect(m.value('celery_task_succeeded_total', { name: 'faults.late-broker' })).toBe(20);
    // A real worker and the basic workload: every final event counted, none twice.
    worker = await startWorker({ broker: redis.url, name: 'late-redis@%h' });
    await runWorkload(redis.url, 'basic');
    await waitFor('the basic workload to be counted', async () => basicWorkloadDone(await daemon.metrics(), 1, { hostname: worker!.hostname }), 60_000);
    await sleep(1000);
    const after = await daemon.metrics();
    for (const [metric, n] of Object.entries(BASIC_FINAL_EVENTS)) expect(after.value(metric, { hostname: worker.hostname }), metric).toBe(n);
    expect(after.value('celery_task_succeeded_total', { name: 'pulse.ok' })).toBe(5);
    expect(after.value('celery_task_succeeded_total', { name: 'faults.late-broker' })).toBe(20);
    // Attaching late is a first connection, not a reconnection.
    expect(after.value('celery_pulse_broker_reconnects_total')).toBe(0);
    expect(daemon.proc.running).toBe(true);
  });
});

describe('two Redis brokers, one failing', () => {
  let a: RedisServer;
  let b: RedisServer;
  let daemon: DaemonProc;

  beforeAll(async () => {
    a = await startRedis();
    b = await startRedis();
    daemon = await startDaemon(['--broker-url', `a=${a.url}`, '--broker-url', `b=${b.url}`, ...COMMON, '--log-level', 'warn']);
  });

  afterAll(async () => {
    a?.proc.signal('SIGCONT');
    await daemon?.stop();
    await a?.stop();
    await b?.stop();
  });

  it('keeps counting on the healthy broker while the other is killed or paused', async () => {
    a.proc.signal('SIGKILL');
    await a.proc.exited;
    await timeUntilUp(daemon, 0, { broker: 'a' });
    let m = await publishAndCount(daemon, b.port, 'two.b', 30, 30, { broker: 'b' });
    expect(m.value('celery_pulse_broker_up', { broker: 'b' })).toBe(1);
    expect(m.value('celery_pulse_broker_up', { broker: 'a' })).toBe(0);
    expect(m.value('celery_task_succeeded_total', { name: 'two.b', broker: 'b' })).toBe(30);
    await a.stop();
    a = await startRedis([], a.port);
    await timeUntilUp(daemon, 1, { broker: 'a' });
    m = await publishAndCount(daemon, a.port, 'two.a', 15, 15, { broker: 'a' });
    expect(m.value('celery_task_succeeded_total', { name: 'two.a', broker: 'a' })).toBe(15);
    // Now B is paused: A keeps counting.
    b.proc.signal('SIGSTOP');
    try {
      await timeUntilUp(daemon, 0, { broker: 'b' });
      m = await publishAndCount(daemon, a.port, 'two.a', 15, 30, { broker: 'a' });
    } finally {
      b.proc.signal('SIGCONT');
    }
    expect(m.value('celery_task_succeeded_total', { name: 'two.a', broker: 'a' })).toBe(30);
    expect(m.value('celery_pulse_broker_up', { broker: 'a' })).toBe(1);
    await timeUntilUp(daemon, 1, { broker: 'b' });
    m = await publishAndCount(daemon, b.port, 'two.b', 10, 40, { broker: 'b' });
    expect(m.value('celery_task_succeeded_total', { name: 'two.b' })).toBe(40);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'a' })).toBe(1);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'b' })).toBe(1);
  });

  it('never mixes the two brokers up', async () => {
    const m = await daemon.metrics();
    expect(m.value('celery_task_succeeded_total', { name: 'two.a', broker: 'b' })).toBe(0);
    expect(m.value('celery_task_succeeded_total', { name: 'two.b', broker: 'a' })).toBe(0);
    expect(m.value('celery_task_succeeded_total', { broker: 'b' })).toBe(40);
    expect(m.value('celery_task_succeeded_total', { broker: 'a' })).toBe(30);
  });
});
