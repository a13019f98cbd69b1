// RabbitMQ end to end: a real rabbitmq-server (with the management plugin), real Celery workers,
// the built daemon. The exact-count workload of the Redis test, queue depth for a queue nobody
// consumes and for one that does not exist, unacked counts, and a broker restart mid-run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { basicWorkloadDone, runWorkload, settledMetrics, startDaemon, startRabbit, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics, RabbitServer } from './harness.js';

const IDLE = 'pulse.idle';
const MISSING = 'pulse.missing';
const SLOW = 'pulse.slow';

describe('RabbitMQ events and queues with a real Celery worker', () => {
  let rabbit: RabbitServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  let m: Metrics;

  beforeAll(async () => {
    rabbit = await startRabbit();
    daemon = await startDaemon([
      '--broker-url', rabbit.url,
      '--rabbitmq-management-url', rabbit.managementUrl,
      '--queues', IDLE,
      '--queues', MISSING,
      '--log-level', 'warn',
    ]);
    // Celery turns an `expires` already past into the AMQP `expiration` 0 (celery/app/base.py
    // send_task), and RabbitMQ drops such a message unless a consumer can take it at once. A large
    // prefetch window makes that always so: the worker gets it and revokes it, exactly as on Redis.
    worker = await startWorker({ broker: rabbit.url, name: 'amqp1@%h', concurrency: 2, env: { PULSE_PREFETCH: '100' } });
    await Promise.all([runWorkload(rabbit.url, 'basic'), runWorkload(rabbit.url, 'to_queue', { PULSE_QUEUE: IDLE })]);
    m = await settledMetrics(daemon, 'the workload to finish', (cur) => basicWorkloadDone(cur), 60_000);
  });

  afterAll(async () => {
    await worker?.stop();
    await daemon?.stop();
    await rabbit?.stop();
  });

  const host = (): string => worker.hostname;

  it('counts every outcome per task name, as on Redis', () => {
    const w = { hostname: host(), queue_name: 'celery' };
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_succeeded_total', { ...w, name: 'pulse.ok' })).toBe(5);
    expect(m.value('celery_task_started_total', { ...w, name: 'pulse.fail_value' })).toBe(3);
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.fail_key' })).toBe(2);
    expect(m.value('celery_task_received_total', { ...w, name: 'pulse.flaky_retry' })).toBe(6);
    expect(m.value('celery_task_retried_total', { ...w, name: 'pulse.flaky_retry', exception: 'ConnectionError' })).toBe(4);
    expect(m.value('celery_task_succeeded_total', { ...w, name: 'pulse.flaky_retry' })).toBe(2);
    expect(m.value('celery_task_rejected_total', { ...w, name: 'pulse.reject' })).toBe(1);
    expect(m.find('celery_task_failed_total').map((s) => [s.labels['name'], s.labels['exception'], s.value]).sort()).toEqual([
      ['pulse.fail_key', 'KeyError', 2],
      ['pulse.fail_value', 'ValueError', 3],
    ]);
    expect(m.value('celery_task_revoked_total', { name: 'pulse.ok', hostname: host() })).toBe(1);
    expect(m.value('celery_task_revoked_total', { name: 'pulse.sleep', hostname: host() })).toBe(1);
    // basic: 6 + 3 + 2 + 6 + 1 + 1; to_queue: 10 more pulse.ok on the idle queue.
    expect(m.value('celery_task_sent_total')).toBe(19 + 10);
    expect(m.value('celery_task_sent_total', { queue_name: IDLE, name: 'pulse.ok' })).toBe(10);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.ok', outcome: 'succeeded' })).toBe(5);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.flaky_retry', outcome: 'retried' })).toBe(4);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'pulse.flaky_retry', outcome: 'succeeded' })).toBe(2);
    expect(m.value('celery_task_runtime_seconds_count', { outcome: 'failed' })).toBe(3 + 2);
    expect(m.value('celery_task_runtime_seconds_count')).toBe(5 + 6 + 3 + 2);
    expect(m.value('celery_pulse_decode_errors_total')).toBe(0);
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.value('celery_worker_up', { hostname: host() })).toBe(1);
  });

  // RabbitMQ 4.3 refuses transient non-exclusive queues: the event queue must stay exclusive.
  it('consumes events from an exclusive, transient queue of its own', async () => {
    type Consumer = { queue: { name: string }; channel_details: { connection_name: string } };
    type Connection = { name: string; client_properties: { connection_name?: string } };
    type Queue = { exclusive: boolean; durable: boolean; auto_delete: boolean };
    // The management API lists connections and consumers from statistics it gathers every 5 s.
    const eventQueues = await waitFor("the daemon's consumer in the management API", async () => {
      const connections = (await rabbit.api('GET', '/api/connections')) as Connection[];
      const ours = new Set(connections.filter((c) => c.client_properties.connection_name === 'celery-pulse-events').map((c) => c.name));
      const consumers = (await rabbit.api('GET', '/api/consumers')) as Consumer[];
      const found = consumers.filter((c) => ours.has(c.channel_details.connection_name) && c.queue.name.startsWith('celeryev.')).map((c) => c.queue.name);
      return found.length > 0 ? found : undefined;
    }, 15_000, 500);
    expect(eventQueues).toHaveLength(1);
    const queue = (await rabbit.api('GET', `/api/queues/%2F/${encodeURIComponent(eventQueues[0]!)}`)) as Queue;
    expect({ exclusive: queue.exclusive, durable: queue.durable, auto_delete: queue.auto_delete }).toEqual({ exclusive: true, durable: false, auto_delete: true });
  });

  it('reports ready messages and consumers of each queue, a missing queue as 0', async () => {
    const cur = await daemon.metrics();
    expect(cur.value('celery_queue_length', { queue_name: IDLE })).toBe(10);
    expect(cur.value('celery_active_consumer_count', { queue_name: IDLE })).toBe(0);
    expect(cur.find('celery_queue_length', { queue_name: MISSING }).map((s) => s.value)).toEqual([0]);
    // `celery` (learned from the worker, so asked after the missing queue) was read on a new channel.
    expect(cur.value('celery_queue_length', { queue_name: 'celery' })).toBe(0);
    expect(cur.value('celery_active_consumer_count', { queue_name: 'celery' })).toBe(1);
    expect(cur.value('celery_pulse_queue_scrape_success')).toBe(1);
    // The 404 on the missing queue closed only the declares' channel: the next scrape still reads the others.
    const again = await waitFor('a second round of queue queries', async () => {
      await new Promise((r) => setTimeout(r, 1100));
      return daemon.metrics();
    });
    expect(again.value('celery_queue_length', { queue_name: IDLE })).toBe(10);
    expect(again.value('celery_pulse_queue_scrape_success')).toBe(1);
  });

  it('reports messages delivered and not acknowledged from the management API', async () => {
    // One process, prefetch 4, acks_late: four messages delivered and unacknowledged (one running), four ready.
    const slow = await startWorker({
      broker: rabbit.url,
      name: 'amqpslow@%h',
      concurrency: 1,
      pool: 'solo',
      queues: [SLOW],
      env: { PULSE_PREFETCH: '4', PULSE_ACKS_LATE: '1' },
    });
    try {
      await runWorkload(rabbit.url, 'to_queue', { PULSE_QUEUE: SLOW, PULSE_COUNT: '8', PULSE_SLEEP_SECONDS: '20' });
      const cur = await waitFor('unacked counts to settle', async () => {
        const c = await daemon.metrics();
        return c.value('celery_queue_unacked_messages', { queue_name: SLOW }) === 4 && c.value('celery_queue_length', { queue_name: SLOW }) === 4 ? c : undefined;
      }, 30_000);
      expect(cur.value('celery_active_consumer_count', { queue_name: SLOW })).toBe(1);
      expect(cur.value('celery_queue_unacked_messages', { queue_name: IDLE })).toBe(0);
    } finally {
      slow.proc.signal('SIGKILL');
      await slow.proc.exited;
    }
  });

  it('reads a vhost of its own with a user of its own, and never logs the password', async () => {
    const password = 'Vh0st-s3cret';
    await rabbit.api('PUT', '/api/vhosts/pulse-vh');
    await rabbit.api('PUT', '/api/users/pulse', { password, tags: 'monitoring' });
    await rabbit.api('PUT', '/api/permissions/pulse-vh/pulse', { configure: '.*', write: '.*', read: '.*' });
    const url = `amqp://pulse:${password}@127.0.0.1:${rabbit.port}/pulse-vh`;
    // The management URL has no credentials: those of the broker URL are used.
    const vh = await startDaemon(['--broker-url', url, '--rabbitmq-management-url', `http://127.0.0.1:${rabbit.managementPort}`, '--log-level', 'debug']);
    try {
      await runWorkload(url, 'to_queue', { PULSE_QUEUE: IDLE, PULSE_COUNT: '4' });
      const cur = await waitFor('the vhost workload to be seen', async () => {
        const c = await vh.metrics();
        return c.value('celery_task_sent_total') === 4 && c.value('celery_queue_length', { queue_name: IDLE }) === 4 ? c : undefined;
      });
      expect(cur.value('celery_queue_unacked_messages', { queue_name: IDLE })).toBe(0);
      // The default vhost's own idle queue is untouched.
      expect((await daemon.metrics()).value('celery_queue_length', { queue_name: IDLE })).toBe(10);
      const text = await vh.scrape();
      expect(text).not.toContain(password);
    } finally {
      await vh.stop();
    }
    expect(vh.proc.output).toContain('"broker":"127.0.0.1:' + rabbit.port + '/pulse-vh"');
    expect(vh.proc.output).not.toContain(password);
  });

  it('stays up through a broker restart and counts the events after it', async () => {
    const before = await daemon.metrics();
    expect(before.value('celery_pulse_broker_reconnects_total')).toBe(0);
    const restarted = rabbit.restart();
    // Observed below; if an assertion fails first, afterAll's stop() ends the restart quietly.
    restarted.catch(() => undefined);
    await waitFor('broker_up to drop to 0', async () => (await daemon.metrics()).value('celery_pulse_broker_up') === 0, 30_000);
    // The scrape itself never fails: the queue figures of the missing broker are left out and said so.
    const down = await waitFor('the queue scrape to fail', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_pulse_queue_scrape_success') === 0 ? cur : undefined;
    }, 30_000);
    expect(down.find('celery_queue_length')).toEqual([]);
    expect(down.value('celery_task_succeeded_total')).toBe(7);
    await restarted;
    await waitFor('broker_up back to 1', async () => (await daemon.metrics()).value('celery_pulse_broker_up') === 1, 60_000);
    expect(daemon.proc.running).toBe(true);
    // The worker reconnects on its own; it is ready again once it answers a ping.
    await waitFor('the worker to reconnect', () => /Connected to amqp/.test(worker.proc.output.split('Connection to broker lost').pop() ?? ''), 60_000);
    await runWorkload(rabbit.url, 'basic');
    const after = await waitFor('the second workload to finish', async () => {
      const cur = await daemon.metrics();
      return basicWorkloadDone(cur, 2) ? cur : undefined;
    }, 60_000);
    expect(after.value('celery_task_succeeded_total', { name: 'pulse.ok', hostname: host() })).toBe(10);
    expect(after.value('celery_task_retried_total', { name: 'pulse.flaky_retry' })).toBe(8);
    expect(after.value('celery_pulse_broker_reconnects_total')).toBe(1);
    expect(after.value('celery_pulse_queue_scrape_success')).toBe(1);
    // Queues and task messages are durable: the idle queue's survived the restart, and the slow
    // queue got back the 4 messages its killed worker never acknowledged.
    expect(after.value('celery_queue_length', { queue_name: IDLE })).toBe(10);
    expect(after.value('celery_queue_length', { queue_name: SLOW })).toBe(8);
  });

  it('reconnects with a new queue when an operator force-closes its connection', async () => {
    type Conn = { name: string; client_properties: { connection_name?: string } };
    const eventConnections = async (): Promise<string[]> =>
      ((await rabbit.api('GET', '/api/connections?columns=name,client_properties')) as Conn[])
        .filter((c) => c.client_properties.connection_name === 'celery-pulse-events')
        .map((c) => c.name);
    const queues = async (): Promise<string[]> =>
      ((await rabbit.api('GET', '/api/queues/%2F?columns=name')) as { name: string }[]).map((q) => q.name).filter((n) => n.startsWith('celeryev.'));
    const [connection] = await waitFor('the events connection in the management API', async () => {
      const c = await eventConnections();
      return c.length === 1 ? c : undefined;
    });
    const [before] = await queues();
    await rabbit.api('DELETE', `/api/connections/${encodeURIComponent(connection!)}`);
    await waitFor('a new event queue', async () => {
      const now = await queues();
      return now.length === 1 && now[0] !== before;
    }, 30_000);
    await waitFor('broker_up back to 1', async () => (await daemon.metrics()).value('celery_pulse_broker_up') === 1);
    await runWorkload(rabbit.url, 'to_queue', { PULSE_QUEUE: 'celery', PULSE_COUNT: '3' });
    const m = await waitFor('the three tasks sent after it', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_succeeded_total', { name: 'pulse.ok', hostname: host() }) === 13 ? cur : undefined;
    });
    expect(m.value('celery_pulse_broker_reconnects_total')).toBe(2);
    expect(m.value('celery_pulse_queue_scrape_success')).toBe(1);
    expect(daemon.proc.running).toBe(true);
  });
});
