// The per-queue figures of WorkerInspection from `active_queues` and `stats` replies (a fake
// source here; test/integration/worker-inspection.test.ts asks real workers on both brokers).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EventSource, ReplyLimits } from '../../src/brokers/source.js';
import { WorkerInspection } from '../../src/control/worker-inspection.js';

const queue = (name: string) => ({ name, exchange: { name, type: 'direct' }, routing_key: name });
const stats = (processes: number) => ({ pool: { 'max-concurrency': processes, processes: Array.from({ length: processes }, (_, i) => 100 + i) } });

function source(replies: Record<string, unknown[]>): EventSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    connected: true,
    reconnects: 0,
    start: () => undefined,
    stop: async () => undefined,
    request: async (method: string, _args: Record<string, unknown>, limits: ReplyLimits) => {
      asked.push(`${method}:${limits.maxReplies ?? '-'}`);
      return replies[method] ?? [];
    },
  };
}

const logger = pino({ level: 'silent' });

describe('WorkerInspection', () => {
  it('counts each worker once per queue it consumes, with its pool processes, and keeps --queues at 0', async () => {
    const s = source({
      active_queues: [{ 'a@h': [queue('alpha'), queue('beta')] }, { 'b@h': [queue('beta')] }, { 'solo@h': [queue('beta')] }],
      stats: [{ 'a@h': stats(2) }, { 'b@h': stats(3) }, { 'solo@h': { pool: { 'max-concurrency': 1 } } }],
    });
    const found: string[] = [];
    const inspection = new WorkerInspection(s, 'b', { interval: 60, timeout: 1, initialQueues: ['idle'], onQueue: (q) => found.push(q) }, logger);
    await inspection.run();
    expect(Object.fromEntries(inspection.perQueue())).toEqual({
      idle: { workers: 0, processes: 0 },
      alpha: { workers: 1, processes: 2 },
      beta: { workers: 3, processes: 5 },
    });
    expect(found).toEqual(['alpha', 'beta']);
    // stats waits for as many replies as active_queues got, no more.
    expect(s.asked).toEqual(['active_queues:-', 'stats:3']);
  });

  it('keeps a queue seen once at 0 when its workers are gone, and counts only --only-worker matches', async () => {
    const replies: Record<string, unknown[]> = { active_queues: [{ 'a@h': [queue('alpha')] }, { 'b@h': [queue('alpha')] }], stats: [{ 'a@h': stats(2) }, { 'b@h': stats(4) }] };
    const inspection = new WorkerInspection(source(replies), 'b', { interval: 60, timeout: 1, initialQueues: [], counts: (h) => h === 'b@h' }, logger);
    await inspection.run();
    expect(Object.fromEntries(inspection.perQueue())).toEqual({ alpha: { workers: 1, processes: 4 } });
    replies['active_queues'] = [];
    await inspection.run();
    expect(Object.fromEntries(inspection.perQueue())).toEqual({ alpha: { workers: 0, processes: 0 } });
  });

  it('keeps the last figures when the broker cannot be asked', async () => {
    const s = source({ active_queues: [{ 'a@h': [queue('alpha')] }], stats: [{ 'a@h': stats(2) }] });
    const inspection = new WorkerInspection(s, 'b', { interval: 60, timeout: 1, initialQueues: [] }, logger);
    await inspection.run();
    s.request = async () => {
      throw new Error('connection closed');
    };
    await inspection.run();
    expect(Object.fromEntries(inspection.perQueue())).toEqual({ alpha: { workers: 1, processes: 2 } });
  });
});
