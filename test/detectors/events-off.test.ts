import { describe, expect, it } from 'vitest';
import { EventsOffDetector } from '../../src/detectors/events-off.js';
import type { Finding } from '../../src/detectors/findings.js';
import { harness, task, worker } from './fixtures.js';

const beat = (t: number, processed: number, extra = {}) => worker('worker-heartbeat', 'w1@vm', t, { processed, ...extra });

describe('workers with task events off', () => {
  it('flags a worker whose processed count grows over two heartbeats with no task event, and reports it once', () => {
    const h = harness();
    const found: Finding[] = [];
    const d = new EventsOffDetector((f) => found.push(f));
    h.feed(beat(100, 5), beat(101, 6));
    d.check(h.state.workers.values());
    expect(h.state.workers.get('w1@vm')?.taskEventsOff).toBe(false); // one heartbeat is not enough: events are buffered
    h.feed(beat(102, 7), beat(102, 7), beat(103, 9));
    d.check(h.state.workers.values());
    d.check(h.state.workers.values());
    expect(h.state.workers.get('w1@vm')?.taskEventsOff).toBe(true);
    expect(found).toEqual([{ kind: 'task-events-off', hostname: 'w1@vm', processed: 9 }]);
    // enable_events took effect: task events arrive, the flag clears.
    h.feed(task('task-received', 'a', 103.5, { name: 'app.x' }), beat(104, 10));
    d.check(h.state.workers.values());
    expect(h.state.workers.get('w1@vm')?.taskEventsOff).toBe(false);
  });

  it('counts from the worker-online, so tasks done before the first heartbeat are not missed', () => {
    const h = harness();
    h.feed(worker('worker-online', 'w1@vm', 100, { processed: 0 }), beat(101, 3), beat(102, 3));
    expect(h.state.workers.get('w1@vm')?.taskEventsOff).toBe(true);
  });

  it('does not flag a worker that sends task events, nor an idle one, nor on pidbox-reply heartbeats', () => {
    const h = harness();
    h.feed(beat(100, 5), task('task-received', 'a', 100.5, { name: 'app.x' }), beat(101, 6), task('task-started', 'a', 101.5), beat(102, 7));
    h.feed(beat(103, 7), beat(104, 7), beat(104.5, 0, { active: undefined, processed: undefined, freq: 5 }));
    expect(h.state.workers.get('w1@vm')?.taskEventsOff).toBe(false);
  });
});
