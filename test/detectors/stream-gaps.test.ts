import { describe, expect, it } from 'vitest';
import { StreamGapTracker } from '../../src/detectors/stream-gaps.js';
import { harness, worker } from './fixtures.js';

// The broker's stream gaps, and the workers' heartbeat gaps (counted by the state's worker
// registry, exported beside the stream gaps by stream-gaps.ts).
const beat = (t: number, processed: number, extra = {}) => worker('worker-heartbeat', 'w1@vm', t, { processed, ...extra });

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
