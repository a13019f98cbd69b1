import { describe, expect, it } from 'vitest';
import { exceptionClass, normalizeEvent, parseEta } from '../../src/protocol/events.js';

describe('normalizeEvent', () => {
  it('types a task-received event from a worker', () => {
    const e = normalizeEvent({
      hostname: 'w1@vm', utcoffset: 0, pid: 8008, clock: 15, uuid: 'u1', name: 'proto.reject', args: '()', kwargs: '{}',
      root_id: 'u1', parent_id: null, retries: 0, eta: '2026-11-22T01:24:31.312324+00:00', expires: null, timestamp: 1795310668.3, type: 'task-received',
    });
    expect(e).toMatchObject({ kind: 'task', type: 'task-received', uuid: 'u1', name: 'proto.reject', retries: 0, rootId: 'u1', parentId: undefined, eta: 1795310671.312 });
  });

  it('takes the queue of task-sent from `queue`, else `routing_key`', () => {
    const base = { hostname: 'gen1@vm', uuid: 'u', name: 't', timestamp: 1, type: 'task-sent' };
    expect(normalizeEvent({ ...base, queue: 'q1', routing_key: 'rk' })).toMatchObject({ queue: 'q1' });
    expect(normalizeEvent({ ...base, routing_key: 'rk' })).toMatchObject({ queue: 'rk' });
  });

  it('takes the queue of a task sent through native delayed delivery from behind its 28 delay digits', () => {
    const base = { hostname: 'gen1@vm', uuid: 'u', name: 't', timestamp: 1, type: 'task-sent' };
    // As Celery 5.6.3 sent it for countdown=60 to the quorum queue `celery` (60 = 0b111100).
    const sixty = '0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.1.1.1.0.0.celery';
    expect(normalizeEvent({ ...base, queue: sixty })).toMatchObject({ queue: 'celery' });
    expect(normalizeEvent({ ...base, queue: `${'1.'.repeat(28)}reports.daily` })).toMatchObject({ queue: 'reports.daily' });
    // Fewer digits, or a digit other than 0/1, is an ordinary queue name.
    expect(normalizeEvent({ ...base, queue: `${'0.'.repeat(27)}celery` })).toMatchObject({ queue: `${'0.'.repeat(27)}celery` });
    expect(normalizeEvent({ ...base, queue: `2.${'0.'.repeat(27)}celery` })).toMatchObject({ queue: `2.${'0.'.repeat(27)}celery` });
  });

  it('types worker heartbeats, with or without the optional counters', () => {
    expect(normalizeEvent({ hostname: 'w1@vm', freq: 2.0, active: 1, processed: 9, loadavg: [0.1, 0.2, 0.3], sw_ver: '5.2.6', timestamp: 5, type: 'worker-heartbeat' })).toMatchObject({
      kind: 'worker', freq: 2, active: 1, processed: 9, loadavg: [0.1, 0.2, 0.3],
    });
    expect(normalizeEvent({ hostname: 'w1@vm', freq: 5, timestamp: 5, type: 'worker-heartbeat' })).toMatchObject({ kind: 'worker', freq: 5, active: undefined });
  });

  it('rejects what it cannot trust, with a reason', () => {
    expect(normalizeEvent(null)).toBe('not_an_event');
    expect(normalizeEvent([1])).toBe('not_an_event');
    expect(normalizeEvent({ hostname: 'w', timestamp: 1 })).toBe('missing_field');
    expect(normalizeEvent({ type: 7, hostname: 'w', timestamp: 1 })).toBe('wrong_field_type');
    expect(normalizeEvent({ type: 'task-started', timestamp: 1 })).toBe('missing_field');
    expect(normalizeEvent({ type: 'task-started', hostname: 'w', timestamp: 'now', uuid: 'u' })).toBe('wrong_field_type');
    expect(normalizeEvent({ type: 'task-started', hostname: 'w', timestamp: 1 })).toBe('missing_field');
    expect(normalizeEvent({ type: 'task-received', hostname: 'w', timestamp: 1, uuid: 'u', name: ['x'] })).toBe('wrong_field_type');
    expect(normalizeEvent({ type: 'worker-heartbeat', hostname: 'w', timestamp: 1, active: 'many' })).toBe('wrong_field_type');
    expect(normalizeEvent({ type: 'task-exploded', hostname: 'w', timestamp: 1 })).toBe('unknown_event_type');
  });

  it('cuts absurdly long strings instead of keeping them', () => {
    const e = normalizeEvent({ type: 'task-received', hostname: 'w'.repeat(10_000), timestamp: 1, uuid: 'u', name: 'n'.repeat(10_000) });
    expect(typeof e === 'object' && e.hostname.length).toBe(256);
    expect(typeof e === 'object' && e.kind === 'task' && e.name?.length).toBe(256);
  });
});

describe('exceptionClass', () => {
  it.each([
    ["ValueError('boom')", 'ValueError'],
    ["KeyError('missing')", 'KeyError'],
    ['myapp.errors.PaymentDeclined("card")', 'myapp.errors.PaymentDeclined'],
    ['SoftTimeLimitExceeded()', 'SoftTimeLimitExceeded'],
    ['Retry in 1s: ValueError()', 'unknown'],
    ['', 'unknown'],
    [undefined, 'unknown'],
  ])('%s -> %s', (repr, cls) => {
    expect(exceptionClass(repr)).toBe(cls);
  });

  it("reads the class off the traceback when the pool sends billiard's empty wrapper (hard time limit; Celery 5.2's threads pool)", () => {
    const traceback = 'Traceback (most recent call last):\n  File "pulseapp.py", line 50, in fail_value\n    raise ValueError(msg)\nValueError: boom\n';
    expect(exceptionClass('ExceptionWithTraceback()', traceback)).toBe('ValueError');
    expect(exceptionClass('ExceptionWithTraceback()', 'Traceback (most recent call last):\nKeyError\n')).toBe('KeyError');
    const limit = 'Traceback (most recent call last):\n  File "billiard/pool.py", line 683, in on_hard_timeout\n    raise TimeLimitExceeded(job._timeout)\nbilliard.exceptions.TimeLimitExceeded: TimeLimitExceeded(1,)\n';
    expect(exceptionClass('ExceptionWithTraceback()', limit)).toBe('TimeLimitExceeded');
    expect(exceptionClass('ExceptionWithTraceback()', undefined)).toBe('ExceptionWithTraceback');
    expect(exceptionClass("ValueError('boom')", 'Traceback ...\nKeyError: other\n')).toBe('ValueError');
  });
});

describe('parseEta', () => {
  it('reads ISO-8601 with an offset, and naive times as UTC', () => {
    expect(parseEta('2026-11-22T01:24:31+00:00')).toBe(Date.UTC(2026, 10, 22, 1, 24, 31) / 1000);
    expect(parseEta('2026-11-22T02:24:31+01:00')).toBe(Date.UTC(2026, 10, 22, 1, 24, 31) / 1000);
    expect(parseEta('2026-11-22T01:24:31')).toBe(Date.UTC(2026, 10, 22, 1, 24, 31) / 1000);
    expect(parseEta(null)).toBeUndefined();
    expect(parseEta('tomorrow')).toBeUndefined();
  });
});
