// Hostile and broken input on the real Redis event channels: every kind of bad message, between
// good events, counted by reason and logged rate-limited, while the good events around them are
// all counted; then a real Celery workload under a flood of bad messages; then label floods
// against a small --max-label-values.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicWorkloadDone, runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RedisServer } from './harness.js';
import { EventPublisher, envelope, goodTask } from './hostile-publisher.js';
import type { RawEvent } from './hostile-publisher.js';

interface BadKind {
  readonly what: string;
  readonly payload: (t: number) => string | Buffer;
  /** Decode errors it causes, by reason. */
  readonly errors: Record<string, number>;
  /** Good events inside it (a batch with one bad event among good ones). */
  readonly goodTasks?: number;
}

const H = 'good@hostile';
const body = (events: RawEvent[] | RawEvent): string => envelope(JSON.stringify(events));

const BAD: BadKind[] = [
  { what: 'envelope is not JSON', payload: () => 'this is {not json', errors: { invalid_envelope: 1 } },
  { what: 'envelope without a body', payload: () => JSON.stringify({ properties: { body_encoding: 'base64' } }), errors: { invalid_envelope: 1 } },
  { what: 'body is not base64', payload: () => JSON.stringify({ body: '%%% not base64 %%%', properties: { body_encoding: 'base64' } }), errors: { invalid_base64: 1 } },
  // 1 MB of newlines then a bad character: a backtracking base64 check would stall for hours here.
  { what: 'newline bomb', payload: () => JSON.stringify({ body: `${'\n'.repeat(1_000_000)}!`, properties: { body_encoding: 'base64' } }), errors: { invalid_base64: 1 } },
  { what: 'body is not JSON', payload: () => envelope('[{"type": "task-received", oops'), errors: { invalid_json: 1 } },
  { what: 'body is not msgpack', payload: () => envelope(Buffer.from([0xc1, 0xc1]), { contentType: 'application/x-msgpack' }), errors: { invalid_msgpack: 1 } },
  { what: 'pickle content type', payload: () => envelope('x', { contentType: 'application/x-python-serialize' }), errors: { unsupported_content_type: 1 } },
  { what: 'unknown body encoding', payload: () => JSON.stringify({ body: 'x', properties: { body_encoding: 'rot13' } }), errors: { unsupported_body_encoding: 1 } },
  { what: 'a bare string', payload: () => envelope('"just a string"'), errors: { not_an_event: 1 } },
  { what: 'a list of numbers', payload: () => envelope('[1, 2]'), errors: { not_an_event: 2 } },
  { what: 'no hostname', payload: (t) => body({ type: 'task-received', uuid: randomUUID(), name: 'x', timestamp: t }), errors: { missing_field: 1 } },
  { what: 'uuid is a number', payload: (t) => body({ type: 'task-received', uuid: 12345, hostname: H, name: 'x', timestamp: t }), errors: { wrong_field_type: 1 } },
  { what: 'timestamp is a string', payload: () => body({ type: 'task-succeeded', uuid: randomUUID(), hostname: H, timestamp: 'yesterday' }), errors: { wrong_field_type: 1 } },
  { what: 'name is an object', payload: (t) => body({ type: 'task-received', uuid: randomUUID(), hostname: H, name: { a: 1 }, timestamp: t }), errors: { wrong_field_type: 1 } },
  { what: 'unknown event type', payload: (t) => body({ type: 'task-exploded', uuid: randomUUID(), hostname: H, timestamp: t }), errors: { unknown_event_type: 1 } },
  // Python's json writes Infinity for float('inf'): the timestamp becomes null, then missing.
  { what: 'Infinity timestamp', payload: () => envelope(`[{"type": "task-received", "uuid": "${randomUUID()}", "hostname": "${H}", "timestamp": Infinity}]`), errors: { missing_field: 1 } },
  { what: '200 000 nested arrays', payload: () => envelope(`${'['.repeat(200_000)}${']'.repeat(200_000)}`), errors: { not_an_event: 1 } },
  {
    what: 'a batch with one bad event among good ones',
    payload: (t) => body([...goodTask('hostile.ok', H, t + 0.5), { type: 'task-started', hostname: H, timestamp: t + 0.6 }]),
    errors: { missing_field: 1 },
    goodTasks: 1,
  },
];
const ROUNDS = 7;
const HUGE = 3;

