import { describe, expect, it } from 'vitest';
import { CeleryState } from '../../src/state/machine.js';
import type { CeleryStateOptions } from '../../src/state/machine.js';
import { IgnoringObserver } from '../../src/state/ignoring-observer.js';
import { workerHeartbeat } from '../fixtures/events.js';

const OPTIONS: CeleryStateOptions = { maxTasks: 1000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 };

describe('WorkerRegistry, fed through the state machine', () => {
  it('is up while heartbeats arrive within freq x factor, down after, and down at once on worker-offline', () => {
    const s = new CeleryState(new IgnoringObserver(), OPTIONS);
    s.apply(workerHeartbeat('w1@vm', 100, { active: 3 }), 100);
    const w = s.workers.get('w1@vm')!;
    expect(s.workers.isUp(w, 103.9)).toBe(true);
    expect(s.workers.isUp(w, 104.1)).toBe(false);
    expect(w.active).toBe(3);
    // A heartbeat sent in reply to a pidbox broadcast has no `active`: keep the last known.
    s.apply(workerHeartbeat('w1@vm', 105, { active: undefined, freq: 5 }), 105);
    expect(w.active).toBe(3);
    // ...and its made-up freq=5 is ignored: the worker still beats every 2 s (workers.ts).
    expect(w.freq).toBe(2);
    expect(s.workers.isUp(w, 108.9)).toBe(true);
    expect(s.workers.isUp(w, 109.1)).toBe(false);
    s.apply({ ...workerHeartbeat('w1@vm', 106), type: 'worker-offline' }, 106);
    expect(s.workers.isUp(w, 106)).toBe(false);
  });

  it('forgets a worker silent for longer than forgetAfter', () => {
    const s = new CeleryState(new IgnoringObserver(), { ...OPTIONS, forgetAfter: 60 });
    s.apply(workerHeartbeat('w1@vm', 0), 0);
    s.tick(59);
    expect(s.workers.size).toBe(1);
    s.tick(61);
    expect(s.workers.size).toBe(0);
  });
});
