import type { Counter } from 'prom-client';
import type { WorkerRecord } from '../state/workers.js';
import type { DetectorOutput } from './output.js';

/**
 * Holes in the event stream of one broker. Redis pub/sub keeps nothing for a subscriber that is
 * away (PROTOCOL.md §1), so every disconnection after the first connection is a gap in history:
 * counted when it starts, its length added when it ends, and the running one included when read.
 * The wait before the very first connection is not a gap: there was no history yet.
 */
export class StreamGapTracker {
  gaps = 0;
  private closedSeconds = 0;
  private downSince: number | undefined;
  private everUp = false;

  up(now: number): void {
    this.everUp = true;
    if (this.downSince === undefined) return;
    this.closedSeconds += Math.max(0, now - this.downSince);
    this.downSince = undefined;
  }

  down(now: number): void {
    if (!this.everUp || this.downSince !== undefined) return;
    this.downSince = now;
    this.gaps++;
  }

  /** Total seconds disconnected, the current gap included. */
  seconds(now: number): number {
    return this.closedSeconds + (this.downSince === undefined ? 0 : Math.max(0, now - this.downSince));
  }
}

/**
 * The broker's stream gaps (celery_pulse_event_stream_gap*), and each worker's heartbeat gaps
 * while the broker stayed connected (the state's WorkerRegistry counts them), at scrape time.
 */
export const streamGapOutput: DetectorOutput<{ readonly gaps: StreamGapTracker }> = {
  collector: ({ brokers, b, withBroker, families }) => {
    const f = families('stream_gaps');
    const gaps = f.counter({ name: 'celery_pulse_event_stream_gaps_total', help: 'Disconnections from the broker after the first connection: events published meanwhile are lost.', labelNames: b });
    const gapSeconds = f.counter({
      name: 'celery_pulse_event_stream_gap_seconds_total',
      help: 'Seconds spent disconnected from the broker after the first connection, the current gap included.',
      labelNames: b,
    });
    const perWorker: [Counter<string>, (w: WorkerRecord) => number][] = [
      [
        f.counter({
          name: 'celery_worker_heartbeat_gaps_total',
          help: 'Heartbeats that came more than 2 x freq after the previous one while the broker stayed connected (events lost in transit, or a blocked worker).',
          labelNames: ['hostname', ...b],
        }),
        (w) => w.heartbeatGaps,
      ],
      [f.counter({ name: 'celery_worker_heartbeat_gap_seconds_total', help: 'Seconds of heartbeats missing in those gaps (each gap minus one freq).', labelNames: ['hostname', ...b] }), (w) => w.heartbeatGapSeconds],
    ];
    return f.collector(() => {
      gaps.reset();
      gapSeconds.reset();
      for (const [c] of perWorker) c.reset();
      const t = Date.now() / 1000;
      for (const s of brokers) {
        gaps.inc(withBroker(s, {}), s.detectors.gaps.gaps);
        gapSeconds.inc(withBroker(s, {}), s.detectors.gaps.seconds(t));
        for (const w of s.state.workers.values()) for (const [c, pick] of perWorker) c.inc(withBroker(s, { hostname: w.hostname }), pick(w));
      }
    });
  },
};
