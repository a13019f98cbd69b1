// Typed readers of Celery's inspect replies (shapes from celery/worker/control.py, captured from
// Celery 5.2 workers), and the merge of `{node name: value}` replies into one map.
import { describe, expect, it } from 'vitest';
import { inspectWorkers, parseActiveQueues, parseHeldTasks, parseStats } from '../../src/control/inspect.js';

const ACTIVE_QUEUES = [
  { name: 'celery', exchange: { name: 'celery', type: 'direct' }, routing_key: 'celery', durable: true, exclusive: false, auto_delete: false, no_ack: false },
  { name: 'q.beta', exchange: { name: 'q.beta', type: 'direct' }, routing_key: 'q.beta', durable: true },
];
const STATS = { total: {}, pid: 41, pool: { 'max-concurrency': 3, processes: [51, 52, 53], 'max-tasks-per-child': 'N/A' }, broker: { transport: 'redis' } };
const ACTIVE = [
  { id: 'a1', name: 'pulse.sleep', args: [30], kwargs: {}, type: 'pulse.sleep', hostname: 'w1@h', time_start: 1733600000.5, acknowledged: true, delivery_info: { exchange: '', routing_key: 'celery', priority: 0, redelivered: false }, worker_pid: 51 },
];
const SCHEDULED = [{ eta: '2026-12-07T23:30:00+00:00', priority: 6, request: { id: 's1', name: 'pulse.ok', hostname: 'w1@h', time_start: null, delivery_info: { routing_key: 'q.beta' } } }];

describe('inspect replies', () => {
  it('reads active_queues, stats, active and scheduled', () => {
    expect(parseActiveQueues(ACTIVE_QUEUES)).toEqual(['celery', 'q.beta']);
    expect(parseStats(STATS)).toEqual({ processes: 3, maxConcurrency: 3 });
    expect(parseStats({ pool: { 'max-concurrency': 1 } })).toEqual({ processes: 0, maxConcurrency: 1 });
    expect(parseHeldTasks(ACTIVE)).toEqual([{ id: 'a1', name: 'pulse.sleep', hostname: 'w1@h', timeStart: 1733600000.5, routingKey: 'celery', eta: undefined }]);
    expect(parseHeldTasks(SCHEDULED)).toEqual([{ id: 's1', name: 'pulse.ok', hostname: 'w1@h', timeStart: undefined, routingKey: 'q.beta', eta: '2026-12-07T23:30:00+00:00' }]);
    expect(parseActiveQueues({ not: 'a list' })).toBeUndefined();
    expect(parseHeldTasks([{ name: 'no id' }, 7])).toEqual([]);
  });

  it('merges every reply by worker node name, leaving out what does not parse', async () => {
    const source = {
      request: async (method: string) => {
        expect(method).toBe('active_queues');
        return [{ 'w1@h': ACTIVE_QUEUES }, { 'w2@h': [ACTIVE_QUEUES[1]] }, 'garbage', { 'w3@h': { error: 'No such method' } }];
      },
    };
    const got = await inspectWorkers(source, 'active_queues', {}, parseActiveQueues, { timeoutMs: 10, maxBytes: 1024 });
    expect([...got]).toEqual([['w1@h', ['celery', 'q.beta']], ['w2@h', ['q.beta']]]);
  });
});
