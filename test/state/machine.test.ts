import { describe, expect, it } from 'vitest';
import { AttemptDescriptor } from '../../src/state/attempts.js';
import { CeleryState, UNKNOWN_TASK_NAME } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import type { TaskObserver } from '../../src/state/observer.js';
import type { TaskRecord } from '../../src/state/task-table.js';
import { taskEvent as task } from '../fixtures/events.js';

type Call = { what: string; name: string | undefined; queue: string | undefined; extra?: unknown };

function recorder(): { observer: TaskObserver; calls: Call[] } {
  const calls: Call[] = [];
  // The attempt descriptor is left out here: attempts.test.ts is about it.
  const rec = (what: string) => (t: TaskRecord, _e: unknown, ...rest: unknown[]) => {
    const [extra, extra2] = rest.filter((a) => !(a instanceof AttemptDescriptor));
    calls.push({ what, name: t.name, queue: t.queue, ...(extra2 !== undefined ? { extra: [extra, extra2] } : extra !== undefined ? { extra } : {}) });
  };
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

const OPTIONS: CeleryStateOptions = {
  maxTasks: 1000,
  unfinishedTtl: 3600,
  finishedTtl: 600,
  pendingGrace: 5,
  heartbeatTimeoutFactor: 2,
  forgetAfter: 3600,
};


describe('CeleryState', () => {
  it('labels uuid-only events with the name and queue seen earlier', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-sent', 'a', 100, { name: 'app.add', queue: 'math', hostname: 'gen1@vm' }), 100);
    s.apply(task('task-received', 'a', 101, { name: 'app.add' }), 101);
    s.apply(task('task-started', 'a', 102), 102);
    s.apply(task('task-succeeded', 'a', 103, { runtime: 0.9 }), 103);
    expect(calls).toEqual([
      { what: 'sent', name: 'app.add', queue: 'math' },
      { what: 'received', name: 'app.add', queue: 'math' },
      { what: 'started', name: 'app.add', queue: 'math', extra: 2 },
      { what: 'succeeded', name: 'app.add', queue: 'math', extra: 0.9 },
    ]);
    expect(s.tasks.get('a')?.state).toBe('SUCCESS');
  });

  it("lets a final event end an unfinished task whatever its timestamp, as Celery's precedence does", () => {
    const { observer } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'a', 100, { name: 'app.add' }), 100);
    s.apply(task('task-started', 'a', 101), 101);
    // The worker's clock stepped back half a second.
    s.apply(task('task-succeeded', 'a', 100.5, { runtime: 0.2 }), 101);
    expect(s.tasks.get('a')?.state).toBe('SUCCESS');
    s.apply(task('task-received', 'b', 100, { name: 'app.add' }), 100);
    s.apply(task('task-started', 'b', 101), 101);
    s.apply(task('task-failed', 'b', 0, { exception: "ValueError('x')" }), 101);
    expect(s.tasks.get('b')?.state).toBe('FAILURE');
    // An earlier-stamped unfinished event still does not move a task back, final or not.
    s.apply(task('task-received', 'b', 100.5, { name: 'app.add' }), 102);
    expect(s.tasks.get('b')?.state).toBe('FAILURE');
    s.apply(task('task-received', 'c', 100, { name: 'app.add' }), 100);
    s.apply(task('task-started', 'c', 101), 101);
    s.apply(task('task-received', 'c', 99, { name: 'app.add', retries: 1 }), 101);
    expect(s.tasks.get('c')?.state).toBe('STARTED');
  });

  it('drops an event delivered twice', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    const received = task('task-received', 'a', 101, { name: 'app.add' });
    s.apply(received, 101);
    s.apply(received, 101);
    s.apply(task('task-started', 'a', 102), 102);
    s.apply(task('task-started', 'a', 102), 102);
    expect(calls.map((c) => c.what)).toEqual(['received', 'started']);
    expect(s.duplicates).toBe(2);
  });

  it('holds events that arrive before the task is named, then labels them correctly', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-succeeded', 'a', 103, { runtime: 0.5 }), 103);
    s.apply(task('task-started', 'a', 102), 103);
    expect(calls).toEqual([]);
    expect(s.pendingTasks).toBe(1);
    s.apply(task('task-received', 'a', 101, { name: 'app.add' }), 103.5);
    expect(calls.map((c) => [c.what, c.name])).toEqual([
      ['received', 'app.add'],
      ['started', 'app.add'],
      ['succeeded', 'app.add'],
    ]);
    // The late task-received does not move the finished task back.
    expect(s.tasks.get('a')?.state).toBe('SUCCESS');
    expect(s.pendingTasks).toBe(0);
  });

  it('counts events of a task never named under "unknown" once the grace has passed', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-failed', 'x', 50, { exception: "OSError('disk')" }), 50);
    s.tick(54);
    expect(calls).toEqual([]);
    s.tick(55);
    expect(calls).toEqual([{ what: 'failed', name: UNKNOWN_TASK_NAME, queue: undefined, extra: 'OSError' }]);
  });

  it('measures queue wait from task-sent, from the ETA when there is one, and per attempt on retries', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-sent', 'a', 100, { name: 't', eta: 110 }), 100);
    s.apply(task('task-received', 'a', 100.5, { name: 't', eta: 110 }), 100.5);
    s.apply(task('task-started', 'a', 111), 111);
    // The retry's task-sent is published before its task-retried (PROTOCOL.md §3).
    s.apply(task('task-sent', 'a', 112, { name: 't', retries: 1, eta: 113 }), 112);
    s.apply(task('task-retried', 'a', 112.5, { exception: "ConnectionError('x')" }), 112.5);
    s.apply(task('task-received', 'a', 112.6, { name: 't', retries: 1, eta: 113 }), 112.6);
    s.apply(task('task-started', 'a', 113.5), 113.5);
    s.apply(task('task-failed', 'a', 114.5, { exception: "ValueError('y')" }), 114.5);
    const starts = calls.filter((c) => c.what === 'started').map((c) => c.extra);
    expect(starts).toEqual([1, 0.5]);
    expect(calls.find((c) => c.what === 'retried')?.extra).toEqual(['ConnectionError', 1.5]);
    expect(calls.find((c) => c.what === 'failed')?.extra).toEqual(['ValueError', 1]);
    expect(s.tasks.get('a')?.attempts).toBe(2);
    expect(s.tasks.get('a')?.retries).toBe(1);
  });

  it('finds each attempt\'s queue time by its retries when the prefork pool stamps task-started late', () => {
    // The pool reports attempt 1 accepted after its retry (retries=1) was already sent and received.
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-sent', 'a', 100, { name: 't', retries: 0 }), 100);
    s.apply(task('task-received', 'a', 100.1, { name: 't', retries: 0 }), 100.1);
    s.apply(task('task-sent', 'a', 100.3, { name: 't', retries: 1, eta: 100.5 }), 100.3);
    s.apply(task('task-received', 'a', 100.35, { name: 't', retries: 1, eta: 100.5 }), 100.35);
    s.apply(task('task-started', 'a', 100.4), 100.4);
    s.apply(task('task-retried', 'a', 100.45, { exception: "ConnectionError('x')" }), 100.45);
    s.apply(task('task-started', 'a', 100.625), 100.625);
    const waits = calls.filter((c) => c.what === 'started').map((c) => c.extra as number);
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeCloseTo(0.4, 9);
    expect(waits[1]).toBeCloseTo(0.125, 9);
  });

  it('falls back to task-received when there are no sent events', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'a', 100, { name: 't' }), 100);
    s.apply(task('task-started', 'a', 100.25), 100.25);
    expect(calls[1]?.extra).toBe(0.25);
  });

  it('keeps a requeued rejection unfinished and a plain one final', () => {
    const { observer } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'a', 1, { name: 't' }), 1);
    s.apply(task('task-rejected', 'a', 2, { requeue: true }), 2);
    expect(s.tasks.get('a')?.state).toBe('PENDING');
    s.apply(task('task-received', 'b', 1, { name: 't' }), 1);
    s.apply(task('task-rejected', 'b', 2, { requeue: false }), 2);
    expect(s.tasks.get('b')?.state).toBe('REJECTED');
  });

  // Celery 5.7 (celery#10369) sends task-failed carrying the Reject before task-rejected.
  it('passes on both events of a Celery 5.7 Reject(requeue=False) and ends the task rejected, as 5.6 does', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'b', 1, { name: 't' }), 1);
    s.apply(task('task-started', 'b', 1.5), 1.5);
    s.apply(task('task-failed', 'b', 2, { exception: "Reject('rejected on purpose', False)" }), 2);
    expect(s.tasks.get('b')?.state).toBe('REJECTED');
    s.apply(task('task-rejected', 'b', 2.01, { requeue: false }), 2.01);
    expect(s.tasks.get('b')?.state).toBe('REJECTED');
    expect(calls.map((c) => c.what)).toEqual(['received', 'started', 'failed', 'rejected']);
    expect(calls[2]?.extra).toEqual(['Reject', 0.5]);
  });

  it('ends a task that hit its hard time limit failed with TimeLimitExceeded', () => {
    const { observer, calls } = recorder();
    const s = new CeleryState(observer, OPTIONS);
    s.apply(task('task-received', 'c', 1, { name: 't' }), 1);
    s.apply(task('task-started', 'c', 1.5), 1.5);
    // As Celery 5.6.3's prefork pool sends it: billiard's empty wrapper, the class in the traceback.
    const traceback = 'Traceback (most recent call last):\n    raise TimeLimitExceeded(job._timeout)\nbilliard.exceptions.TimeLimitExceeded: TimeLimitExceeded(1,)\n';
    s.apply(task('task-failed', 'c', 2.5, { exception: 'ExceptionWithTraceback()', traceback }), 2.5);
    expect(s.tasks.get('c')?.state).toBe('FAILURE');
    expect(calls[2]).toEqual({ what: 'failed', name: 't', queue: undefined, extra: ['TimeLimitExceeded', 1] });
  });
});
