// RabbitMQ quorum queues and Celery 5.5's native delayed delivery, with a real current-Celery worker
// and a real rabbitmq-server (3.10 here; this file runs only in the integration-celery-current
// project). A countdown task for a quorum queue waits in the celery_delayed_0..27 queues, not in
// its queue nor in the worker's memory: it is no backlog of its queue until its delay has run out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWorkload, settledMetrics, startDaemon, startRabbit, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RabbitServer } from './harness.js';

const IDLE = 'pulse.idle';
const QUORUM = { PULSE_QUEUE_TYPE: 'quorum' };

describe('quorum queues and native delayed delivery (Celery 5.5+)', () => {
  let rabbit: RabbitServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;

  beforeAll(async () => {
    rabbit = await startRabbit();
    daemon = await startDaemon(['--broker-url', rabbit.url, '--rabbitmq-management-url', rabbit.managementUrl, '--queues', IDLE, '--log-level', 'warn']);
    worker = await startWorker({ broker: rabbit.url, name: 'quorum1@%h', concurrency: 2, env: QUORUM });
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await rabbit?.stop();
  });

  it('reads the depth of a quorum queue nobody consumes', async () => {
    await runWorkload(rabbit.url, 'to_queue', { ...QUORUM, PULSE_QUEUE: IDLE, PULSE_COUNT: '7' });
    const q = (await rabbit.api('GET', `/api/queues/%2F/${IDLE}`)) as { type: string };
    expect(q.type).toBe('quorum');
    const m = await settledMetrics(daemon, 'the idle quorum queue to hold 7', (cur) => cur.value('celery_queue_length', { queue_name: IDLE }) === 7, 20_000);
    expect(m.value('celery_queue_length', { queue_name: IDLE })).toBe(7);
    expect(m.value('celery_active_consumer_count', { queue_name: IDLE })).toBe(0);
    expect(m.value('celery_task_sent_total', { queue_name: IDLE })).toBe(7);
  });

  it('labels delayed tasks with their queue, does not count them as its backlog while they wait, and counts them once they run', async () => {
    // 3 tasks due in 16 s, one due now. kombu writes a countdown in binary into the routing key
    // and each delay level N holds a message for 2^N s when bit N is set: 16 s is level 4 alone.
    await runWorkload(rabbit.url, 'countdown', { ...QUORUM, PULSE_COUNT: '3', PULSE_COUNTDOWN: '16' });
    const waiting = await waitFor('the task due now to run', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_succeeded_total', { name: 'pulse.ok', queue_name: 'celery' }) === 1 ? cur : undefined;
    }, 8_000);
    // Sent to `celery` (not to the delay-prefixed routing key), received by no worker yet, not queued in `celery`.
    expect(waiting.value('celery_task_sent_total', { name: 'pulse.ok', queue_name: 'celery' })).toBe(4);
    expect(waiting.series.filter((s) => (s.labels['queue_name'] ?? '').includes('0.0.0'))).toEqual([]);
    expect(waiting.value('celery_task_received_total', { name: 'pulse.ok' })).toBe(1);
    expect(waiting.value('celery_queue_length', { queue_name: 'celery' })).toBe(0);
    const delayed = (await rabbit.api('GET', '/api/queues/%2F/celery_delayed_4')) as { type: string };
    expect(delayed.type).toBe('quorum');
    // The broker's own count, by rabbitmqctl: a quorum queue publishes its length on its periodic
    // tick, so it is read until it shows (well inside the 16 s). The 3 delayed tasks wait in
    // level 4 and nowhere else.
    const delayLevels = (): Record<string, number> =>
      Object.fromEntries(
        rabbit.ctl('list_queues', '--quiet', '--no-table-headers', 'name', 'messages').split('\n').map((line) => line.trim().split(/\s+/)).filter(([name]) => name?.startsWith('celery_delayed_')).map(([name, n]) => [name, Number(n)]),
      );
    const held = await waitFor('celery_delayed_4 to hold the delayed tasks', () => {
      const levels = delayLevels();
      return levels['celery_delayed_4'] === 3 ? levels : undefined;
    }, 10_000, 500);
    expect(Object.keys(held)).toHaveLength(28);
    expect(Object.entries(held).filter(([, n]) => n !== 0)).toEqual([['celery_delayed_4', 3]]);

    const m = await settledMetrics(daemon, 'the delayed tasks to run', (cur) => cur.value('celery_task_succeeded_total', { name: 'pulse.ok', queue_name: 'celery' }) === 4, 30_000);
    expect(m.value('celery_task_received_total', { name: 'pulse.ok', queue_name: 'celery', hostname: worker.hostname })).toBe(4);
    expect(m.value('celery_task_succeeded_total', { name: 'pulse.ok', queue_name: 'celery', hostname: worker.hostname })).toBe(4);
    expect(m.value('celery_task_sent_total', { name: 'pulse.ok', queue_name: 'celery' })).toBe(4);
    expect(m.value('celery_queue_length', { queue_name: 'celery' })).toBe(0);
    expect(m.value('celery_pulse_decode_errors_total')).toBe(0);
  });
});
