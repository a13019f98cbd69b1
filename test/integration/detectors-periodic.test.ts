// A periodic task that stops arriving (Beat died): pulse.tick is sent every second, like Beat
// would, then no more. Its interval is both declared (from the config file) and detected.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';

describe('periodic tasks that stop arriving', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'pulse-periodic-'));
    const config = join(dir, 'pulse.yaml');
    writeFileSync(config, 'expect-task:\n  - pulse.tick=1s\n  - pulse.nightly=1d\n');
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn', '--config-file', config]);
    worker = await startWorker({ broker: redis.url, name: 'beat1@%h' });
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('exports the declared intervals before anything arrives', async () => {
    const m = await daemon.metrics();
    expect(m.value('celery_task_expected_interval_seconds', { name: 'pulse.tick' })).toBe(1);
    expect(m.value('celery_task_expected_interval_seconds', { name: 'pulse.nightly' })).toBe(86400);
    expect(m.find('celery_task_last_received_timestamp_seconds')).toEqual([]);
  });

  it('records when the task was last sent and received, detects its cadence, and shows it late once it stops', async () => {
    const startedAt = Date.now() / 1000;
    const sends = await runWorkload(redis.url, 'periodic', { PULSE_PERIOD: '1', PULSE_TICKS: '9' });
    const m = await waitFor('the nine ticks', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_succeeded_total', { name: 'pulse.tick' }) === 9 ? cur : undefined;
    });
    const scrapedAt = Date.now() / 1000;
    const sent = m.value('celery_task_last_sent_timestamp_seconds', { name: 'pulse.tick' });
    const received = m.value('celery_task_last_received_timestamp_seconds', { name: 'pulse.tick' });
    expect(sent).toBeGreaterThan(startedAt + 7.5);
    // The client stamps task-sent after publishing, so the worker may receive the task a few ms
    // before that stamp: the two are close, in either order.
    expect(Math.abs(received - sent)).toBeLessThan(1);
    // The generic alert rule, evaluated as Prometheus would:
    //   time() - celery_task_last_received_timestamp_seconds > 2 * celery_task_expected_interval_seconds
    const late = (cur: typeof m, now: number): boolean =>
      now - cur.value('celery_task_last_received_timestamp_seconds', { name: 'pulse.tick' }) > 2 * cur.value('celery_task_expected_interval_seconds', { name: 'pulse.tick' });
    expect(late(m, scrapedAt)).toBe(false);
    const detected = await waitFor('the cadence to be detected', async () => {
      const cur = await daemon.metrics();
      return cur.find('celery_task_detected_interval_seconds', { name: 'pulse.tick' })[0]?.value;
    }, 5000).catch(async (err: Error) => {
      const tick = (await daemon.metrics()).series.filter((x) => x.labels['name'] === 'pulse.tick');
      throw new Error(`${err.message}; sent at ${sends['sent_at']?.join(' ')}; ${JSON.stringify(tick)}`);
    });
    expect(detected).toBeCloseTo(1, 1);
    const after = await waitFor('the tick to be late', async () => {
      const cur = await daemon.metrics();
      return late(cur, Date.now() / 1000) ? cur : undefined;
    }, 5000);
    // Nothing moved: the last timestamps and the cadence stay as they were.
    expect(after.value('celery_task_last_received_timestamp_seconds', { name: 'pulse.tick' })).toBe(received);
    expect(after.value('celery_task_detected_interval_seconds', { name: 'pulse.tick' })).toBe(detected);
    expect(after.find('celery_task_detected_interval_seconds').map((s) => s.labels['name'])).toEqual(['pulse.tick']);
  });
});
