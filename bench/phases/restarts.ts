// Soak with broker restarts: constant Celery traffic into a real broker that is SIGKILLed and
// started again on the same port every `restartEvery` seconds of traffic. Each cycle proves that
// nothing was lost while the broker was up (the only loss allowed is the gap while it is down, and
// the generator publishes nothing then), that the daemon noticed the loss and came back (one
// reconnect per restart), and samples its memory; over the whole run memory must stay flat.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { BrokerUnderTest } from '../infra/brokers.js';
import type { DaemonUnderTest } from '../infra/daemon.js';
import { runLoad } from '../infra/load.js';
import { backlogBelow, slope } from './memory.js';
import { fmtCount, fmtRate, mb, mismatches, round, settle } from './scenarios.js';
import type { Bench } from './scenarios.js';
import { TrafficModel } from '../infra/traffic.js';

export interface RestartsOptions {
  /** Seconds of traffic in all; a restart follows every `restartEvery` seconds of it (and the last cycle). */
  readonly seconds: number;
  readonly restartEvery: number;
  /** Seconds the broker stays down before it is started again. */
  readonly downSeconds: number;
  /** Events per second while the broker is up. */
  readonly rate: number;
  /** The daemon's --max-tracked-tasks: twice as many task ids go through before the first cycle. */
  readonly maxTrackedTasks: number;
  readonly idPrefix: string;
  readonly say: (line: string) => void;
}

export interface RestartCycle {
  readonly cycle: number;
  /** Events published while the broker was up, and what the daemon counted of them. */
  readonly published: number;
  readonly counted: number;
  /** Every way the daemon's counters differ from the tally, and any "lost the broker" while it was up. */
  readonly mismatches: string[];
  /** RSS after the cycle's traffic was counted, before the kill. */
  readonly rssMb: number;
  /** Seconds from SIGKILL to celery_pulse_broker_up 0. */
  readonly downNoticedS: number;
  /** Seconds the broker took to start again (down time excluded). */
  readonly brokerStartS: number;
  /** Seconds from the broker accepting clients again to celery_pulse_broker_up 1. */
  readonly backAfterS: number;
  /** celery_pulse_broker_reconnects_total once back: one per restart so far. */
  readonly reconnects: number;
}

export interface RestartsResult {
  readonly rate: number;
  readonly seconds: number;
  readonly restartEvery: number;
  readonly downSeconds: number;
  readonly cycles: RestartCycle[];
  readonly published: number;
  /** Published while up minus counted, over all cycles: must be 0. */
  readonly lost: number;
  readonly cyclesWithLoss: number;
  /** Reconnects counted at the end, and whether that is exactly one per restart. */
  readonly reconnects: number;
  readonly reconnectsExact: boolean;
  readonly maxDownNoticedS: number;
  readonly maxBackAfterS: number;
  /** RSS every 5 s of traffic after the warm-up (seconds since the first cycle, MB). */
  readonly rssTimes: number[];
  readonly rssMb: number[];
  readonly firstHalfMaxMb: number;
  readonly secondHalfMaxMb: number;
  /** Least-squares slope of RSS over the second half, MB per minute. */
  readonly slopeMbPerMin: number;
  /**
   * The second half's highest RSS is within max(10 MB, 5 %) of the first half's; undefined (not
   * judged) for runs under MIN_JUDGED_SECONDS of traffic: under this churn V8 grows the heap for a
   * few minutes and then shrinks it, so a shorter window cannot tell that sawtooth from a leak.
   */
  readonly flat: boolean | undefined;
  readonly pass: boolean;
}

/** Traffic needed before memory is judged flat or not: a few of V8's grow-and-shrink periods. */
export const MIN_JUDGED_SECONDS = 180;

async function waitUp(daemon: DaemonUnderTest, up: 0 | 1, timeoutMs: number): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if ((await daemon.counters()).brokerUp === up) return round((performance.now() - t0) / 1000, 2);
    if (performance.now() - t0 > timeoutMs) throw new Error(`celery_pulse_broker_up never became ${up} (${timeoutMs / 1000} s)`);
    await delay(50);
  }
}

