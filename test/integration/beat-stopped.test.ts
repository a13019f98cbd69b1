// The zero-configuration dead man's switch end to end: a real `celery beat` sends pulse.tick every
// 3 s to a real worker, nothing is declared to celery-pulse, and a real Prometheus evaluates the
// shipped rules (alerts/celery-pulse.rules.yaml, default thresholds) every second. Beat is
// SIGKILLed; CeleryPeriodicTaskStopped must fire for pulse.tick within the documented bound
// (2 x the detected interval + 60 s after the last arrival, plus one evaluation), and never for
// pulse.ok, sent meanwhile in bursts about as often.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELERY_DIR, PYTHON, Proc, ROOT, runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';
import { startPrometheus } from './prometheus.js';
import type { PrometheusServer } from './prometheus.js';

const EVERY = 3;
const FACTOR = 2;
const GRACE = 60;
const EVALUATION = 1;
const ALERT = 'CeleryPeriodicTaskStopped';

describe('a Celery Beat that dies, with nothing declared', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let beat: Proc;
  let prom: PrometheusServer;
  let dir: string;

  beforeAll(async () => {
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'pulse-beat-'));
    daemon = await startDaemon(['--broker-url', redis.url, '--log-level', 'warn']);
    prom = await startPrometheus({ targets: [`127.0.0.1:${daemon.port}`], job: 'celery-pulse', ruleFiles: [join(ROOT, 'alerts', 'celery-pulse.rules.yaml')], interval: EVALUATION });
    worker = await startWorker({ broker: redis.url, name: 'beat2@%h' });
  });

  afterAll(async () => {
    await beat?.stop();
    await worker?.stop();
    await prom?.stop();
    await daemon?.stop();
    await redis?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('learns the cadence of Beat, pages within the bound once Beat is killed, and not for a bursty task', async () => {
    // Beat as deployed by default: no task_send_sent_event, so arrivals are the worker's task-received.
    beat = new Proc(PYTHON, ['beatapp.py', join(dir, 'celerybeat-schedule')], {
      cwd: CELERY_DIR,
      env: { PULSE_BROKER: redis.url, PULSE_BEAT_EVERY: String(EVERY), PULSE_SENT_EVENTS: '0', PYTHONUNBUFFERED: '1' },
    });
    // pulse.ok in bursts of two, one burst every 2 to 4 s, while Beat's cadence is learned.
    const bursts = (async () => {
      for (let i = 0; i < 7; i++) {
        await runWorkload(redis.url, 'to_queue', { PULSE_QUEUE: 'celery', PULSE_COUNT: '2' });
        await sleep(2000 + 2000 * ((i * 7) % 5) / 4);
      }
    })();
    const clockwork = await waitFor('9 ticks from Beat, seen as clockwork', async () => {
      if (!beat.running) throw new Error(`celery beat exited:\n${beat.output}`);
      const m = await daemon.metrics();
      const jitter = m.find('celery_task_arrival_jitter_ratio', { name: 'pulse.tick' })[0]?.value;
      return jitter === undefined ? undefined : { jitter, interval: m.value('celery_task_detected_interval_seconds', { name: 'pulse.tick' }) };
    }, 60_000, 250).catch((err: Error) => {
      throw new Error(`${err.message}\n${beat.output}`);
    });
    expect(clockwork.interval).toBeCloseTo(EVERY, 1);
    // Beat keeps its schedule to a few milliseconds (the worker's receipt adds its own delay):
    // inside the 0.1 the rule allows.
    expect(clockwork.jitter).toBeLessThanOrEqual(0.1);
    await bursts;
    const bursty = (await daemon.metrics()).find('celery_task_arrival_jitter_ratio', { name: 'pulse.ok' })[0]?.value;
    expect(bursty).toBeGreaterThan(0.5);
    // Prometheus has it all, and nothing pages while Beat runs.
    await waitFor('the jitter ratios in Prometheus', async () => (await prom.query('celery_task_arrival_jitter_ratio')).length === 2, 10_000, 250);
    await sleep(2 * EVERY * 1000);
    expect((await prom.alerts()).filter((a) => a.labels['alertname'] === ALERT)).toEqual([]);

    beat.signal('SIGKILL');
    const killedAt = Date.now() / 1000;
    await beat.exited;
    // A tick Beat sent just before it died may still be on its way to the worker.
    await sleep(2000);
    const before = await daemon.metrics();
    const last = before.value('celery_task_last_received_timestamp_seconds', { name: 'pulse.tick' });
    const interval = before.value('celery_task_detected_interval_seconds', { name: 'pulse.tick' });
    expect(killedAt - last).toBeLessThan(EVERY + 1);
    const bound = FACTOR * interval + GRACE;

    const alert = await waitFor(`${ALERT} to fire`, async () => {
      const alerts = await prom.alerts();
      return alerts.find((a) => a.labels['alertname'] === ALERT && a.state === 'firing');
    }, (bound + 30) * 1000, 250);
    const activeAt = Date.parse(alert.activeAt ?? '') / 1000;
    // Not before the allowance has passed, and at the first evaluation after it (2 s of slack for
    // a loaded machine).
    expect(activeAt - last).toBeGreaterThan(bound);
    expect(activeAt - last).toBeLessThan(bound + EVALUATION + 2);
    expect(alert.labels).toEqual({ alertname: ALERT, severity: 'critical', job: 'celery-pulse', name: 'pulse.tick' });
    expect(alert.annotations['summary']).toBe('A periodic Celery task stopped arriving.');
    expect(alert.annotations['description']).toMatch(/^pulse\.tick \(celery-pulse\) arrived like clockwork/);
    // The bursty task stays quiet, and the cadence and last arrival stay as they were.
    expect((await prom.alerts()).filter((a) => a.labels['alertname'] === ALERT).map((a) => a.labels['name'])).toEqual(['pulse.tick']);
    const after = await daemon.metrics();
    expect(after.value('celery_task_last_received_timestamp_seconds', { name: 'pulse.tick' })).toBe(last);
    expect(after.value('celery_task_detected_interval_seconds', { name: 'pulse.tick' })).toBe(interval);
  });
});
