import { describe, expect, it } from 'vitest';
import { combineObservers } from '../../src/state/fan-out.js';
import type { Attempt } from '../../src/state/attempts.js';
import type { TaskObserver } from '../../src/state/observer.js';
import { TaskRecord } from '../../src/state/task-record.js';
import { taskEvent } from '../fixtures/events.js';

const METHODS = ['taskSent', 'taskReceived', 'taskStarted', 'taskSucceeded', 'taskFailed', 'taskRetried', 'taskRejected', 'taskRevoked', 'taskCancelled', 'taskLost', 'taskForgotten'] as const;

const ATTEMPT: Attempt = { retries: 2, delivery: 1, startedAt: 5, inferredStart: false, receivedAt: 4, ranSince: undefined, ended: false };

const show = (a: unknown): string => {
  if (a === ATTEMPT) return 'attempt';
  return typeof a === 'object' && a !== null ? 'event' : String(a);
};

/** An observer that writes `<id>:<method>:<args after the record>` for every call. */
function recorder(id: number, calls: string[]): TaskObserver {
  const o: Record<string, (...args: unknown[]) => void> = {};
  for (const m of METHODS) o[m] = (_task, ...rest) => calls.push(`${id}:${m}:${rest.map(show).join(',')}`);
  return o as unknown as TaskObserver;
}

function callEveryMethod(o: TaskObserver): void {
  const t = new TaskRecord('u1', 0);
  const e = taskEvent('task-failed', 'u1', 1);
  o.taskSent(t, e);
  o.taskReceived(t, e);
  o.taskStarted(t, e, 1.5, ATTEMPT);
  o.taskSucceeded(t, e, 2, ATTEMPT);
  o.taskFailed(t, e, 'KeyError', undefined, ATTEMPT);
  o.taskRetried(t, e, 'ValueError', 3, ATTEMPT);
  o.taskRejected(t, e, ATTEMPT);
  o.taskRevoked(t, e, ATTEMPT);
  o.taskCancelled(t, e, ATTEMPT);
  o.taskLost(t, 'evicted', 42, ATTEMPT);
  o.taskForgotten(t);
}

describe('combineObservers', () => {
  for (const count of [0, 1, 2, 3, 4, 5, 7]) {
    it(`hands every transition to each of ${count} observers, in order, with its arguments`, () => {
      const calls: string[] = [];
      callEveryMethod(combineObservers(Array.from({ length: count }, (_, i) => recorder(i, calls))));
      const expected = [
        'event',
        'event',
        'event,1.5,attempt',
        'event,2,attempt',
        'event,KeyError,undefined,attempt',
        'event,ValueError,3,attempt',
        'event,attempt',
        'event,attempt',
        'event,attempt',
        'evicted,42,attempt',
        '',
      ].flatMap((args, m) =>
        Array.from({ length: count }, (_, i) => `${i}:${METHODS[m]}:${args}`),
      );
      expect(calls).toEqual(expected);
    });
  }
});
