// The seeding rules: what a worker reports holding names tasks in flight, never outranks an event,
// never counts one, and never grows the table past --max-tracked-tasks.
import { describe, expect, it } from 'vitest';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import type { TaskObserver } from '../../src/state/observer.js';
import type { SeedTask } from '../../src/state/seeding.js';
import type { TaskRecord } from '../../src/state/task-table.js';
import { taskEvent as task } from '../fixtures/events.js';

type Call = { what: string; name: string | undefined; queue: string | undefined; extra?: unknown };

function recorder(): { observer: TaskObserver; calls: Call[] } {
  const calls: Call[] = [];
  const rec = (what: string) => (t: TaskRecord, _e: unknown, extra?: unknown) => calls.push({ what, name: t.name, queue: t.queue, ...(extra !== undefined ? { extra } : {}) });
  return {
    calls,
    observer: {
      taskSent: rec('sent'),
      taskReceived: rec('received'),
      taskStarted: rec('started'),
      taskSucceeded: rec('succeeded'),
      taskFailed: rec('failed'),
      taskRetried: rec('retried'),
      taskRejected: rec('rejected'),
      taskRevoked: rec('revoked'),
      taskCancelled: rec('cancelled'),
      taskLost: (t, reason) => calls.push({ what: 'lost', name: t.name, queue: t.queue, extra: reason }),
      taskForgotten: () => undefined,
    },
  };
}

const OPTIONS: CeleryStateOptions = { maxTasks: 1000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 };

const active = (id: string, startedAt?: number): SeedTask => ({ id, name: 'app.slow', queue: 'work', worker: 'w1@vm', state: 'STARTED', startedAt });
const reserved = (id: string, eta?: number): SeedTask => ({ id, name: 'app.slow', queue: 'work', worker: 'w1@vm', state: 'RECEIVED', eta });

describe('CeleryState.seed', () => {
  it('names a running task, counts nothing, and its outcome is counted under that name with its runtime', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    expect(s.seed(active('a', 94), 100)).toBe('seeded');
    expect(calls).toEqual([]);
    const r = s.tasks.get('a')!;
    expect([r.state, r.name, r.queue, r.worker, r.startedAt, r.attempts]).toEqual(['STARTED', 'app.slow', 'work', 'w1@vm', 94, 1]);
    s.apply(task('task-succeeded', 'a', 100.5, { runtime: 6.5 }), 100.5);
    expect(calls).toEqual([{ what: 'succeeded', name: 'app.slow', queue: 'work', extra: 6.5 }]);
    expect(s.seeded).toBe(1);
    expect(s.unnamed).toBe(0);
  });

  it('a prefetched task seeded as received is started and finished under its name, not as a duplicate', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.seed(reserved('b'), 100);
    // A worker whose clock is behind the daemon's: its later events still move the seeded state.
    s.apply(task('task-started', 'b', 90), 101);
    s.apply(task('task-succeeded', 'b', 91, { runtime: 1 }), 102);
    expect(calls.map((c) => [c.what, c.name])).toEqual([['started', 'app.slow'], ['succeeded', 'app.slow']]);
    expect(s.tasks.get('b')?.duplicateOf).toBeUndefined();
    expect(s.tasks.get('b')?.state).toBe('SUCCESS');
  });

  it('an event before the seed wins: the seed only names the held events, which are then applied', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-started', 'c', 100), 100);
    s.apply(task('task-succeeded', 'c', 101, { runtime: 1 }), 101);
    expect(calls).toEqual([]);
    // The worker's answer was taken while the task still ran.
    expect(s.seed(active('c', 100), 102)).toBe('named');
    expect(calls).toEqual([
      { what: 'started', name: 'app.slow', queue: 'work' },
      { what: 'succeeded', name: 'app.slow', queue: 'work', extra: 1 },
    ]);
    const r = s.tasks.get('c')!;
    expect([r.state, r.attempts, r.duplicateOf]).toEqual(['SUCCESS', 1, undefined]);
    expect(s.seeded).toBe(0);
  });

  it('leaves a task known from events alone', () => {
    const { observer } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'd', 100, { name: 'app.real', queue: 'q1', hostname: 'w2@vm' }), 100);
    expect(s.seed({ ...active('d', 101), worker: 'w1@vm' }, 102)).toBe('known');
    const r = s.tasks.get('d')!;
    expect([r.state, r.name, r.queue, r.worker, r.attempts]).toEqual(['RECEIVED', 'app.real', 'q1', 'w2@vm', 0]);
  });

  it('a second start of a seeded running task with no retry between is a duplicate execution', () => {
    const { observer } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.seed(active('e', 95), 100);
    s.apply(task('task-started', 'e', 130, { hostname: 'w2@vm' }), 130);
    expect(s.tasks.get('e')?.duplicateOf).toBe('w1@vm');
  });

  it('a seeded task of a worker that dies is lost', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply({ kind: 'worker', type: 'worker-heartbeat', hostname: 'w1@vm', timestamp: 100, freq: 2, active: 1, processed: 0, loadavg: undefined, swVer: undefined }, 100);
    s.seed(active('f', 95), 100);
    s.tick(200);
    expect(calls).toEqual([{ what: 'lost', name: 'app.slow', queue: 'work', extra: 'worker-lost' }]);
  });

  it('keeps the ETA of a scheduled task', () => {
    const s = new CeleryState(recorder().observer, OPTIONS);
    s.seed(reserved('g', 500), 100);
    expect([s.tasks.get('g')?.state, s.tasks.get('g')?.eta]).toEqual(['RECEIVED', 500]);
  });

  it('never evicts a task to make room: at --max-tracked-tasks the rest is not seeded', () => {
    const s = new CeleryState(recorder().observer, { ...OPTIONS, maxTasks: 2 });
    s.apply(task('task-received', 'x', 100, { name: 'app.real' }), 100);
    expect(s.seed(active('h1', 99), 101)).toBe('seeded');
    expect(s.seed(active('h2', 99), 101)).toBe('full');
    expect(s.tasks.size).toBe(2);
    expect(s.tasks.get('x')?.name).toBe('app.real');
    expect(s.tasks.evictions.capacity).toBe(0);
  });

  it('counts a task as unnamed once when neither events nor workers named it; holds it while workers are asked', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-started', 'u', 100), 100);
    s.apply(task('task-succeeded', 'u', 101, { runtime: 1 }), 101);
    s.holdUnnamed(120);
    s.tick(110);
    expect(calls).toEqual([]);
    s.holdUnnamed(0);
    s.tick(111);
    expect(calls.map((c) => [c.what, c.name])).toEqual([['started', 'unknown'], ['succeeded', 'unknown']]);
    expect(s.unnamed).toBe(1);
  });
});
