import { describe, expect, it } from 'vitest';
import { compileHostnamePatterns } from '../../src/filter/hostname-pattern.js';
import { WorkerFilter } from '../../src/filter/worker-filter.js';
import type { CeleryEvent, TaskEvent, TaskEventType, WorkerEvent } from '../../src/protocol/events.js';

function task(type: TaskEventType, uuid: string, hostname: string, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    kind: 'task', type, uuid, hostname, timestamp: 1000, clock: undefined, name: type === 'task-sent' || type === 'task-received' ? 'app.add' : undefined,
    queue: type === 'task-sent' ? 'q1' : undefined, retries: undefined, rootId: undefined, parentId: undefined, eta: undefined, exception: undefined,
    traceback: undefined, runtime: undefined, args: undefined, kwargs: undefined, terminated: undefined, expired: undefined, requeue: undefined, ...extra,
  };
}

function worker(type: WorkerEvent['type'], hostname: string): WorkerEvent {
  return { kind: 'worker', type, hostname, timestamp: 1000, freq: 2, active: 0, processed: 0, loadavg: undefined, swVer: undefined };
}

/** A filter for `patterns` and the events it let through, as "type uuid/hostname". */
function setup(patterns: string[], options: { maxHeldSent?: number; heldSentTtl?: number } = {}): { filter: WorkerFilter; out: string[]; events: CeleryEvent[] } {
  const out: string[] = [];
  const events: CeleryEvent[] = [];
  const filter = new WorkerFilter({ patterns, maxHeldSent: options.maxHeldSent ?? 100, heldSentTtl: options.heldSentTtl ?? 3600 }, (e) => {
    events.push(e);
    out.push(e.kind === 'task' ? `${e.type} ${e.uuid}` : `${e.type} ${e.hostname}`);
  });
  return { filter, out, events };
}

describe('hostname patterns', () => {
  it('matches exact node names and globs over the whole name, case-sensitively', () => {
    const m = compileHostnamePatterns(['celery@pod-1', 'w?@host.*']);
    expect(['celery@pod-1', 'w1@host.example', 'w2@host.', 'celery@pod-10', 'Celery@pod-1', 'w12@host.a', 'xw1@host.a', 'w1@hostXa'].map(m)).toEqual([
      true, true, true, false, false, false, false, false,
    ]);
    expect(compileHostnamePatterns(['celery@*'])('celery@anything@else')).toBe(true);
    expect(compileHostnamePatterns(['a+b(c)[d]$'])('a+b(c)[d]$')).toBe(true);
  });
});

