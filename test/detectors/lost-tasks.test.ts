import { describe, expect, it } from 'vitest';
import { harness, task, worker } from './fixtures.js';

const add = { name: 'app.add' };

/** w1 (freq 1 s, timeout 3 s) holds task a running and task b prefetched, then goes silent at t=102. */
function deadWorker(): ReturnType<typeof harness> {
  const h = harness();
  h.feed(
    worker('worker-online', 'w1@vm', 100),
    task('task-received', 'a', 100.1, add),
    task('task-started', 'a', 100.2),
    task('task-received', 'b', 100.3, add),
    worker('worker-heartbeat', 'w1@vm', 101),
    worker('worker-heartbeat', 'w1@vm', 102),
  );
  return h;
}

describe('lost tasks', () => {
  // Celery 5.5+ soft shutdown, as a 5.6.3 worker with acks_late sends it: the running task is
  // cancelled (its message left unacked for redelivery), then worker-offline; another worker runs it.
  it('does not count the tasks a worker cancels on soft shutdown lost, nor their redelivery a duplicate', () => {
    const h = harness();
    h.feed(
      worker('worker-online', 'w1@vm', 100),
      task('task-received', 'a', 100.1, { ...add, retries: 0 }),
      task('task-started', 'a', 100.2),
      task('task-received', 'b', 100.3, { ...add, retries: 0 }),
      worker('worker-heartbeat', 'w1@vm', 101),
      task('task-cancelled', 'a', 102.2),
      worker('worker-offline', 'w1@vm', 102.3),
    );
    for (let t = 103; t <= 120; t++) h.state.tick(t);
    expect(h.of('task-lost')).toEqual([]);
    h.feed(
      worker('worker-online', 'w2@vm', 121),
      task('task-received', 'a', 121.1, { ...add, retries: 0, hostname: 'w2@vm' }),
      task('task-started', 'a', 121.2, { hostname: 'w2@vm' }),
      task('task-succeeded', 'a', 129.2, { hostname: 'w2@vm', runtime: 8 }),
    );
    expect(h.of('duplicate-execution')).toEqual([]);
    expect(h.of('attempts').map((f) => [f.outcome, f.attempts])).toEqual([['succeeded', 1]]);
    expect(h.state.tasks.get('b')?.state).toBe('PENDING');
  });

  it('declares the received and started tasks of a worker silent past its timeout lost, once', () => {
    const h = deadWorker();
    h.state.tick(104.9);
    expect(h.of('task-lost')).toEqual([]);
    h.state.tick(105.1);
    h.state.tick(106);
    h.state.tick(200);
    expect(h.of('task-lost').map((f) => [f.uuid, f.name, f.worker, f.reason]).sort()).toEqual([
      ['a', 'app.add', 'w1@vm', 'worker-lost'],
      ['b', 'app.add', 'w1@vm', 'worker-lost'],
    ]);
    expect(h.state.tasks.get('a')?.state).toBe('LOST');
    expect(h.state.tasks.unfinishedCount).toBe(0);
    expect(h.detectors.stalled.scan(h.state.tasks.unfinishedTasks(), 200, 'celery')).toEqual([]);
  });

  it('resurrects nothing when the worker comes back, nor on late or repeated old events', () => {
    const h = deadWorker();
    h.state.tick(106);
    h.feed(worker('worker-heartbeat', 'w1@vm', 107), worker('worker-heartbeat', 'w1@vm', 107));
    // Delivered again, and older than the state: neither moves the task.
    h.state.apply(task('task-started', 'a', 100.2), 107.5);
    h.state.apply(task('task-received', 'b', 100.25, add), 107.5);
    h.state.tick(120);
    expect(h.state.tasks.get('a')?.state).toBe('LOST');
    expect(h.state.tasks.get('b')?.state).toBe('LOST');
    expect(h.of('task-lost')).toHaveLength(2);
  });

  it('counts a final event reported after the loss under its outcome, keeps the loss, and reports it once', () => {
    const h = deadWorker();
    h.state.tick(106);
    const late = task('task-succeeded', 'a', 106.5, { runtime: 6 });
    h.state.apply(late, 107);
    h.state.apply(late, 107.1); // the same event delivered twice
    expect(h.of('task-lost')).toHaveLength(2);
    expect(h.of('lost-task-reported').map((f) => [f.uuid, f.state])).toEqual([['a', 'SUCCESS']]);
    expect(h.state.tasks.get('a')?.state).toBe('SUCCESS');
  });

  it('sends the prefetched tasks of a worker that went offline back to the queue, not to the lost', () => {
    const h = deadWorker();
    h.feed(worker('worker-offline', 'w1@vm', 102.5));
    expect(h.state.tasks.get('b')?.state).toBe('PENDING');
    // A consumer restart: the worker is back before its timeout and the running task finishes.
    h.feed(worker('worker-online', 'w1@vm', 104), task('task-succeeded', 'a', 104.5, { runtime: 4 }));
    h.state.tick(105.5);
    h.feed(worker('worker-heartbeat', 'w1@vm', 105.5));
    h.state.tick(106);
    expect(h.of('task-lost')).toEqual([]);
  });

  it('does not blame workers for the time the event stream was down', () => {
    const h = deadWorker();
    h.feed(worker('worker-heartbeat', 'w2@vm', 90)); // dead long before: stays dead
    h.state.streamDown(102.5);
    h.state.tick(130);
    expect(h.of('task-lost')).toEqual([]);
    h.state.streamUp(130);
    // w1 was alive when the stream dropped: it was probably cut off too and reconnects on its own
    // back-off, so it gets as long again as the outage (27.5 s) plus its 3 s timeout.
    expect(h.state.workers.isUp(h.state.workers.get('w1@vm')!, 131)).toBe(true);
    expect(h.state.workers.isUp(h.state.workers.get('w2@vm')!, 131)).toBe(false);
    h.state.tick(160.4);
    expect(h.of('task-lost')).toEqual([]);
    h.state.tick(160.6);
    expect(h.of('task-lost')).toHaveLength(2);
  });

  it('reports unfinished tasks forgotten to bound memory as lost with reason evicted', () => {
    const h = harness({ unfinishedTtl: 10 });
    h.feed(task('task-received', 'a', 100, add), task('task-received', 'b', 100, add), task('task-succeeded', 'b', 101));
    h.feed(worker('worker-heartbeat', 'w1@vm', 110), worker('worker-heartbeat', 'w1@vm', 111));
    h.state.tick(111.5);
    expect(h.of('task-lost').map((f) => [f.uuid, f.reason])).toEqual([['a', 'evicted']]);
  });
});