describe('hostile input on the Redis event channels', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let pub: EventPublisher;
  let m: Metrics;
  let goodTasks = 0;
  const expectedErrors: Record<string, number> = {};
  const t0 = Date.now() / 1000;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--unknown-task-grace', '250ms']);
    pub = await EventPublisher.connect(redis.port, 0);
    let t = t0;
    const good = async (): Promise<void> => {
      expect(await pub.events(goodTask('hostile.ok', H, (t += 1)))).toBe(1);
      goodTasks++;
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of BAD) {
        await good();
        expect(await pub.raw(kind.payload((t += 1)))).toBe(1);
        goodTasks += kind.goodTasks ?? 0;
        for (const [reason, n] of Object.entries(kind.errors)) expectedErrors[reason] = (expectedErrors[reason] ?? 0) + n;
      }
    }
    const totalOf = (errors: Record<string, number>): number => Object.values(errors).reduce((a, b) => a + b, 0);
    const caughtUp = (): Promise<Metrics> =>
      waitFor('the daemon to count everything sent so far', async () => {
        const cur = await daemon.metrics();
        return cur.value('celery_task_succeeded_total', { name: 'hostile.ok' }) === goodTasks && cur.value('celery_pulse_decode_errors_total') === totalOf(expectedErrors) ? cur : undefined;
      }, 60_000);
    // 10 MB frames: above --max-frame-bytes (4 MiB), dropped unread. One at a time: several sent
    // faster than the daemon reads pass Redis's pubsub output buffer limit (32 MB) and Redis
    // drops the subscriber; broker-faults.test.ts shows that case is reported and recovered.
    await caughtUp();
    const huge = envelope(JSON.stringify([{ type: 'task-received', uuid: randomUUID(), hostname: H, name: 'x'.repeat(10 * 1024 * 1024), timestamp: t }]));
    for (let i = 0; i < HUGE; i++) {
      await good();
      expect(await pub.raw(huge)).toBe(1);
      expectedErrors['oversized'] = (expectedErrors['oversized'] ?? 0) + 1;
      await good();
      await caughtUp();
    }
    await sleep(1000);
    m = await daemon.metrics();
  });

  afterAll(async () => {
    await pub?.close();
    await daemon?.stop();
    await redis?.stop();
  });

  it('counts every good event between the bad ones, exactly once', () => {
    expect(goodTasks).toBe(ROUNDS * (BAD.length + 1) + 2 * HUGE);
    for (const metric of ['celery_task_received_total', 'celery_task_started_total', 'celery_task_succeeded_total']) {
      expect(m.value(metric, { name: 'hostile.ok', hostname: H, queue_name: 'celery' })).toBe(goodTasks);
    }
    expect(m.value('celery_task_runtime_seconds_count', { name: 'hostile.ok', outcome: 'succeeded' })).toBe(goodTasks);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'hostile.ok' })).toBe(goodTasks);
    expect(m.value('celery_pulse_events_received_total')).toBe(3 * goodTasks);
    expect(m.value('celery_task_received_total')).toBe(goodTasks);
  });

  it('counts each bad message under its reason', () => {
    const counted = Object.fromEntries(m.find('celery_pulse_decode_errors_total').filter((s) => s.value > 0).map((s) => [s.labels['reason'], s.value]));
    expect(counted).toEqual(expectedErrors);
    expect(expectedErrors).toEqual({
      invalid_envelope: 2 * ROUNDS,
      invalid_base64: 2 * ROUNDS,
      invalid_json: ROUNDS,
      invalid_msgpack: ROUNDS,
      unsupported_content_type: ROUNDS,
      unsupported_body_encoding: ROUNDS,
      not_an_event: 4 * ROUNDS,
      missing_field: 3 * ROUNDS,
      wrong_field_type: 3 * ROUNDS,
      unknown_event_type: ROUNDS,
      oversized: HUGE,
    });
  });

  it('logs bad input rate-limited: five lines per reason, each naming its reason', () => {
    const lines = daemon.proc.output.split('\n').filter((l) => l.includes('not a valid Celery event'));
    const perReason: Record<string, number> = {};
    for (const line of lines) {
      const rec = JSON.parse(line) as { reason: string; detail: string };
      perReason[rec.reason] = (perReason[rec.reason] ?? 0) + 1;
      expect(rec.detail.length).toBeLessThan(200);
    }
    expect(perReason).toEqual(Object.fromEntries(Object.keys(expectedErrors).map((r) => [r, Math.min(5, expectedErrors[r]!)])));
    // The 10 MB payload never reaches the log.
    expect(daemon.proc.output.length).toBeLessThan(100_000);
  });

  it('stays up and answers /healthz', async () => {
    expect(daemon.proc.running).toBe(true);
    expect((await fetch(`${daemon.base}/healthz`)).status).toBe(200);
  });

  describe('odd but valid values', () => {
    let odd: Metrics;
    const t = t0 + 10_000;
    beforeAll(async () => {
      const uuid = randomUUID();
      const events: (string | Buffer)[] = [
        // Python writes NaN for float('nan'): the runtime is dropped, the success counted.
        envelope(
          `[{"type": "task-received", "uuid": "${uuid}", "name": "odd.nan", "hostname": "${H}", "timestamp": ${t}}, ` +
            `{"type": "task-succeeded", "uuid": "${uuid}", "hostname": "${H}", "runtime": NaN, "timestamp": ${t + 1}}]`,
        ),
        body(goodTask(`odd.long.${'n'.repeat(100_000)}`, H, t + 2)),
        // Bytes that are not UTF-8 in the task name, and NUL and a lone surrogate via JSON escapes.
        envelope(Buffer.concat([Buffer.from(`[{"type": "task-received", "uuid": "${randomUUID()}", "hostname": "${H}", "timestamp": ${t + 3}, "name": "odd.bytes.`), Buffer.from([0xff, 0xfe]), Buffer.from('"}]')])),
        envelope(`[{"type": "task-received", "uuid": "${randomUUID()}", "hostname": "${H}", "timestamp": ${t + 4}, "name": "odd.nul\\u0000.lone\\ud800"}]`),
        // Deeply nested kwargs and a 100 000-character exception: the event is kept, the junk is not.
        envelope(
          JSON.stringify([
            { ...goodTask('odd.nested', H, t + 5)[0]!, kwargs: 'NESTED' },
            // A failure of a task never named: held for --unknown-task-grace, then counted as `unknown`.
            { type: 'task-failed', uuid: randomUUID(), hostname: H, timestamp: t + 6 },
          ]).replace('"NESTED"', `${'['.repeat(100_000)}${']'.repeat(100_000)}`),
        ),
      ];
      const failUuid = randomUUID();
      events.push(
        body([
          { type: 'task-received', uuid: failUuid, name: 'odd.fail', hostname: H, timestamp: t + 7 },
          { type: 'task-failed', uuid: failUuid, hostname: H, exception: `ValueError('${'x'.repeat(100_000)}')`, traceback: 'T'.repeat(1_000_000), timestamp: t + 8 },
        ]),
      );
      for (const e of events) expect(await pub.raw(e)).toBe(1);
      odd = await waitFor('the odd events', async () => {
        const cur = await daemon.metrics();
        return cur.value('celery_task_failed_total', { name: 'odd.fail' }) === 1 && cur.value('celery_task_failed_total', { name: 'unknown' }) === 1 ? cur : undefined;
      }, 20_000);
    });

    it('counts a success whose runtime is NaN, without a runtime', () => {
      expect(odd.value('celery_task_succeeded_total', { name: 'odd.nan' })).toBe(1);
      expect(odd.value('celery_task_runtime_seconds_count', { name: 'odd.nan' })).toBe(0);
    });

    it('cuts a 100 000-character task name to 256 characters', () => {
      const long = odd.find('celery_task_succeeded_total').filter((s) => s.labels['name']!.startsWith('odd.long.'));
      expect(long.map((s) => [s.labels['name']!.length, s.value])).toEqual([[256, 1]]);
    });

    it('replaces bytes that are not UTF-8, control characters and lone surrogates', () => {
      expect(odd.value('celery_task_received_total', { name: 'odd.bytes.\ufffd\ufffd' })).toBe(1);
      expect(odd.value('celery_task_received_total', { name: 'odd.nul\ufffd.lone\ufffd' })).toBe(1);
    });

    it('keeps events with deeply nested fields and labels a huge exception by its class', () => {
      expect(odd.value('celery_task_received_total', { name: 'odd.nested' })).toBe(1);
      expect(odd.value('celery_task_failed_total', { name: 'odd.fail', exception: 'ValueError' })).toBe(1);
    });
  });
});

