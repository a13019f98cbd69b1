import { Counter } from 'prom-client';
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
  define: ({ brokers, b, registers, withBroker }) => {
    new Counter({
      name: 'celery_pulse_event_stream_gaps_total',
      help: 'Disconnections from the broker after the first connection: events published meanwhile are lost.',
      labelNames: b,
      registers,
      collect() {
        this.reset();
        for (const s of brokers) this.inc(withBroker(s, {}), s.detectors.gaps.gaps);
      },
    });
    new Counter({
      name: 'celery_pulse_event_stream_gap_seconds_total',
      help: 'Seconds spent disconnected from the broker after the first connection, the current gap included.',
      labelNames: b,
      registers,
      collect() {
        this.reset();
        const t = Date.now() / 1000;
        for (const s of brokers) this.inc(withBroker(s, {}), s.detectors.gaps.seconds(t));
      },
    });
    const workerCounter = (name: string, help: string, pick: (w: WorkerRecord) => number): void => {
      new Counter({
        name,
        help,
        labelNames: ['hostname', ...b],
        registers,
        collect() {
          this.reset();
          for (const s of brokers) for (const w of s.state.workers.values()) this.inc(withBroker(s, { hostname: w.hostname }), pick(w));
        },
      });
    };
    workerCounter('celery_worker_heartbeat_gaps_total', 'Heartbeats that came more than 2 x freq after the previous one while the broker stayed connected (events lost in transit, or a blocked worker).', (w) => w.heartbeatGaps);
    workerCounter('celery_worker_heartbeat_gap_seconds_total', 'Seconds of heartbeats missing in those gaps (each gap minus one freq).', (w) => w.heartbeatGapSeconds);
    return {};
  },
};
