// Property-based tests of the state machine on real event sequences (the captured Celery run in
// test/fixtures/celery-wire, decoded by our decoder): Celery promises no delivery order and
// brokers redeliver, so any reordering gives the same final counts and a duplicate counts once.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventDecoder } from '../../src/protocol/decoder.js';
import type { CeleryEvent, TaskEvent } from '../../src/protocol/events.js';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import type { TaskObserver } from '../../src/state/observer.js';
import type { TaskRecord } from '../../src/state/task-table.js';
import { redisEventFrames } from '../fixtures/frames.js';

const OPTIONS: CeleryStateOptions = { maxTasks: 100_000, unfinishedTtl: 86_400, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 3, forgetAfter: 3600 };

/** Counts observer calls by outcome, task name, hostname and exception: what the counters export. */
function countingObserver(): { observer: TaskObserver; counts: Map<string, number> } {
  const counts = new Map<string, number>();
  const add = (what: string, t: TaskRecord, e: TaskEvent, exception = ''): void => {
    const key = `${what}|${t.name ?? 'unknown'}|${e.hostname}|${exception}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  };
  return {
    counts,
    observer: {
      taskSent: (t, e) => add('sent', t, e),
      taskReceived: (t, e) => add('received', t, e),
      taskStarted: (t, e) => add('started', t, e),
      taskSucceeded: (t, e) => add('succeeded', t, e),
      taskFailed: (t, e, x) => add('failed', t, e, x),
      taskRetried: (t, e, x) => add('retried', t, e, x),
      taskRejected: (t, e) => add('rejected', t, e),
      taskRevoked: (t, e) => add('revoked', t, e),
      taskCancelled: (t, e) => add('cancelled', t, e),
      taskLost: () => undefined,
      taskForgotten: () => undefined,
    },
  };
}

function realEvents(): CeleryEvent[] {
  const events: CeleryEvent[] = [];
  const decoder = new EventDecoder({ onEvent: (e) => events.push(e), onError: (r) => { throw new Error(`fixture frame rejected: ${r}`); } }, { maxFrameBytes: 1 << 22 });
  for (const f of redisEventFrames()) decoder.decodeKombuEnvelope(f.data);
  return events;
}

/** Applies the events all at one local time, then lets the grace for unnamed tasks run out. */
function run(events: readonly CeleryEvent[]): { counts: Map<string, number>; state: CeleryState } {
  const { observer, counts } = countingObserver();
  const state = new CeleryState(observer, OPTIONS);
  const now = 2_000_000_000;
  for (const e of events) state.apply(e, now);
  state.tick(now + OPTIONS.pendingGrace + 1);
  return { counts, state };
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort(([a], [b]) => a.localeCompare(b));

describe('CeleryState properties on the captured event stream', () => {
  const events = realEvents();
  const taskEvents = events.filter((e) => e.kind === 'task').length;
  const reference = run(events);

  it('uses a real, non-trivial sequence', () => {
    expect(taskEvents).toBeGreaterThan(100);
    // Every task event became exactly one transition.
    expect([...reference.counts.values()].reduce((a, b) => a + b, 0)).toBe(taskEvents);
    expect(reference.state.duplicates).toBe(0);
  });

  it('gives the same final counts for any permutation of the complete sequence', () => {
    fc.assert(
      fc.property(fc.shuffledSubarray(events, { minLength: events.length, maxLength: events.length }), (shuffled) => {
        const { counts, state } = run(shuffled);
        expect(sorted(counts)).toEqual(sorted(reference.counts));
        expect(state.duplicates).toBe(0);
        expect(state.pendingTasks).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('counts a duplicated event once, wherever the copy lands, and counts the duplicates', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: events.length - 1 }), fc.nat({ max: events.length })), { minLength: 1, maxLength: 40 }),
        fc.boolean(),
        (copies, shuffle) => {
          let sequence = [...events];
          if (shuffle) sequence = sequence.reverse();
          let taskCopies = 0;
          for (const [from, to] of copies) {
            const e = events[from]!;
            if (e.kind === 'task') taskCopies++;
            sequence.splice(to, 0, e);
          }
          const { counts, state } = run(sequence);
          expect(sorted(counts)).toEqual(sorted(reference.counts));
          expect(state.duplicates).toBe(taskCopies);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('never throws and stays within its memory bounds on arbitrary event streams', () => {
    const uuids = ['u1', 'u2', 'u3', 'u4', 'u5'];
    const taskEvent: fc.Arbitrary<CeleryEvent> = fc.record({
      kind: fc.constant('task' as const),
      type: fc.constantFrom('task-sent', 'task-received', 'task-started', 'task-succeeded', 'task-failed', 'task-retried', 'task-rejected', 'task-revoked', 'task-cancelled'),
      uuid: fc.constantFrom(...uuids),
      hostname: fc.constantFrom('w1@h', 'w2@h', 'gen1@h'),
      timestamp: fc.integer({ min: 0, max: 50 }),
      clock: fc.constant(undefined),
      name: fc.option(fc.constantFrom('a', 'b'), { nil: undefined }),
      queue: fc.option(fc.constantFrom('q1', 'q2'), { nil: undefined }),
      retries: fc.option(fc.nat(5), { nil: undefined }),
      rootId: fc.constant(undefined),
      parentId: fc.constant(undefined),
      eta: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
      exception: fc.option(fc.constantFrom("ValueError('x')", 'garbage', ''), { nil: undefined }),
      traceback: fc.constant(undefined),
      runtime: fc.option(fc.double({ min: 0, max: 10, noNaN: true }), { nil: undefined }),
      args: fc.constant(undefined),
      kwargs: fc.constant(undefined),
      terminated: fc.option(fc.boolean(), { nil: undefined }),
      expired: fc.option(fc.boolean(), { nil: undefined }),
      requeue: fc.option(fc.boolean(), { nil: undefined }),
    });
    const workerEvent: fc.Arbitrary<CeleryEvent> = fc.record({
      kind: fc.constant('worker' as const),
      type: fc.constantFrom('worker-online', 'worker-heartbeat', 'worker-offline'),
      hostname: fc.constantFrom('w1@h', 'w2@h'),
      timestamp: fc.integer({ min: 0, max: 50 }),
      freq: fc.option(fc.constantFrom(0.5, 2, 5), { nil: undefined }),
      active: fc.option(fc.nat(4), { nil: undefined }),
      processed: fc.option(fc.nat(100), { nil: undefined }),
      loadavg: fc.constant(undefined),
      swVer: fc.constant(undefined),
    });
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.oneof(taskEvent, workerEvent), fc.integer({ min: 0, max: 30 })), { maxLength: 200 }), (stream) => {
        const { observer, counts } = countingObserver();
        const state = new CeleryState(observer, { ...OPTIONS, maxTasks: 3, pendingGrace: 2, finishedTtl: 5, unfinishedTtl: 10 });
        let now = 1000;
        let applied = 0;
        for (const [e, advance] of stream) {
          now += advance / 10;
          state.apply(e, now);
          if (e.kind === 'task') applied++;
          state.tick(now);
          expect(state.tasks.size).toBeLessThanOrEqual(3);
        }
        state.tick(now + 100);
        const transitions = [...counts.values()].reduce((a, b) => a + b, 0);
        // Each task event is exactly one transition or one dropped duplicate: held events are
        // released (as `unknown`) by the grace or by eviction, never lost.
        expect(transitions + state.duplicates).toBe(applied);
        expect(state.pendingTasks).toBe(0);
      }),
      { numRuns: 500 },
    );
  });
});