describe('a real Celery workload under a flood of bad messages', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let m: Metrics;
  let floodSent = 0;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    worker = await startWorker({ broker: redis.url, name: 'hostile1@%h', concurrency: 2 });
    const pub = await EventPublisher.connect(redis.port, 0);
    let flooding = true;
    const flood = (async () => {
      const kinds = BAD.filter((k) => !['newline bomb', '200 000 nested arrays'].includes(k.what) && k.goodTasks === undefined);
      while (flooding) {
        for (const kind of kinds) {
          await pub.raw(kind.payload(Date.now() / 1000));
          floodSent += Object.values(kind.errors).reduce((a, b) => a + b, 0);
        }
        await sleep(5);
      }
    })();
    await runWorkload(redis.url, 'basic');
    m = await waitFor('the workload to finish', async () => {
      const cur = await daemon.metrics();
      return basicWorkloadDone(cur) ? cur : undefined;
    }, 60_000);
    flooding = false;
    await flood;
    await pub.close();
    m = await waitFor('every bad message to be counted', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_decode_errors_total') === floodSent ? cur : undefined;
    }, 20_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  it('counts the workload exactly as without the flood', () => {
    expect(floodSent).toBeGreaterThan(500);
    const w = { hostname: worker.hostname, queue_name: 'celery' };
    expect(m.value('celery_task_succeeded_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_failed_total', { ...w, name: 'pulse.fail_value', exception: 'ValueError' })).toBe(3);
    expect(m.value('celery_task_failed_total', { ...w, name: 'pulse.fail_key', exception: 'KeyError' })).toBe(2);
    expect(m.value('celery_task_retried_total', { ...w, name: 'pulse.flaky_retry' })).toBe(4);
    expect(m.value('celery_task_started_total', { ...w })).toBe(5 + 3 + 2 + 6 + 1);
    expect(m.value('celery_task_sent_total')).toBe(19);
    expect(m.value('celery_pulse_decode_errors_total')).toBe(floodSent);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(0);
  });
});

