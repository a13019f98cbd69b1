import { describe, expect, it } from 'vitest';
import { EventsOffDetector } from '../../src/detectors/events-off.js';
import type { Finding } from '../../src/detectors/findings.js';
import { prefetchedPerWorker } from '../../src/detectors/prefetched-tasks.js';
import { StreamGapTracker } from '../../src/detectors/stream-gaps.js';
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

describe('heartbeat gaps', () => {
  it('counts heartbeats later than 2 x freq while connected, and the seconds missing', () => {
    const h = harness();
    h.feed(beat(100, 0), beat(101, 0), beat(104, 0), beat(104, 0), beat(103.5, 0), beat(105, 0), beat(110, 0));
    const w = h.state.workers.get('w1@vm')!;
    expect([w.heartbeatGaps, w.heartbeatGapSeconds]).toEqual([2, 2 + 4]);
  });

  it('does not count a gap across a broker disconnection or a worker restart', () => {
    const h = harness();
    h.feed(beat(100, 0), beat(101, 0));
    h.state.streamDown(101.5);
    h.state.streamUp(110);
    h.feed(beat(111, 0), beat(112, 0), worker('worker-online', 'w1@vm', 130), beat(131, 0));
    expect(h.state.workers.get('w1@vm')?.heartbeatGaps).toBe(0);
  });
});

describe('prefetched tasks', () => {
  it('counts received-not-started tasks per known worker, zero included', () => {
    const h = harness();
    h.feed(beat(100, 0), worker('worker-heartbeat', 'w2@vm', 100));
    h.feed(task('task-received', 'a', 100, { name: 'x' }), task('task-received', 'b', 100, { name: 'x' }), task('task-started', 'b', 101));
    h.feed(task('task-received', 'c', 100, { name: 'x' }));
    expect(prefetchedPerWorker(h.state.workers.values(), h.state.tasks.unfinishedTasks())).toEqual(new Map([['w1@vm', 2], ['w2@vm', 0]]));
  });
});

describe('event stream gaps', () => {
  it('counts disconnections after the first connection and their seconds, the current one included', () => {
    const g = new StreamGapTracker();
    g.down(10); // before the first connection: no history to lose yet
    g.up(20);
    g.down(30);
    g.down(31);
    expect([g.gaps, g.seconds(35)]).toEqual([1, 5]);
    g.up(40);
    g.up(41);
    g.down(50);
    g.up(52.5);
    expect([g.gaps, g.seconds(100)]).toEqual([2, 12.5]);
  });
});
