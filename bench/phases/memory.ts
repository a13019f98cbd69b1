// Memory: distinct task ids pushed through the daemon as fast as it keeps up (closed loop), RSS at
// checkpoints, and RSS over a soak at constant load.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { runLoad } from '../infra/load.js';
import { eventsCounted, fmtCount, mark, mb, round } from './scenarios.js';
import type { Bench } from './scenarios.js';

export interface MemoryPoint {
  readonly tasks: number;
  readonly events: number;
  /** Events per second over the whole phase so far (as fast as the daemon kept up). */
  readonly rate: number;
  readonly rssMb: number;
  readonly peakRssMb: number;
  /** V8 heap committed and used, and buffers outside it, from the daemon's nodejs_* metrics. */
  readonly heapTotalMb: number;
  readonly heapUsedMb: number;
  readonly externalMb: number;
  /** Task ids the daemon holds (celery_pulse_tracked_tasks): at most --max-tracked-tasks. */
  readonly trackedTasks: number;
  readonly lost: number;
}

/** Pushes distinct task ids through the daemon and reads its memory at each checkpoint. */
export async function measureMemory(b: Bench, rate: number, checkpoints: readonly number[]): Promise<MemoryPoint[]> {
  const points: MemoryPoint[] = [];
  const from = await mark(b);
  const tasks0 = b.model.tally.tasks;
  const start = performance.now();
  for (const target of checkpoints) {
    const todo = target - (b.model.tally.tasks - tasks0);
    const t0 = performance.now();
    await runLoad(b.model, b.publisher, { rate, tasks: todo, throttle: () => backlogBelow(b, 30_000) });
    const to = await mark(b);
    const mem = b.daemon.memory();
    const heap = await b.daemon.heap();
    const point: MemoryPoint = {
      tasks: b.model.tally.tasks - tasks0,
      events: to.tally.events - from.tally.events,
      rate: Math.round(((to.tally.events - from.tally.events) * 1000) / (performance.now() - start)),
      rssMb: mb(mem.rss),
      peakRssMb: mb(mem.peak),
      heapTotalMb: mb(heap.heapTotal),
      heapUsedMb: mb(heap.heapUsed),
      externalMb: mb(heap.external),
      trackedTasks: to.counters.trackedTasks,
      lost: to.tally.events - from.tally.events - (to.counters.events - from.counters.events),
    };
    points.push(point);
    b.say(
      `  ${fmtCount(point.tasks)} task ids (${fmtCount(point.events)} events, ${round((performance.now() - t0) / 1000, 1)} s): ` +
        `RSS ${point.rssMb} MB, peak ${point.peakRssMb} MB (V8 heap ${point.heapUsedMb} MB used of ${point.heapTotalMb} MB, buffers ${point.externalMb} MB), ${fmtCount(point.trackedTasks)} tracked, lost ${point.lost}`,
    );
  }
  return points;
}

/**
 * Waits while the daemon is more than `events` behind the generator (with one 100 ms burst on top,
 * under 20 MB of frames: inside Redis's 32 MB pub/sub output buffer limit). Gives up once its
 * counter stops moving: then events were lost (the checkpoint reports how many) and waiting longer
 * would wait forever.
 */
export async function backlogBelow(b: Bench, events: number): Promise<void> {
  let last = -1;
  let lastChange = performance.now();
  for (;;) {
    const counted = eventsCounted(await b.daemon.scrape());
    if (b.model.tally.events - counted <= events) return;
    if (counted !== last) {
      last = counted;
      lastChange = performance.now();
    } else if (performance.now() - lastChange > 2000) return;
    // Each poll is a full scrape, which costs the daemon what it would spend on events.
    await delay(100);
  }
}

export interface SoakResult {
  readonly rate: number;
  readonly seconds: number;
  readonly rssMb: number[];
  readonly firstMb: number;
  readonly lastMb: number;
  readonly maxMb: number;
  /** Least-squares slope of RSS over the second half of the soak, MB per minute. */
  readonly slopeMbPerMin: number;
  readonly lost: number;
}

/** Constant load for `seconds`, RSS sampled every `everyS` seconds. */
export async function soak(b: Bench, rate: number, seconds: number, everyS: number): Promise<SoakResult> {
  const from = await mark(b);
  const rss: number[] = [];
  const times: number[] = [];
  const t0 = performance.now();
  let next = 0;
  const sample = (): void => {
    const t = (performance.now() - t0) / 1000;
    if (t < next) return;
    next += everyS;
    rss.push(mb(b.daemon.memory().rss));
    times.push(t);
  };
  sample();
  await runLoad(b.model, b.publisher, { rate, seconds, onProgress: sample });
  const to = await mark(b);
  rss.push(mb(b.daemon.memory().rss));
  times.push((performance.now() - t0) / 1000);
  const half = Math.floor(rss.length / 2);
  return {
    rate,
    seconds,
    rssMb: rss,
    firstMb: rss[0] ?? NaN,
    lastMb: rss[rss.length - 1] ?? NaN,
    maxMb: Math.max(...rss),
    slopeMbPerMin: round(slope(times.slice(half), rss.slice(half)) * 60, 2),
    lost: to.tally.events - from.tally.events - (to.counters.events - from.counters.events),
  };
}

export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, x) => a + x, 0) / n;
  const my = ys.reduce((a, y) => a + y, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}
