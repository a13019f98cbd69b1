import { describe, expect, it } from 'vitest';
import { harness, task, worker } from './fixtures.js';

const job = { name: 'app.job' };

describe('duplicate executions', () => {
  it('reports a task id started again on another worker with no retry in between, naming both workers', () => {
    const h = harness();
    h.feed(
      task('task-received', 'a', 100, { ...job, retries: 0 }),
      task('task-started', 'a', 100.1),
      // visibility_timeout expired: the broker redelivers the unacknowledged message to w2.
      task('task-received', 'a', 130, { ...job, retries: 0, hostname: 'w2@vm' }),
      task('task-started', 'a', 130.1, { hostname: 'w2@vm' }),
      task('task-succeeded', 'a', 160, { runtime: 60 }),
      task('task-succeeded', 'a', 160.2, { runtime: 30, hostname: 'w2@vm' }),
    );
    expect(h.of('duplicate-execution').map((f) => [f.uuid, f.name, f.firstWorker, f.secondWorker])).toEqual([['a', 'app.job', 'w1@vm', 'w2@vm']]);
  });

  it('does not count retries, even when the task-retried arrives after the next start', () => {
    const h = harness();
    h.feed(
      task('task-received', 'a', 100, { ...job, retries: 0 }),
      task('task-started', 'a', 100.1),
      task('task-retried', 'a', 100.2, { exception: "ConnectionError('x')" }),
      task('task-received', 'a', 100.5, { ...job, retries: 1 }),
      task('task-started', 'a', 100.6),
      // w2 flushed its buffered events before w1 flushed its task-retried.
      task('task-received', 'a', 101, { ...job, retries: 2, hostname: 'w2@vm' }),
      task('task-started', 'a', 101.1, { hostname: 'w2@vm' }),
      task('task-retried', 'a', 100.9, { exception: "ConnectionError('x')" }),
      task('task-succeeded', 'a', 101.2, { hostname: 'w2@vm' }),
    );
    expect(h.of('duplicate-execution')).toEqual([]);
  });

  it('ignores a task-started delivered twice and a start after a requeue', () => {
    const h = harness();
    const started = task('task-started', 'a', 100.1);
    h.feed(task('task-received', 'a', 100, job), started, started);
    h.feed(task('task-rejected', 'a', 100.2, { requeue: true }), task('task-received', 'a', 101, job), task('task-started', 'a', 101.1));
    expect(h.of('duplicate-execution')).toEqual([]);
  });

  it('reports the redelivery of a task lost with its worker when it starts elsewhere', () => {
    const h = harness();
    h.feed(worker('worker-heartbeat', 'w1@vm', 99), task('task-received', 'a', 100, job), task('task-started', 'a', 100.1));
    h.state.tick(104);
    expect(h.of('task-lost')).toHaveLength(1);
    h.feed(task('task-received', 'a', 200, { ...job, hostname: 'w2@vm' }), task('task-started', 'a', 200.1, { hostname: 'w2@vm' }));
    expect(h.state.tasks.get('a')?.state).toBe('STARTED');
    expect(h.of('duplicate-execution').map((f) => [f.firstWorker, f.secondWorker])).toEqual([['w1@vm', 'w2@vm']]);
  });
});
