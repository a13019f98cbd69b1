// Broker faults on a real rabbitmq-server: SIGKILL and restart, SIGSTOP and SIGCONT, unreachable at
// start-up; and a Redis broker next to it: each keeps counting exactly while the other is away. Events are published as a Celery
// worker does (raw JSON to the `celeryev` topic exchange, routing key task.multi).
import { connect } from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASIC_FINAL_EVENTS, basicWorkloadDone, freePort, runWorkload, sleep, startDaemon, startRabbit, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RabbitServer, RedisServer } from './harness.js';
import { EventPublisher, goodTask } from './hostile-publisher.js';

async function publishAmqp(url: string, name: string, n: number): Promise<void> {
  const conn = await connect(url);
  try {
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange('celeryev', 'topic', { durable: true, autoDelete: false });
    let t = Date.now() / 1000;
    for (let i = 0; i < n; i++) {
      ch.publish('celeryev', 'task.multi', Buffer.from(JSON.stringify(goodTask(name, 'amqp-faults@h', (t += 0.01)))), { contentType: 'application/json', contentEncoding: 'utf-8' });
    }
    await ch.waitForConfirms();
  } finally {
    await conn.close();
  }
}

async function upWithin(daemon: DaemonProc, value: 0 | 1, labels: Record<string, string>, timeoutMs = 60_000): Promise<number> {
  const start = Date.now();
  await waitFor(`broker_up ${JSON.stringify(labels)} = ${value}`, async () => {
    const res = await fetch(`${daemon.base}/metrics`);
    expect(res.status).toBe(200);
    return (await daemon.metrics()).find('celery_pulse_broker_up', labels)[0]?.value === value;
  }, timeoutMs, 100);
  return (Date.now() - start) / 1000;
}

async function counted(daemon: DaemonProc, name: string, expected: number): Promise<Metrics> {
  await waitFor(`${expected} successes of ${name}`, async () => (await daemon.metrics()).value('celery_task_succeeded_total', { name }) === expected);
  await sleep(500);
  return daemon.metrics();
}

describe('RabbitMQ and Redis brokers, each failing in turn', () => {
  let rabbit: RabbitServer;
  let redis: RedisServer;
  let daemon: DaemonProc;

  beforeAll(async () => {
    [rabbit, redis] = await Promise.all([startRabbit(), startRedis()]);
    daemon = await startDaemon(['--broker-url', `rabbit=${rabbit.url}`, '--broker-url', `redis=${redis.url}`, '--broker-ping-interval', '1s', '--no-queue-metrics', '--log-level', 'info']);
    await publishAmqp(rabbit.url, 'amqp.before', 10);
    expect((await counted(daemon, 'amqp.before', 10)).value('celery_task_succeeded_total', { name: 'amqp.before', broker: 'rabbit' })).toBe(10);
  });

  afterAll(async () => {
    rabbit?.proc.signal('SIGCONT');
    await daemon?.stop();
    await Promise.all([rabbit?.stop(), redis?.stop()]);
  });

  it('survives SIGKILL and a restart of RabbitMQ, while Redis keeps counting', async () => {
    rabbit.proc.signal('SIGKILL');
    await rabbit.proc.exited;
    expect(await upWithin(daemon, 0, { broker: 'rabbit' })).toBeLessThan(3);
    const pub = await EventPublisher.connect(redis.port, 0);
    let t = Date.now() / 1000;
    for (let i = 0; i < 20; i++) await pub.events(goodTask('redis.during', 'r@h', (t += 0.01)));
    await pub.close();
    expect((await counted(daemon, 'redis.during', 20)).value('celery_pulse_broker_up', { broker: 'redis' })).toBe(1);
    await rabbit.restart();
    // Reconnected within 2 s of the broker answering, however long it was down (the retry wait is capped at 1.5 s).
    expect(await upWithin(daemon, 1, { broker: 'rabbit' })).toBeLessThan(2);
    await publishAmqp(rabbit.url, 'amqp.after-kill', 25);
    const m = await counted(daemon, 'amqp.after-kill', 25);
    expect(m.value('celery_task_received_total', { name: 'amqp.after-kill', broker: 'rabbit' })).toBe(25);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'rabbit' })).toBe(1);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'redis' })).toBe(0);
  });

  it('notices RabbitMQ paused with SIGSTOP through missed heartbeats, and recovers on SIGCONT', async () => {
    rabbit.proc.signal('SIGSTOP');
    let down: number;
    try {
      down = await upWithin(daemon, 0, { broker: 'rabbit' });
    } finally {
      rabbit.proc.signal('SIGCONT');
    }
    // Heartbeat 1 s: amqplib gives up after two missed beats.
    expect(down).toBeLessThan(5);
    expect(daemon.proc.running).toBe(true);
    await upWithin(daemon, 1, { broker: 'rabbit' });
    await publishAmqp(rabbit.url, 'amqp.after-stop', 25);
    const m = await counted(daemon, 'amqp.after-stop', 25);
    expect(m.value('celery_task_succeeded_total', { name: 'amqp.after-stop', broker: 'rabbit' })).toBe(25);
    expect(m.value('celery_task_succeeded_total', { name: 'amqp.before' })).toBe(10);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'rabbit' })).toBe(2);
  });

  it('keeps counting RabbitMQ exactly while Redis is killed, and counts Redis again once it is back', async () => {
    redis.proc.signal('SIGKILL');
    await redis.proc.exited;
    expect(await upWithin(daemon, 0, { broker: 'redis' })).toBeLessThan(3);
    await publishAmqp(rabbit.url, 'amqp.during-redis', 30);
    let m = await counted(daemon, 'amqp.during-redis', 30);
    expect(m.value('celery_task_received_total', { name: 'amqp.during-redis', broker: 'rabbit' })).toBe(30);
    expect(m.value('celery_task_succeeded_total', { name: 'amqp.during-redis', broker: 'redis' })).toBe(0);
    expect(m.value('celery_pulse_broker_up', { broker: 'rabbit' })).toBe(1);
    expect(m.value('celery_pulse_broker_up', { broker: 'redis' })).toBe(0);
    const port = redis.port;
    await redis.stop();
    redis = await startRedis([], port);
    expect(await upWithin(daemon, 1, { broker: 'redis' })).toBeLessThan(2);
    const pub = await EventPublisher.connect(redis.port, 0);
    let t = Date.now() / 1000;
    for (let i = 0; i < 15; i++) expect(await pub.events(goodTask('redis.after-kill', 'r@h', (t += 0.01)))).toBe(1);
    await pub.close();
    m = await counted(daemon, 'redis.after-kill', 15);
    expect(m.value('celery_task_succeeded_total', { name: 'redis.after-kill', broker: 'redis' })).toBe(15);
    expect(m.value('celery_task_succeeded_total', { name: 'amqp.during-redis' })).toBe(30);
    expect(m.value('celery_task_succeeded_total', { name: 'redis.during' })).toBe(20);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'redis' })).toBe(1);
    expect(m.value('celery_pulse_broker_reconnects_total', { broker: 'rabbit' })).toBe(2);
  });

  it('keeps a planted AMQP password out of logs and responses, right or wrong, and serves with the broker unreachable', async () => {
    const password = 'Amqp/S3cret@Planted';
    await rabbit.api('PUT', '/api/users/planted', { password, tags: '' });
    await rabbit.api('PUT', '/api/permissions/%2F/planted', { configure: '.*', write: '.*', read: '.*' });
    const url = (pw: string, port = rabbit.port): string => `amqp://planted:${encodeURIComponent(pw)}@127.0.0.1:${port}//`;
    const right = await startDaemon(['--broker-url', url(password), '--no-queue-metrics', '--log-level', 'trace']);
    const wrong = await startDaemon(['--broker-url', url('Wr0ng/Planted'), '--no-queue-metrics', '--log-level', 'trace'], {}, { waitReady: false });
    const nowhere = await startDaemon(['--broker-url', url(password, await freePort()), '--no-queue-metrics', '--log-level', 'trace'], {}, { waitReady: false });
    try {
      await publishAmqp(rabbit.url, 'amqp.planted', 5);
      await counted(right, 'amqp.planted', 5);
      await sleep(1500);
      expect((await wrong.metrics()).value('celery_pulse_broker_up')).toBe(0);
      expect((await nowhere.metrics()).value('celery_pulse_broker_up')).toBe(0);
      expect((await fetch(`${nowhere.base}/readyz`)).status).toBe(503);
      expect(wrong.proc.output).toMatch(/ACCESS_REFUSED|403/);
      for (const d of [right, wrong, nowhere]) {
        const responses = await Promise.all(['/metrics', '/', '/readyz', '/healthz'].map(async (p) => (await fetch(d.base + p)).text()));
        await d.stop();
        const text = d.proc.output + responses.join('\n');
        for (const secret of [password, encodeURIComponent(password), 'Planted', 'Wr0ng']) expect(text.includes(secret), secret).toBe(false);
      }
    } finally {
      await Promise.all([right.stop(), wrong.stop(), nowhere.stop()]);
    }
  });
});

