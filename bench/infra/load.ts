// Publishing at a controlled rate: every tick the generator works out how many events are due
// since the start and publishes them, so short stalls are made up and the average rate is exact.
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop, setTimeout as delay } from 'node:timers/promises';
import type { Publisher } from './publishers.js';
import type { TrafficModel } from './traffic.js';

/** When each frame left the generator (performance.now() ms) and the events published up to it. */
export class PublishLog {
  readonly times: number[] = [];
  readonly counts: number[] = [];

  record(time: number, count: number): void {
    this.times.push(time);
    this.counts.push(count);
  }

  /** When the `count`-th event was published: the time of the first frame whose total reaches it. */
  timeOf(count: number): number | undefined {
    const c = this.counts;
    let lo = 0;
    let hi = c.length - 1;
    if (hi < 0 || c[hi]! < count) return undefined;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]! >= count) hi = mid;
      else lo = mid + 1;
    }
    return this.times[lo];
  }
}

export interface LoadOptions {
  /** Events per second. */
  readonly rate: number;
  /** Stop after this long (seconds)… */
  readonly seconds?: number;
  /** …or after this many distinct task ids. */
  readonly tasks?: number;
  readonly log?: PublishLog;
  /** Called about every 250 ms while publishing. */
  readonly onProgress?: () => void;
  /**
   * Closed loop: called about every 100 ms; publishing waits for it to resolve and then goes on at
   * `rate` from there, without making up the pause. Used where the point is to push a volume
   * through without loss (memory), not to hold a rate.
   */
  readonly throttle?: () => Promise<void>;
}

export interface LoadResult {
  readonly events: number;
  readonly frames: number;
  readonly seconds: number;
  /** Events per second actually published. */
  readonly rate: number;
}

/** Publishes `model`'s traffic at `rate` events/s until the time or task budget is spent. */
export async function runLoad(model: TrafficModel, publisher: Publisher, options: LoadOptions): Promise<LoadResult> {
  const start = performance.now();
  let t0 = start;
  const first = model.tally.events;
  let events0 = first;
  const tasks0 = model.tally.tasks;
  let lastThrottle = t0;
  const limitMs = options.seconds === undefined ? Infinity : options.seconds * 1000;
  const taskLimit = options.tasks ?? Infinity;
  // At most 20 ms of traffic per burst: after a stall the backlog goes out in steps, not one blob.
  const maxBurst = Math.max(1, Math.ceil(options.rate / 50));
  let frames = 0;
  let lastProgress = t0;
  for (;;) {
    let now = performance.now();
    if (now - start >= limitMs || model.tally.tasks - tasks0 >= taskLimit) break;
    if (options.throttle !== undefined && now - lastThrottle >= 100) {
      publisher.flush();
      await options.throttle();
      lastThrottle = now = performance.now();
      t0 = now;
      events0 = model.tally.events;
    }
    const elapsed = now - t0;
    const due = Math.min(Math.floor((options.rate * elapsed) / 1000) - (model.tally.events - events0), maxBurst);
    if (due > 0) {
      const stamp = Date.now() / 1000;
      for (const frame of model.frames(due, stamp)) {
        frames++;
        const ok = publisher.publish(frame);
        options.log?.record(performance.now(), model.tally.events - events0);
        if (!ok) {
          publisher.flush();
          await publisher.drain();
        }
      }
      publisher.flush();
    }
    if (options.onProgress !== undefined && now - lastProgress >= 250) {
      lastProgress = now;
      options.onProgress();
    }
    // Behind: let I/O run and go on at once. Ahead: sleep until more is due.
    if (due >= maxBurst) await yieldToLoop();
    else await delay(1);
  }
  publisher.flush();
  await publisher.drain();
  const seconds = (performance.now() - start) / 1000;
  const events = model.tally.events - first;
  return { events, frames, seconds, rate: events / seconds };
}
