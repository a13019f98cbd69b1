import { describe, expect, it } from 'vitest';
import type { Attempt } from '../../src/state/attempts.js';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import type { TaskEvent } from '../../src/protocol/events.js';
import type { TaskObserver } from '../../src/state/observer.js';
import { taskEvent as ev } from '../fixtures/events.js';

// The attempt each event belongs to, as the state machine decides it and hands it to observers.

const OPTIONS: CeleryStateOptions = { maxTasks: 1000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 };
const T0 = 1_795_310_000;
const U = 'aaaaaaaa-1111-4111-8111-111111111111';
const PARENT = 'bbbbbbbb-2222-4222-8222-222222222222';

type Seen = { call: string } & Attempt;

/** The real machine, recording every attempt it hands out (copied: the descriptor is reused). */
function machine(): { state: CeleryState; seen: Seen[]; apply: (...events: TaskEvent[]) => void } {
  const seen: Seen[] = [];
  const keep = (call: string) => (a: Attempt) => seen.push({ call, ...a });
  const observer: TaskObserver = {
    taskSent: () => undefined,
    taskReceived: () => undefined,
    taskStarted: (_t, _e, _w, a) => keep('started')(a),
    taskSucceeded: (_t, _e, _r, a) => keep('succeeded')(a),
    taskFailed: (_t, _e, _x, _r, a) => keep('failed')(a),
    taskRetried: (_t, _e, _x, _r, a) => keep('retried')(a),
    taskRejected: (_t, _e, a) => keep('rejected')(a),
    taskRevoked: (_t, _e, a) => keep('revoked')(a),
    taskCancelled: (_t, _e, a) => keep('cancelled')(a),
    taskLost: (_t, reason, _n, a) => keep(`lost ${reason}`)(a),
    taskForgotten: () => undefined,
  };
  const state = new CeleryState(observer, OPTIONS);
  return { state, seen, apply: (...events) => events.forEach((e) => state.apply(e, e.timestamp)) };
}

const named = { name: 'pulse.flaky', queue: 'celery' };
const brief = (s: Seen) => [s.call, s.retries, s.delivery, s.ended];