/** Runs the cycles on `daemon`, a fresh one attached to `broker`. */
export async function restartSoak(broker: BrokerUnderTest, daemon: DaemonUnderTest, o: RestartsOptions): Promise<RestartsResult> {
  const model = new TrafficModel({ idPrefix: o.idPrefix });
  // Warm-up, as fast as the daemon keeps up: twice the table's cap in distinct task ids, so that
  // the table is full and V8's heap has mostly grown to its working size under this churn.
  // Neither is then taken for a leak.
  {
    const publisher = await broker.publisher();
    const b: Bench = { daemon, publisher, model, say: o.say };
    const t0 = performance.now();
    await runLoad(model, publisher, { rate: 50_000, tasks: o.maxTrackedTasks * 2, throttle: () => backlogBelow(b, 30_000) });
    const warm = await settle(b, 30_000);
    await publisher.close();
    // A fresh daemon and model: both start from zero.
    if (!warm.caughtUp) throw new Error(`warm-up: published ${warm.mark.tally.events} events, the daemon counted ${warm.mark.counters.events}`);
    o.say(`  warm-up: ${fmtCount(model.tally.tasks)} task ids in ${round((performance.now() - t0) / 1000, 1)} s, ${warm.mark.counters.trackedTasks} tracked, RSS ${mb(daemon.memory().rss)} MB`);
  }
  const cycles: RestartCycle[] = [];
  const rssTimes: number[] = [];
  const rssMb: number[] = [];
  let traffic = 0;
  let outputSeen = daemon.output.length;
  const t0 = performance.now();
  let nextSample = 0;
  const sample = (): void => {
    const t = (performance.now() - t0) / 1000;
    if (t < nextSample) return;
    nextSample = t + 5;
    rssTimes.push(round(t, 1));
    rssMb.push(mb(daemon.memory().rss));
  };
  for (let cycle = 1; traffic < o.seconds - 0.5; cycle++) {
    const publisher = await broker.publisher();
    const b: Bench = { daemon, publisher, model, say: o.say };
    const from = (await settle(b, 15_000)).mark;
    const load = await runLoad(model, publisher, { rate: o.rate, seconds: Math.min(o.restartEvery, o.seconds - traffic), onProgress: sample });
    traffic += load.seconds;
    const drained = await settle(b, 30_000);
    let to = drained.mark;
    let diff = mismatches(from, to);
    // Task counters can trail the event counter by --unknown-task-grace (5 s): an event that came
    // before its task-received is held that long. Give them that before calling it a loss.
    for (let i = 0; i < 16 && diff.length > 0 && drained.caughtUp; i++) {
      await delay(500);
      to = { counters: await daemon.counters(), tally: model.tally.snapshot() };
      diff = mismatches(from, to);
    }
    if (publisher.undelivered > 0) diff.push(`${publisher.undelivered} frames reached no subscriber`);
    // Why the daemon let go of a broker that was up, in its own words.
    const drops = daemon.output.slice(outputSeen).split('\n').filter((l) => l.includes('lost the broker'));
    diff.push(...drops);
    await publisher.close();
    const rss = mb(daemon.memory().rss);
    await broker.kill();
    const downNoticedS = await waitUp(daemon, 0, 30_000);
    await delay(o.downSeconds * 1000);
    const s0 = performance.now();
    await broker.revive();
    const brokerStartS = round((performance.now() - s0) / 1000, 2);
    const backAfterS = await waitUp(daemon, 1, 60_000);
    outputSeen = daemon.output.length;
    const c: RestartCycle = {
      cycle,
      published: to.tally.events - from.tally.events,
      counted: to.counters.events - from.counters.events,
      mismatches: diff,
      rssMb: rss,
      downNoticedS,
      brokerStartS,
      backAfterS,
      reconnects: (await daemon.counters()).reconnects,
    };
    cycles.push(c);
    o.say(
      `  cycle ${cycle}: published ${fmtCount(c.published)} while up, counted ${fmtCount(c.counted)}${diff.length > 0 ? ` (${diff.slice(0, 3).join('; ')})` : ''}, ` +
        `RSS ${rss} MB; killed: broker_up 0 after ${downNoticedS} s; broker started in ${brokerStartS} s, broker_up 1 ${backAfterS} s later; reconnects ${c.reconnects}`,
    );
  }
  const half = Math.floor(rssMb.length / 2);
  const first = rssMb.slice(0, Math.max(half, 1));
  const second = rssMb.slice(half);
  const firstHalfMaxMb = Math.max(...first);
  const secondHalfMaxMb = Math.max(...second);
  const flat = traffic < MIN_JUDGED_SECONDS ? undefined : secondHalfMaxMb <= firstHalfMaxMb + Math.max(10, firstHalfMaxMb * 0.05);
  const published = cycles.reduce((a, c) => a + c.published, 0);
  const lost = cycles.reduce((a, c) => a + c.published - c.counted, 0);
  const cyclesWithLoss = cycles.filter((c) => c.mismatches.length > 0 || c.published !== c.counted).length;
  const reconnects = cycles[cycles.length - 1]?.reconnects ?? 0;
  const reconnectsExact = cycles.every((c) => c.reconnects === c.cycle);
  return {
    rate: o.rate,
    seconds: o.seconds,
    restartEvery: o.restartEvery,
    downSeconds: o.downSeconds,
    cycles,
    published,
    lost,
    cyclesWithLoss,
    reconnects,
    reconnectsExact,
    maxDownNoticedS: Math.max(...cycles.map((c) => c.downNoticedS)),
    maxBackAfterS: Math.max(...cycles.map((c) => c.backAfterS)),
    rssTimes,
    rssMb,
    firstHalfMaxMb,
    secondHalfMaxMb,
    slopeMbPerMin: round(slope(rssTimes.slice(half), second) * 60, 2),
    flat,
    pass: cyclesWithLoss === 0 && reconnectsExact && flat !== false,
  };
}

/** One line for the log. */
export function describeRestarts(kind: string, r: RestartsResult): string {
  return (
    `  ${kind}: ${r.cycles.length} restarts, ${fmtCount(r.published)} events at ${fmtRate(r.rate)} while up, lost ${r.lost} (${r.cyclesWithLoss} cycles with loss); ` +
    `broker_up 0 within ${r.maxDownNoticedS} s of a kill, 1 within ${r.maxBackAfterS} s of a restart; reconnects ${r.reconnects}${r.reconnectsExact ? '' : ' (NOT one per restart)'}; ` +
    `RSS max ${r.firstHalfMaxMb} MB first half, ${r.secondHalfMaxMb} MB second half, slope ${r.slopeMbPerMin} MB/min: ${flatness(r)} → ${r.pass ? 'pass' : 'FAIL'}`
  );
}

export function flatness(r: RestartsResult): string {
  return r.flat === undefined ? `not judged (under ${MIN_JUDGED_SECONDS} s of traffic)` : r.flat ? 'flat' : 'NOT FLAT';
}