describe('label floods against --max-label-values', () => {
  const CAP = 20;
  let redis: RedisServer;
  let daemon: DaemonProc;
  let pub: EventPublisher;
  let t = Date.now() / 1000;

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--max-label-values', String(CAP)]);
    pub = await EventPublisher.connect(redis.port, 0);
  });

  afterAll(async () => {
    await pub?.close();
    await daemon?.stop();
    await redis?.stop();
  });

  const received = (uuid: string, name: string, hostname = 'flood@h'): RawEvent => ({ type: 'task-received', uuid, name, hostname, timestamp: (t += 0.001) });

  it('caps distinct exception classes, keeping the total', async () => {
    for (let i = 0; i < 300; i++) {
      const uuid = randomUUID();
      await pub.events([received(uuid, 'flood.fail'), { type: 'task-failed', uuid, hostname: 'flood@h', exception: `Exc${i}('x')`, timestamp: (t += 0.001) }]);
    }
    const m = await waitFor('300 failures', async () => ((await daemon.metrics()).value('celery_task_failed_total') === 300 ? daemon.metrics() : undefined));
    const series = m.find('celery_task_failed_total');
    expect(series.length).toBe(CAP + 1);
    expect(m.value('celery_task_failed_total', { exception: '__overflow__' })).toBe(300 - CAP);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_failed_total', label: 'exception' })).toBe(300 - CAP);
  });

  it('caps distinct task names and queues, keeping the total', async () => {
    for (let i = 0; i < 500; i++) await pub.events(received(randomUUID(), `flood.name.${i}`));
    // task-sent carries the queue: 300 distinct queues from one client.
    for (let i = 0; i < 300; i++) await pub.events({ type: 'task-sent', uuid: randomUUID(), name: 'flood.fail', queue: `q${i}`, hostname: 'gen1@h', timestamp: (t += 0.001) });
    const m = await waitFor('the floods', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_received_total') === 800 && cur.value('celery_task_sent_total') === 300 ? cur : undefined;
    });
    // flood.fail took one name slot; 19 of the 500 names get their own series.
    expect(m.find('celery_task_received_total').filter((s) => s.value > 0).length).toBe(CAP + 1);
    expect(m.value('celery_task_received_total', { name: '__overflow__' })).toBe(500 - (CAP - 1));
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_received_total', label: 'name' })).toBe(500 - (CAP - 1));
    // Queues: `celery` (received events carry none) took one slot.
    expect(m.value('celery_task_sent_total', { queue_name: '__overflow__' })).toBe(300 - (CAP - 1));
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_sent_total', label: 'queue_name' })).toBe(300 - (CAP - 1));
    expect(m.value('celery_pulse_decode_errors_total')).toBe(0);
  });

  it('caps tracked workers: a flood of invented worker names cannot grow the worker series', async () => {
    // flood@h (from the task events above) is already tracked: 19 more fit.
    for (let i = 0; i < 300; i++) await pub.events({ type: 'worker-heartbeat', hostname: `flood-w${i}@h`, freq: 2, active: 0, processed: 0, timestamp: (t += 0.001) });
    // The worker families are computed when a scrape starts, while the sliced exposition reads the
    // events counter later on: read them from a scrape begun after all 300 were counted.
    const m = await waitFor('the heartbeat flood', async () =>
      (await daemon.metrics()).value('celery_pulse_events_received_total', { type: 'worker-heartbeat' }) === 300 ? daemon.metrics() : undefined,
    );
    expect(m.value('celery_pulse_workers_tracked')).toBe(CAP);
    expect(m.find('celery_worker_up').length).toBe(CAP);
    expect(m.value('celery_worker_up', { hostname: 'flood-w0@h' })).toBe(1);
    expect(m.value('celery_worker_up', { hostname: 'flood-w18@h' })).toBe(1);
    expect(m.find('celery_worker_up', { hostname: 'flood-w19@h' })).toEqual([]);
    const context = JSON.stringify({ tracked: m.value('celery_pulse_workers_tracked'), heartbeats: m.value('celery_pulse_events_received_total', { type: 'worker-heartbeat' }), log: daemon.proc.output.slice(-2000) });
    expect(m.value('celery_pulse_workers_untracked_total'), context).toBe(300 - (CAP - 1));
  });
});
