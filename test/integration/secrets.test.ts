// A broker password planted in --broker-url (and in task arguments) must never come out: not in a
// log line, a /metrics label, an HTTP response or an error message; with the right password, a
// wrong one, a broker that restarts, and a malformed URL.
import { randomUUID } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAEMON, sleep, startDaemon, startRedisWithPassword, waitFor } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';
import { EventPublisher } from './hostile-publisher.js';

// '/' and '@' must be percent-encoded in a URL: both spellings must stay hidden.
const PASSWORD = 'S3cret/Pl@nted';
const IN_URL = encodeURIComponent(PASSWORD);
const WRONG = 'Wr0ngPl@nted99';
const FORBIDDEN = [PASSWORD, IN_URL, 'Pl@nted', 'Pl%40nted', 'S3cret', WRONG, encodeURIComponent(WRONG)];

function leaks(text: string): string[] {
  return FORBIDDEN.filter((s) => text.includes(s));
}

/** Every response the daemon gives: each endpoint, both exposition formats, errors. */
async function everyResponse(base: string): Promise<string> {
  const out: string[] = [];
  const requests: [string, RequestInit][] = [
    ['/metrics', {}],
    ['/metrics', { headers: { accept: 'application/openmetrics-text; version=1.0.0' } }],
    ['/', {}],
    ['/healthz', {}],
    ['/readyz', {}],
    ['/nope', {}],
    ['/metrics', { method: 'POST', body: 'x' }],
  ];
  for (const [path, init] of requests) {
    const res = await fetch(base + path, init);
    out.push(`${res.status} ${JSON.stringify([...res.headers])}\n${await res.text()}`);
  }
  return out.join('\n');
}

describe('a planted broker password', () => {
  let redis: RedisServer;
  let good: DaemonProc;
  let wrong: DaemonProc;

  beforeAll(async () => {
    redis = await startRedisWithPassword(PASSWORD);
    good = await startDaemon(['--broker-url', `redis://:${IN_URL}@127.0.0.1:${redis.port}/0`, '--log-level', 'trace', '--broker-ping-interval', '1s']);
    wrong = await startDaemon(['--log-level', 'trace'], { CELERY_PULSE_BROKER_URL: `redis://:${encodeURIComponent(WRONG)}@127.0.0.1:${redis.port}/0` }, { waitReady: false });
    // Task events whose arguments carry the password: args/kwargs are never exported.
    const pub = await EventPublisher.connect(redis.port, 0, PASSWORD);
    let t = Date.now() / 1000;
    for (let i = 0; i < 5; i++) {
      const uuid = randomUUID();
      await pub.events([
        { type: 'task-received', uuid, name: 'secret.task', hostname: 'w@h', args: `('${PASSWORD}',)`, kwargs: `{'password': '${PASSWORD}'}`, timestamp: (t += 0.01) },
        { type: 'task-started', uuid, hostname: 'w@h', timestamp: (t += 0.01) },
        { type: 'task-failed', uuid, hostname: 'w@h', exception: `ValueError('bad password ${PASSWORD}')`, traceback: `Traceback: ${PASSWORD}`, timestamp: (t += 0.01) },
      ]);
    }
    await pub.close();
    await waitFor('the failures', async () => (await good.metrics()).value('celery_task_failed_total', { name: 'secret.task' }) === 5);
    // A broker restart: reconnection errors and their logs must not leak it either.
    redis.proc.signal('SIGKILL');
    await redis.proc.exited;
    await sleep(1500);
    const port = redis.port;
    await redis.stop();
    redis = await startRedisWithPassword(PASSWORD, port);
    await waitFor('the daemon to resubscribe', async () => (await good.metrics()).value('celery_pulse_broker_up') === 1);
    await sleep(1500);
  });

  afterAll(async () => {
    await good?.stop();
    await wrong?.stop();
    await redis?.stop();
  });

  it('connects with the right password and counts, with nothing secret in the metrics', async () => {
    const m = await good.metrics();
    expect(m.value('celery_task_failed_total', { name: 'secret.task', exception: 'ValueError' })).toBe(5);
    for (const s of m.series) expect(leaks(JSON.stringify(s.labels))).toEqual([]);
    expect(leaks(await everyResponse(good.base))).toEqual([]);
  });

  it('reports a wrong password as a broker that is down, without echoing either password', async () => {
    const m = await wrong.metrics();
    expect(m.value('celery_pulse_broker_up')).toBe(0);
    expect(wrong.proc.output).toMatch(/WRONGPASS|invalid password|NOAUTH/i);
    expect(leaks(await everyResponse(wrong.base))).toEqual([]);
  });

  it('never writes the password to a log line, at trace level, through a restart', async () => {
    await good.stop();
    await wrong.stop();
    for (const d of [good, wrong]) {
      expect(d.proc.output.split('\n').length).toBeGreaterThan(5);
      expect(leaks(d.proc.output)).toEqual([]);
    }
    // The log does say where it connects, with the password masked.
    expect(good.proc.output).toContain(`redis://:****@127.0.0.1:${redis.port}/0`);
  });

  it('keeps it out of start-up errors for a malformed URL and of the usage error', () => {
    const cases = [
      ['--broker-url', `redis://:${IN_URL}@127.0.0.1:99999/0`],
      ['--broker-url', `redis://:${IN_URL}@127.0.0.1:6379/notadb`],
      ['--broker-url', `ftp://:${IN_URL}@127.0.0.1/0`],
      [`redis://:${IN_URL}@127.0.0.1/0`],
    ];
    for (const args of cases) {
      const r = spawnSync(process.execPath, [DAEMON, ...args], { encoding: 'utf8', timeout: 10_000 });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/^celery-pulse: /);
      expect(leaks(r.stdout + r.stderr)).toEqual([]);
    }
  });
});