describe('WorkerFilter', () => {
  it('passes worker events and task events of the selected worker only', () => {
    const { filter, out } = setup(['w1@*']);
    filter.apply(worker('worker-online', 'w1@a'), 1);
    filter.apply(worker('worker-heartbeat', 'w2@a'), 1);
    filter.apply(task('task-received', 't1', 'w1@a'), 1);
    filter.apply(task('task-started', 't1', 'w1@a'), 1);
    filter.apply(task('task-received', 't2', 'w2@a'), 1);
    filter.apply(task('task-succeeded', 't2', 'w2@a'), 1);
    expect(out).toEqual(['worker-online w1@a', 'task-received t1', 'task-started t1']);
    expect(filter.otherWorker).toBe(3);
    expect(filter.sentNotTaken).toBe(0);
  });

  it('holds task-sent until the selected worker takes the task, and passes it just before', () => {
    const { filter, out, events } = setup(['w1@a']);
    filter.apply(task('task-sent', 't1', 'gen1@client', { args: '(1, 2)', kwargs: '{}' }), 1);
    filter.apply(task('task-sent', 't2', 'gen1@client'), 1);
    expect(out).toEqual([]);
    expect(filter.heldSentCount).toBe(2);
    filter.apply(task('task-received', 't1', 'w1@a'), 2);
    filter.apply(task('task-received', 't2', 'w2@a'), 2);
    expect(out).toEqual(['task-sent t1', 'task-received t1']);
    // The held copy keeps what labels and times need, not the arguments.
    expect(events[0]).toMatchObject({ type: 'task-sent', name: 'app.add', queue: 'q1', hostname: 'gen1@client', args: undefined, kwargs: undefined });
    expect(filter.heldSentCount).toBe(1);
  });

  it('passes a task-sent that arrives after its task-received when the selected worker took it', () => {
    const { filter, out } = setup(['w1@a']);
    filter.apply(task('task-received', 't1', 'w1@a'), 1);
    filter.apply(task('task-sent', 't1', 'gen1@client'), 1.2);
    filter.apply(task('task-received', 't2', 'w2@a'), 1);
    filter.apply(task('task-sent', 't2', 'gen1@client'), 1.2);
    expect(out).toEqual(['task-received t1', 'task-sent t1']);
    expect(filter.heldSentCount).toBe(1);
  });

  it('counts each task-sent of a retried task on the worker that took that message, never twice', () => {
    // t1 runs on w1, retries, and the retry runs on w2: two filters, one per worker, see the same stream.
    const a = setup(['w1@a']);
    const b = setup(['w2@a']);
    const stream = [
      task('task-sent', 't1', 'gen1@client'),
      task('task-received', 't1', 'w1@a'),
      task('task-started', 't1', 'w1@a'),
      task('task-sent', 't1', 'gen7@a', { timestamp: 1001, retries: 1 }),
      task('task-retried', 't1', 'w1@a'),
      task('task-received', 't1', 'w2@a', { timestamp: 1002 }),
      task('task-started', 't1', 'w2@a', { timestamp: 1002 }),
      task('task-succeeded', 't1', 'w2@a', { timestamp: 1003 }),
    ];
    for (const e of stream) {
      a.filter.apply(e, 1);
      b.filter.apply(e, 1);
    }
    expect(a.out).toEqual(['task-sent t1', 'task-received t1', 'task-started t1', 'task-retried t1']);
    expect(b.out).toEqual(['task-sent t1', 'task-received t1', 'task-started t1', 'task-succeeded t1']);
    expect((b.events[0] as TaskEvent).retries).toBe(1);
    // w1's filter still holds the retry's task-sent, until its time is up: w1 never took it.
    expect([a.filter.heldSentCount, b.filter.heldSentCount]).toEqual([1, 0]);
  });

  it("gives a retry taken before its task-sent arrived that retry's task-sent, not the previous attempt's", () => {
    // Celery publishes a task message before its task-sent event, so w2 can announce the retry
    // first (seen on RabbitMQ). w2's filter still holds the first attempt's task-sent, which w1
    // took: passing that one on would count the client's task-sent twice and the retry's never.
    const a = setup(['w1@a']);
    const b = setup(['w2@a']);
    const stream = [
      task('task-sent', 't1', 'gen1@client', { retries: 0 }),
      task('task-received', 't1', 'w1@a', { retries: 0 }),
      task('task-retried', 't1', 'w1@a'),
      task('task-received', 't1', 'w2@a', { timestamp: 1002, retries: 1 }),
      task('task-sent', 't1', 'gen7@a', { timestamp: 1001, retries: 1 }),
      task('task-succeeded', 't1', 'w2@a', { timestamp: 1003 }),
    ];
    for (const e of stream) {
      a.filter.apply(e, 1);
      b.filter.apply(e, 1);
    }
    expect(a.events.filter((e) => e.type === 'task-sent').map((e) => e.hostname)).toEqual(['gen1@client']);
    expect(b.events.filter((e) => e.type === 'task-sent').map((e) => e.hostname)).toEqual(['gen7@a']);
    expect(b.out).toEqual(['task-received t1', 'task-sent t1', 'task-succeeded t1']);
    expect([a.filter.heldSentCount, b.filter.heldSentCount]).toEqual([1, 0]);
  });

  it("drops a previous attempt's task-sent that arrives after a later attempt was taken", () => {
    const b = setup(['w2@a']);
    for (const e of [
      task('task-received', 't1', 'w2@a', { timestamp: 1002, retries: 1 }),
      task('task-sent', 't1', 'gen1@client', { retries: 0 }),
      task('task-sent', 't1', 'gen7@a', { timestamp: 1001, retries: 1 }),
    ]) b.filter.apply(e, 1);
    expect(b.events.filter((e) => e.type === 'task-sent').map((e) => e.hostname)).toEqual(['gen7@a']);
    expect([b.filter.heldSentCount, b.filter.sentNotTaken]).toEqual([0, 0]);
  });

  it('releases the task-sent of a task the worker revoked on arrival, so it keeps its name', () => {
    const { filter, out } = setup(['w1@a']);
    filter.apply(task('task-sent', 't1', 'gen1@client'), 1);
    filter.apply(task('task-revoked', 't1', 'w1@a', { expired: true }), 1);
    expect(out).toEqual(['task-sent t1', 'task-revoked t1']);
  });

  it('forgets held task-sent events after their time, and the oldest beyond the limit', () => {
    const { filter, out } = setup(['w1@a'], { maxHeldSent: 2, heldSentTtl: 10 });
    filter.apply(task('task-sent', 't1', 'gen1@c'), 100);
    filter.apply(task('task-sent', 't2', 'gen1@c'), 101);
    filter.apply(task('task-sent', 't3', 'gen1@c'), 102);
    expect(filter.heldSentCount).toBe(2);
    filter.apply(task('task-received', 't1', 'w1@a'), 103);
    expect(out).toEqual(['task-received t1']);
    // t1 went beyond the limit of two.
    expect(filter.sentNotTaken).toBe(1);
    filter.tick(111.5);
    expect(filter.heldSentCount).toBe(1);
    filter.tick(112);
    expect(filter.heldSentCount).toBe(0);
    expect(filter.sentNotTaken).toBe(3);
    filter.apply(task('task-received', 't3', 'w1@a'), 113);
    expect(out).toEqual(['task-received t1', 'task-received t3']);
  });

  it('forgets a claim whose task-sent never came', () => {
    const { filter, out } = setup(['w1@a']);
    filter.apply(task('task-received', 't1', 'w1@a'), 100);
    filter.tick(100 + 61);
    filter.apply(task('task-sent', 't1', 'gen1@c'), 161);
    expect(out).toEqual(['task-received t1']);
    expect(filter.heldSentCount).toBe(1);
  });
});
