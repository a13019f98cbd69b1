import { describe, expect, it } from 'vitest';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import { IgnoringObserver } from '../../src/state/ignoring-observer.js';
import { taskEvent as task } from '../fixtures/events.js';

const OPTIONS: CeleryStateOptions = { maxTasks: 1000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 };

describe('TaskTable bounds, fed through the state machine', () => {
  it('forgets finished tasks first when full, and counts evictions', () => {
    const s = new CeleryState(new IgnoringObserver(), { ...OPTIONS, maxTasks: 3 });
    s.apply(task('task-received', 'running', 1, { name: 't' }), 1);
    s.apply(task('task-started', 'running', 2), 2);
    s.apply(task('task-received', 'done1', 3, { name: 't' }), 3);
    s.apply(task('task-succeeded', 'done1', 4), 4);
    s.apply(task('task-received', 'done2', 5, { name: 't' }), 5);
    s.apply(task('task-succeeded', 'done2', 6), 6);
    s.apply(task('task-received', 'new', 7, { name: 't' }), 7);
    expect(s.tasks.size).toBe(3);
    expect(s.tasks.get('running')).toBeDefined();
    expect(s.tasks.get('done1')).toBeUndefined();
    expect(s.tasks.evictions.capacity).toBe(1);
  });

  it('forgets tasks by age: finished after finishedTtl, unfinished after unfinishedTtl', () => {
    const s = new CeleryState(new IgnoringObserver(), { ...OPTIONS, finishedTtl: 10, unfinishedTtl: 100 });
    s.apply(task('task-received', 'open', 0, { name: 't' }), 0);
    s.apply(task('task-received', 'done', 0, { name: 't' }), 0);
    s.apply(task('task-succeeded', 'done', 1), 1);
    s.tick(12);
    expect(s.tasks.get('done')).toBeUndefined();
    expect(s.tasks.get('open')).toBeDefined();
    s.tick(101);
    expect(s.tasks.get('open')).toBeUndefined();
    expect(s.tasks.evictions.age).toBe(2);
  });
});
