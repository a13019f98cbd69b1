import { describe, expect, it } from 'vitest';
import { harness, task } from './fixtures.js';

const flaky = { name: 'app.flaky' };

describe('hidden retries', () => {
  it('counts attempts once per task at its final outcome: retries + 1', () => {
    const h = harness();
    for (let r = 0; r < 4; r++) {
      h.feed(task('task-received', 'a', 100 + r, { ...flaky, retries: r }), task('task-started', 'a', 100.1 + r));
      if (r < 3) h.feed(task('task-retried', 'a', 100.2 + r, { exception: "TimeoutError('t')" }));
    }
    const done = task('task-succeeded', 'a', 104, { runtime: 0.1 });
    h.feed(done, done);
    h.feed(task('task-received', 'b', 105, { ...flaky, retries: 0 }), task('task-started', 'b', 105.1), task('task-succeeded', 'b', 105.2));
    h.feed(task('task-received', 'c', 106, { ...flaky, retries: 5 }), task('task-started', 'c', 106.1), task('task-failed', 'c', 106.2, { exception: "TimeoutError('t')" }));
    expect(h.of('attempts').map((f) => [f.outcome, f.attempts])).toEqual([
      ['succeeded', 4],
      ['succeeded', 1],
      ['failed', 6],
    ]);
  });

  it('counts a second final event of the same task (a duplicate execution) only once', () => {
    const h = harness();
    h.feed(
      task('task-received', 'a', 100, { ...flaky, retries: 1 }),
      task('task-started', 'a', 100.1),
      task('task-succeeded', 'a', 100.5),
      task('task-started', 'a', 101, { hostname: 'w2@vm' }),
      task('task-succeeded', 'a', 101.5, { hostname: 'w2@vm' }),
    );
    expect(h.of('attempts').map((f) => [f.outcome, f.attempts])).toEqual([['succeeded', 2]]);
  });

  it('counts a task whose record took the key of a forgotten, already counted one', () => {
    // What a detector remembers per task lives in its own table under the record's key; a key
    // is given out again once its record is evicted, and must not carry the old task's mark.
    const h = harness({ maxTasks: 1 });
    h.feed(task('task-received', 'a', 100, { ...flaky, retries: 0 }), task('task-started', 'a', 100.1), task('task-succeeded', 'a', 100.2));
    const key = h.state.tasks.get('a')!.key;
    // A new record is made before the one it pushes out is forgotten: the third takes a's key.
    h.feed(task('task-received', 'b', 101, { ...flaky, retries: 1 }), task('task-started', 'b', 101.1), task('task-succeeded', 'b', 101.2));
    h.feed(task('task-received', 'c', 102, { ...flaky, retries: 2 }), task('task-started', 'c', 102.1), task('task-succeeded', 'c', 102.2));
    expect(h.state.tasks.get('c')!.key).toBe(key);
    expect(h.of('attempts').map((f) => [f.outcome, f.attempts])).toEqual([
      ['succeeded', 1],
      ['succeeded', 2],
      ['succeeded', 3],
    ]);
  });

  it('counts a Reject(requeue=False) once as rejected, from Celery 5.6 (task-rejected) and 5.7 (task-failed, then task-rejected)', () => {
    const h = harness();
    const reject = { name: 'app.reject', retries: 0 };
    h.feed(task('task-received', 'v56', 100, reject), task('task-started', 'v56', 100.1), task('task-rejected', 'v56', 100.2, { requeue: false }));
    h.feed(
      task('task-received', 'v57', 101, reject),
      task('task-started', 'v57', 101.1),
      task('task-failed', 'v57', 101.2, { exception: "Reject('rejected on purpose', False)" }),
      task('task-rejected', 'v57', 101.21, { requeue: false }),
    );
    expect(h.of('attempts').map((f) => [f.outcome, f.attempts])).toEqual([
      ['rejected', 1],
      ['rejected', 1],
    ]);
    expect(h.state.tasks.get('v57')?.state).toBe('REJECTED');
  });

  it('does not count tasks that never started (revoked or expired in the queue)', () => {
    const h = harness();
    h.feed(task('task-sent', 'a', 100, { ...flaky, hostname: 'gen1@vm' }), task('task-revoked', 'a', 101, { expired: true }));
    expect(h.of('attempts')).toEqual([]);
  });
});
