// Tasks in flight across a daemon start are named from the workers (inspect active, reserved,
// scheduled over the pidbox): a real Celery worker on a real redis-server and rabbitmq-server runs
// an acks_late task that started before the daemon, with a second one prefetched behind it; and
// the same across a reconnection, with the daemon cut off from redis while the tasks arrived.
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CELERY_DIR, PYTHON, Proc, freePort, settledMetrics, sleep, startDaemon, startRabbit, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RedisServer } from './harness.js';

async function send(broker: string, task: string, kwargs: Record<string, unknown>, countdown = 0): Promise<string> {
  const code = `from pulseapp import app\nprint(app.send_task(${JSON.stringify(task)}, kwargs=${JSON.stringify(kwargs)}, countdown=${countdown} or None).id)`;
  const proc = new Proc(PYTHON, ['-c', code], { cwd: CELERY_DIR, env: { PULSE_BROKER: broker } });
  if ((await proc.exited) !== 0) throw new Error(`send_task ${task} failed:\n${proc.output}`);
  return proc.output.trim().split('\n').pop()!;
}

const total = (m: Metrics, name: string): number => m.value(name);

for (const kind of ['redis', 'rabbitmq'] as const) {
  describe(`tasks in flight across a daemon start on ${kind}`, () => {
    let broker: { url: string; stop(): Promise<void> };
    let worker: CeleryWorker;
    let daemon: DaemonProc;
    let m: Metrics;

    beforeAll(async () => {
      broker = kind === 'redis' ? await startRedis() : await startRabbit();
      // One process: the second task waits prefetched (reserved) behind the first.
      worker = await startWorker({ broker: broker.url, name: 'seeding@%h', concurrency: 1, env: { PULSE_ACKS_LATE: '1', PULSE_PREFETCH: '4' } });
      const slow = await send(broker.url, 'pulse.sleep', { seconds: 8 });
      const next = await send(broker.url, 'pulse.ok', {});
      // Waits on the worker's timer (scheduled) for longer than the test runs.
      const later = await send(broker.url, 'pulse.tick', {}, 300);
      await waitFor('the three tasks received by the worker', () => [slow, next, later].every((id) => worker.proc.output.includes(id)), 20_000);
      await sleep(1000);
      daemon = await startDaemon(['--broker-url', broker.url, '--log-level', 'info']);
      m = await settledMetrics(daemon, 'both tasks succeeded', (x) => total(x, 'celery_task_succeeded_total') >= 2, 40_000);
    }, 120_000);

    afterAll(async () => {
      await worker?.stop();
      await daemon?.stop();
      await broker?.stop();
    });

    it('counts the running task and the prefetched one under their real names, none as unknown', () => {
      expect(m.value('celery_task_succeeded_total', { name: 'pulse.sleep' })).toBe(1);
      expect(m.value('celery_task_succeeded_total', { name: 'pulse.ok' })).toBe(1);
      expect(total(m, 'celery_task_succeeded_total')).toBe(2);
      expect(m.series.filter((s) => s.labels['name'] === 'unknown')).toEqual([]);
      expect(m.value('celery_pulse_tasks_unnamed_total')).toBe(0);
    });

    it('observes the running task\'s runtime under its name', () => {
      expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.sleep', outcome: 'succeeded' })).toBe(1);
      expect(m.value('celery_task_runtime_seconds_sum', { name: 'pulse.sleep', outcome: 'succeeded' })).toBeGreaterThanOrEqual(8);
      expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.ok', outcome: 'succeeded' })).toBe(1);
    });

    it('counts no event for the seeding: only the prefetched task\'s start, seen after the daemon started', () => {
      expect(total(m, 'celery_task_received_total')).toBe(0);
      expect(total(m, 'celery_task_started_total')).toBe(1);
      expect(m.value('celery_task_started_total', { name: 'pulse.ok' })).toBe(1);
      expect(m.value('celery_pulse_tasks_seeded_total')).toBe(3);
      expect(daemon.proc.output).toMatch(/seeded 3 tasks in flight from 1 workers/);
    });

    it('tracks the scheduled task as unfinished, with nothing counted for it', () => {
      expect(m.value('celery_pulse_tracked_tasks', { state: 'unfinished' })).toBe(1);
      expect(m.find('celery_task_succeeded_total', { name: 'pulse.tick' })).toEqual([]);
    });
  });
}

/** The daemon's network path to the broker, which the test can cut and restore (the worker's is direct). */
class Partition {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  async restore(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.server = server;
  }

  async cut(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server !== undefined) await new Promise((resolve) => server.close(resolve));
  }
}

describe('tasks that arrived while the daemon was cut off from redis', () => {
  let redis: RedisServer;
  let partition: Partition;
  let worker: CeleryWorker;
  let daemon: DaemonProc;
  let m: Metrics;

  beforeAll(async () => {
    redis = await startRedis();
    partition = new Partition(await freePort(), redis.port);
    await partition.restore();
    worker = await startWorker({ broker: redis.url, name: 'reseeding@%h', concurrency: 1, env: { PULSE_ACKS_LATE: '1', PULSE_PREFETCH: '4' } });
    daemon = await startDaemon(['--broker-url', `redis://127.0.0.1:${partition.port}/0`, '--log-level', 'info']);
    await waitFor('the first seeding', () => /seeded 0 tasks in flight from 1 workers/.test(daemon.proc.output), 20_000);
    await partition.cut();
    await waitFor('broker_up 0', async () => (await daemon.metrics()).value('celery_pulse_broker_up') === 0, 20_000);
    const slow = await send(redis.url, 'pulse.sleep', { seconds: 8 });
    const next = await send(redis.url, 'pulse.ok', {});
    await waitFor('both tasks received by the worker', () => worker.proc.output.includes(slow) && worker.proc.output.includes(next), 20_000);
    await sleep(1000);
    await partition.restore();
    m = await settledMetrics(daemon, 'both tasks succeeded', (x) => total(x, 'celery_task_succeeded_total') >= 2, 40_000);
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await partition?.cut();
    await redis?.stop();
  });

  it('names them from the workers after reconnecting', () => {
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(1);
    expect(m.value('celery_task_succeeded_total', { name: 'pulse.sleep' })).toBe(1);
    expect(m.value('celery_task_succeeded_total', { name: 'pulse.ok' })).toBe(1);
    expect(total(m, 'celery_task_succeeded_total')).toBe(2);
    expect(m.series.filter((s) => s.labels['name'] === 'unknown')).toEqual([]);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.sleep', outcome: 'succeeded' })).toBe(1);
    expect(m.value('celery_pulse_tasks_seeded_total')).toBe(2);
    expect(m.value('celery_pulse_tasks_unnamed_total')).toBe(0);
    expect(daemon.proc.output).toMatch(/seeded 2 tasks in flight from 1 workers/);
  });
});
