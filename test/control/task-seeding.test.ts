// TaskSeeding reads `active`, `reserved` and `scheduled` replies into the state (a fake source here;
// test/integration/task-seeding.test.ts asks real workers on both brokers).
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { EventSource, ReplyLimits } from '../../src/brokers/source.js';
import { TaskSeeding } from '../../src/control/task-seeding.js';
import type { SeedTarget } from '../../src/control/task-seeding.js';
import type { SeedTask } from '../../src/state/seeding.js';

const info = (id: string, name: string, extra: Record<string, unknown> = {}) => ({
  id, name, args: ['secret'], kwargs: { password: 'x' }, type: name, hostname: 'a@h', time_start: null, acknowledged: false,
  delivery_info: { exchange: '', routing_key: 'work', priority: 0, redelivered: false }, worker_pid: null, ...extra,
});

function source(replies: Record<string, unknown[]>): EventSource & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    connected: true,
    reconnects: 0,
    start: () => undefined,
    stop: async () => undefined,
    request: async (method: string, args: Record<string, unknown>, limits: ReplyLimits) => {
      asked.push(`${method}:${JSON.stringify(args)}:${limits.maxReplies ?? '-'}`);
      return replies[method] ?? [];
    },
  };
}

function target(): SeedTarget & { seeds: SeedTask[]; holds: number[] } {
  const seeds: SeedTask[] = [];
  const holds: number[] = [];
  return { seeds, holds, seed: (t) => (seeds.push(t), 'seeded'), holdUnnamed: (until) => holds.push(until) };
}

const logger = pino({ level: 'silent' });

describe('TaskSeeding', () => {
  it('seeds active as started, reserved as received, scheduled with their ETA; never arguments', async () => {
    const s = source({
      active: [{ 'a@h': [info('t1', 'app.slow', { time_start: 1000.5, acknowledged: true, worker_pid: 42 })] }, { 'b@h': [] }],
      // t1 started between the two requests: seen reserved, then active.
      reserved: [{ 'a@h': [info('t2', 'app.slow'), info('t1', 'app.slow')] }, { 'b@h': [] }],
      scheduled: [{ 'a@h': [] }, { 'b@h': [{ eta: '2026-12-08T00:00:10+00:00', priority: 6, request: info('t3', 'app.later', { delivery_info: { routing_key: '' } }) }] }],
    });
    const t = target();
    const seeding = new TaskSeeding(s, 'b', t, { timeout: 1 }, logger, () => 500);
    await seeding.run();
    expect(t.seeds).toEqual([
      { id: 't1', name: 'app.slow', queue: 'work', worker: 'a@h', state: 'STARTED', startedAt: 1000.5, eta: undefined },
      { id: 't2', name: 'app.slow', queue: 'work', worker: 'a@h', state: 'RECEIVED', startedAt: undefined, eta: undefined },
      { id: 't3', name: 'app.later', queue: undefined, worker: 'b@h', state: 'RECEIVED', startedAt: undefined, eta: Date.parse('2026-12-08T00:00:10Z') / 1000 },
    ]);
    // Asked in the order tasks move (scheduled, reserved, active); the later two wait for as many
    // workers as answered the first. Unnamed tasks are held meanwhile.
    expect(s.asked).toEqual(['scheduled:{}:-', 'reserved:{}:2', 'active:{"safe":true}:2']);
    expect(t.holds).toEqual([507, 0]);
  });

  it('reads the replies\' names, queues and ids as events are read: label-safe, without a delay prefix, bounded', async () => {
    const delayed = `${'0.'.repeat(27)}1.celery`;
    const s = source({
      scheduled: [{ 'a@h': [] }],
      reserved: [{ 'a@h': [info('t1', 'unknown', { delivery_info: { routing_key: delayed } }), info('x'.repeat(300), 'app.long'), info('t2', 'bad\nname')] }],
    });
    const t = target();
    await new TaskSeeding(s, 'b', t, { timeout: 1 }, logger).run();
    expect(t.seeds.map((x) => [x.id, x.name, x.queue])).toEqual([
      ['t1', 'wire:unknown', 'celery'],
      ['t2', 'bad\ufffdname', 'work'],
    ]);
  });

  it('seeds only --only-worker matches, and asks nothing more when no worker answers', async () => {
    const s = source({ scheduled: [{ 'a@h': [] }, { 'b@h': [] }], active: [{ 'a@h': [info('t1', 'app.slow')] }, { 'b@h': [info('t2', 'app.slow')] }] });
    const t = target();
    await new TaskSeeding(s, 'b', t, { timeout: 1, counts: (h) => h === 'b@h' }, logger).run();
    expect(t.seeds.map((x) => x.id)).toEqual(['t2']);
    const none = source({});
    await new TaskSeeding(none, 'b', target(), { timeout: 1 }, logger).run();
    expect(none.asked).toEqual(['scheduled:{}:-']);
  });

  it('ends the hold and logs once when the broker cannot be asked', async () => {
    const t = target();
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const failing: EventSource = { ...source({}), request: async () => Promise.reject(new Error('NOPERM')) };
    const seeding = new TaskSeeding(failing, 'b', t, { timeout: 1 }, log, () => 10);
    await seeding.run();
    await seeding.run();
    expect(t.holds).toEqual([17, 0, 17, 0]);
    expect(lines.length).toBe(1);
    expect(lines[0]).toContain('could not ask the workers which tasks they hold');
  });

  it('asks again after a run when the source reconnected during it, and not at all once stopped', async () => {
    let release: () => void = () => undefined;
    const asked: string[] = [];
    const slow: EventSource = {
      ...source({}),
      request: async (method: string) => {
        asked.push(method);
        if (asked.length === 1) await new Promise<void>((resolve) => (release = resolve));
        return [];
      },
    };
    const seeding = new TaskSeeding(slow, 'b', target(), { timeout: 1 }, logger);
    const first = seeding.run();
    seeding.connected();
    release();
    await first;
    expect(asked).toEqual(['scheduled', 'scheduled']);
    seeding.stop();
    seeding.connected();
    // Give a run that would start anyway its turn of the event loop before looking.
    await new Promise((resolve) => setImmediate(resolve));
    expect(asked).toEqual(['scheduled', 'scheduled']);
  });
});