describe('a RabbitMQ broker unreachable at start-up', () => {
  let rabbit: RabbitServer | undefined;
  let worker: CeleryWorker | undefined;
  let daemon: DaemonProc;
  let port: number;

  beforeAll(async () => {
    port = await freePort();
    daemon = await startDaemon(['--broker-url', `amqp://guest:guest@127.0.0.1:${port}//`, '--broker-ping-interval', '1s', '--no-queue-metrics', '--log-level', 'warn'], {}, { waitReady: false });
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await rabbit?.stop();
  });

  it('serves /metrics with the broker down, then attaches once it appears and counts a Celery workload exactly', async () => {
    // Several connection attempts fail meanwhile (backoff from 200 ms): none may stop the daemon.
    await sleep(3000);
    expect(daemon.proc.running).toBe(true);
    const res = await fetch(`${daemon.base}/metrics`);
    expect(res.status).toBe(200);
    const before = await daemon.metrics();
    expect(before.find('celery_pulse_broker_up').map((s) => s.value)).toEqual([0]);
    expect((await fetch(`${daemon.base}/readyz`)).status).toBe(503);
    expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
    rabbit = await startRabbit({ port });
    await upWithin(daemon, 1, {});
    expect((await fetch(`${daemon.base}/readyz`)).status).toBe(200);
    // A real worker and the basic workload: every final event counted, none twice.
    worker = await startWorker({ broker: rabbit.url, name: 'late-amqp@%h', env: { PULSE_PREFETCH: '100' } });
    await runWorkload(rabbit.url, 'basic');
    await waitFor('the basic workload to be counted', async () => basicWorkloadDone(await daemon.metrics()), 60_000);
    await sleep(1000);
    const m = await daemon.metrics();
    for (const [metric, n] of Object.entries(BASIC_FINAL_EVENTS)) expect(m.value(metric), metric).toBe(n);
    expect(m.value('celery_task_succeeded_total', { name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_sent_total')).toBe(19);
    // Attaching late is a first connection, not a reconnection.
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(0);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(daemon.proc.running).toBe(true);
  });
});