describe('attempts: which attempt each event belongs to', () => {
  it("gives task-started its own task-received's attempt when the retry it published arrived first (prefork)", () => {
    const { apply, seen } = machine();
    apply(
      ev('task-sent', U, T0, { ...named, retries: 0 }),
      ev('task-received', U, T0 + 0.1, { ...named, retries: 0 }),
      // The pool process ran attempt 0 and published its retry before the main process sent task-started.
      ev('task-sent', U, T0 + 0.15, { ...named, retries: 1, parentId: U }),
      ev('task-started', U, T0 + 0.2),
      ev('task-retried', U, T0 + 0.3, { exception: "ConnectionError('x')" }),
      ev('task-received', U, T0 + 0.4, { ...named, retries: 1, parentId: U }),
      ev('task-started', U, T0 + 0.5),
      ev('task-succeeded', U, T0 + 0.6, { runtime: 0.1 }),
    );
    expect(seen.map(brief)).toEqual([
      ['started', 0, 0, false],
      ['retried', 0, 0, false],
      ['started', 1, 0, false],
      ['succeeded', 1, 0, false],
    ]);
    const [started0, retried0, started1] = seen;
    // The retry's publish proves attempt 0 ran at T0 + 0.15, before its task-started says.
    expect(started0).toMatchObject({ startedAt: T0 + 0.2, receivedAt: T0 + 0.1, ranSince: T0 + 0.15, inferredStart: false });
    expect(retried0).toMatchObject({ startedAt: T0 + 0.2, ranSince: T0 + 0.15 });
    expect(started1).toMatchObject({ startedAt: T0 + 0.5, receivedAt: T0 + 0.4, ranSince: undefined });
  });

  it('credits a child task sent from inside the parent to the attempt the parent received', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', PARENT, T0, { ...named, retries: 0 }),
      ev('task-sent', U, T0 + 0.05, { ...named, retries: 0, parentId: PARENT }),
      ev('task-started', PARENT, T0 + 0.1),
      ev('task-succeeded', PARENT, T0 + 0.2),
    );
    expect(seen.map((s) => [s.call, s.ranSince])).toEqual([
      ['started', T0 + 0.05],
      ['succeeded', T0 + 0.05],
    ]);
  });

  it('marks a task-started that arrives after the outcome as ended, and infers the start from the runtime', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-succeeded', U, T0 + 1, { runtime: 0.4 }),
      ev('task-started', U, T0 + 0.6),
    );
    expect(seen.map(brief)).toEqual([
      ['succeeded', 0, 0, false],
      ['started', 0, 0, true],
    ]);
    expect(seen[0]).toMatchObject({ inferredStart: true, startedAt: T0 + 0.6, receivedAt: T0 });
  });

  it('marks a task-started stamped after the outcome as ended when no task-received came between (prefork, busy worker)', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-succeeded', U, T0 + 0.05, { runtime: 0.01 }),
      // The main process stamps task-started when the pool reports the job accepted: here after the outcome.
      ev('task-started', U, T0 + 0.07),
    );
    expect(seen.map(brief)).toEqual([
      ['succeeded', 0, 0, false],
      ['started', 0, 0, true],
    ]);
  });

  it('starts the next delivery when the message is received again after its attempt ended', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 0.1),
      ev('task-succeeded', U, T0 + 0.2, { runtime: 0.1 }),
      // Its acknowledgement was lost: the broker delivers the message again.
      ev('task-received', U, T0 + 30, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 30.1),
    );
    expect(seen.map(brief)).toEqual([
      ['started', 0, 0, false],
      ['succeeded', 0, 0, false],
      ['started', 0, 1, false],
    ]);
  });

  it('ends an attempt once: a second outcome (Celery 5.7 Reject: task-failed, then task-rejected) is marked ended', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 0.1),
      ev('task-failed', U, T0 + 0.2, { exception: "Reject('no', False)" }),
      ev('task-rejected', U, T0 + 0.21, { requeue: false }),
    );
    expect(seen.map(brief)).toEqual([
      ['started', 0, 0, false],
      ['failed', 0, 0, false],
      ['rejected', 0, 0, true],
    ]);
  });

  it('counts a start of the same attempt again as its next delivery (the message was redelivered)', () => {
    const { apply, seen } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 0.1),
      ev('task-sent', 'cccccccc-3333-4333-8333-333333333333', T0 + 0.2, { ...named, retries: 0, parentId: U }),
      // The worker died; the broker delivers the message again.
      ev('task-received', U, T0 + 5, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 5.1),
      ev('task-succeeded', U, T0 + 6),
    );
    expect(seen.map(brief)).toEqual([
      ['started', 0, 0, false],
      ['started', 0, 1, false],
      ['succeeded', 0, 1, false],
    ]);
    // What the first delivery published is no proof about the second.
    expect(seen[1]).toMatchObject({ receivedAt: T0 + 5, ranSince: undefined });
  });

  it("gives a lost task its running attempt's retries, and marks its outcome arriving after all as ended", () => {
    const { apply, seen, state } = machine();
    apply(
      ev('task-received', U, T0, { ...named, retries: 0 }),
      ev('task-started', U, T0 + 0.1),
      ev('task-retried', U, T0 + 0.2, { exception: 'Retry' }),
      ev('task-received', U, T0 + 0.3, { ...named, retries: 1 }),
      ev('task-started', U, T0 + 0.4),
    );
    // The worker falls silent past its timeout: the housekeeping declares its task lost.
    state.tick(T0 + 1000);
    apply(ev('task-succeeded', U, T0 + 9));
    expect(seen.map(brief)).toEqual([
      ['started', 0, 0, false],
      ['retried', 0, 0, false],
      ['started', 1, 0, false],
      ['lost worker-lost', 1, 0, false],
      ['succeeded', 1, 0, true],
    ]);
    expect(seen[3]).toMatchObject({ inferredStart: false, startedAt: T0 + 0.4, receivedAt: T0 + 0.3 });
  });

  it('says no attempt ran when a task never received is lost, and infers one from the receipt of a received one', () => {
    const { state, seen } = machine();
    const received = 'dddddddd-4444-4444-8444-444444444444';
    state.apply(ev('task-sent', U, T0, { ...named, retries: 0 }), T0);
    state.apply(ev('task-received', received, T0, { ...named, retries: 2 }), T0);
    // Long after: the worker that received one is silent, and the one only sent is past --unfinished-ttl.
    const now = T0 + OPTIONS.unfinishedTtl + 1;
    state.tick(now);
    expect(seen.map((s) => [s.call, s.retries, s.inferredStart, s.receivedAt, s.startedAt])).toEqual([
      ['lost worker-lost', 2, true, T0, T0],
      ['lost evicted', 0, true, undefined, now],
    ]);
  });
});
