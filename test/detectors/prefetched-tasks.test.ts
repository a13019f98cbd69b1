import { describe, expect, it } from 'vitest';
import { prefetchedPerWorker } from '../../src/detectors/prefetched-tasks.js';
import { harness, task, worker } from './fixtures.js';

const beat = (t: number, processed: number, extra = {}) => worker('worker-heartbeat', 'w1@vm', t, { processed, ...extra });

describe('prefetched tasks', () => {
  it('counts received-not-started tasks per known worker, zero included', () => {
    const h = harness();
    h.feed(beat(100, 0), worker('worker-heartbeat', 'w2@vm', 100));
    h.feed(task('task-received', 'a', 100, { name: 'x' }), task('task-received', 'b', 100, { name: 'x' }), task('task-started', 'b', 101));
    h.feed(task('task-received', 'c', 100, { name: 'x' }));
    expect(prefetchedPerWorker(h.state.workers.values(), h.state.tasks.unfinishedTasks())).toEqual(new Map([['w1@vm', 2], ['w2@vm', 0]]));
  });
});
