import { describe, expect, it } from 'vitest';
import { MIN_LEARNED_THRESHOLD, MIN_RUNTIME_SAMPLES } from '../../src/detectors/stalled-tasks.js';
import { harness, task, worker } from './fixtures.js';

describe('stalled tasks', () => {
  it('counts running and stalled tasks per name and queue, with the age of the oldest', () => {
    const h = harness({}, { stalled: { threshold: 60, perTask: { 'app.report': 600 }, runtimeFactor: 10 } });
    h.feed(
      task('task-sent', 'a', 100, { name: 'app.sync', queue: 'io', hostname: 'gen1@vm' }),
      task('task-received', 'a', 100, { name: 'app.sync' }),
      task('task-started', 'a', 100),
      task('task-received', 'b', 130, { name: 'app.sync' }),
      task('task-started', 'b', 130),
      task('task-received', 'c', 100, { name: 'app.report' }),
      task('task-started', 'c', 100),
      task('task-received', 'd', 100, { name: 'app.sync' }), // prefetched, not running
    );
    h.feed(worker('worker-heartbeat', 'w1@vm', 170));
    const rows = h.detectors.stalled.scan(h.state.tasks.unfinishedTasks(), 170, 'celery');
    expect(rows.map((r) => [r.name, r.queue, r.running, r.stalled, r.oldestAge, r.threshold]).sort()).toEqual([
      ['app.report', undefined, 1, 0, 70, 600],
      ['app.sync', undefined, 1, 0, 40, 60],
      ['app.sync', 'io', 1, 1, 70, 60],
    ]);
  });

  it('counts a task with no queue in the row of the default queue it is exported under', () => {
    const h = harness({}, { stalled: { threshold: 60, perTask: {}, runtimeFactor: 10 } });
    h.feed(
      task('task-sent', 'a', 100, { name: 'app.sync', queue: 'celery', hostname: 'gen1@vm' }),
      task('task-received', 'a', 100, { name: 'app.sync' }),
      task('task-started', 'a', 100),
      task('task-received', 'b', 150, { name: 'app.sync' }),
      task('task-started', 'b', 150),
    );
    const rows = h.detectors.stalled.scan(h.state.tasks.unfinishedTasks(), 170, 'celery');
    expect(rows.map((r) => [r.name, r.queue ?? 'celery', r.running, r.stalled, r.oldestAge])).toEqual([['app.sync', 'celery', 2, 1, 70]]);
  });

  it('learns a threshold from a name’s own runtimes once enough succeeded, with a floor', () => {
    const h = harness({}, { stalled: { threshold: 3600, perTask: {}, runtimeFactor: 10 } });
    const run = (uuid: string, t: number, runtime: number): void =>
      h.feed(task('task-received', uuid, t, { name: 'app.fast' }), task('task-started', uuid, t), task('task-succeeded', uuid, t + runtime, { runtime }));
    for (let i = 0; i < MIN_RUNTIME_SAMPLES - 1; i++) run(`f${i}`, 100 + i, 2);
    expect(h.detectors.stalled.thresholdFor('app.fast')).toBe(3600);
    run('last', 200, 3);
    // p95 of nineteen 2 s runs and one 3 s run is 3 s: 30 s.
    expect(h.detectors.stalled.thresholdFor('app.fast')).toBe(30);
    for (let i = 0; i < MIN_RUNTIME_SAMPLES; i++) run(`t${i}`, 300 + i, 0.01);
    // Of the last 40 runs, 20 took 10 ms, 19 took 2 s and one 3 s: the 95th percentile is 2 s.
    expect(h.detectors.stalled.thresholdFor('app.fast')).toBe(20);
    const tiny = harness({}, { stalled: { threshold: 3600, perTask: {}, runtimeFactor: 10 } });
    for (let i = 0; i < MIN_RUNTIME_SAMPLES; i++) tiny.feed(task('task-received', `x${i}`, 1, { name: 'app.tiny' }), task('task-started', `x${i}`, 1), task('task-succeeded', `x${i}`, 1, { runtime: 0.01 }));
    expect(tiny.detectors.stalled.thresholdFor('app.tiny')).toBe(MIN_LEARNED_THRESHOLD);
  });

  it('does not learn when the factor is 0, and an override always wins', () => {
    const h = harness({}, { stalled: { threshold: 120, perTask: { 'app.fast': 5 }, runtimeFactor: 0 } });
    for (let i = 0; i < MIN_RUNTIME_SAMPLES; i++) h.feed(task('task-received', `f${i}`, 1, { name: 'app.other' }), task('task-started', `f${i}`, 1), task('task-succeeded', `f${i}`, 3, { runtime: 2 }));
    expect(h.detectors.stalled.thresholdFor('app.other')).toBe(120);
    expect(h.detectors.stalled.thresholdFor('app.fast')).toBe(5);
  });
});
