// Sidecar mode under load: a daemon with --only-worker for one worker of the traffic, fed the
// broker's whole stream. It drops the other workers' messages before decoding them, so what it
// costs per event of the stream, and the rate it keeps up with, differ from the standalone's.
// A step passes when it lost nothing: the messages it dropped undecoded are exactly the other
// workers' messages published, the events it decoded exactly its worker's events and every
// task-sent, and its connection never dropped.
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import type { DaemonUnderTest } from './daemon.js';
import { runLoad } from './load.js';
import type { Publisher } from './publishers.js';
import { fmtRate, round } from './scenarios.js';
import type { Frame, TrafficModel } from './traffic.js';

/** The worker the sidecar watches: the first of the traffic model's 40. */
export const SIDECAR_WORKER = 'celery@worker-0.prod';

export interface SidecarStep {
  readonly target: number;
  readonly achieved: number;
  /** Events of the whole stream published during the step. */
  readonly events: number;
  /** CPU per 10k events of the whole stream. */
  readonly cpuMsPer10k: number;
  readonly loopBusy: number | undefined;
  readonly mismatches: string[];
  readonly generatorLimited: boolean;
  readonly pass: boolean;
}

export interface SidecarResult {
  readonly worker: string;
  readonly steps: SidecarStep[];
  readonly maxSustained: number;
  /** Every step passed up to one the generator could not publish at: the ceiling is higher. */
  readonly generatorLimited: boolean;
}

/** What the sidecar must count: tallied per message as it is published. */
class SidecarTally {
  /** Events it must decode: its worker's, and every task-sent. */
  mine = 0;
  /** Messages it must drop undecoded: every other worker's. */
  others = 0;

  count(frame: Frame): void {
    if (frame.routingKey === 'task.sent' || frame.hostname === SIDECAR_WORKER) this.mine += frame.events;
    else this.others++;
  }
}

function tallying(publisher: Publisher, tally: SidecarTally): Publisher {
  return {
    publish: (frame) => {
      tally.count(frame);
      return publisher.publish(frame);
    },
    flush: () => publisher.flush(),
    drain: () => publisher.drain(),
    get undelivered() {
      return publisher.undelivered;
    },
    close: () => publisher.close(),
  };
}

interface SidecarCounters {
  readonly decoded: number;
  readonly dropped: number;
  readonly reconnects: number;
  readonly busy: number | undefined;
}

async function read(daemon: DaemonUnderTest): Promise<SidecarCounters> {
  const text = await daemon.scrape(['celery_pulse_events_received_total', 'celery_pulse_messages_filtered_total', 'celery_pulse_broker_reconnects_total', 'celery_pulse_event_loop_busy_seconds_total']);
  let decoded = 0;
  let dropped = 0;
  let reconnects = 0;
  let busy: number | undefined;
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('celery_pulse_events_received_total')) decoded += value;
    else if (line.startsWith('celery_pulse_messages_filtered_total')) dropped += value;
    else if (line.startsWith('celery_pulse_broker_reconnects_total')) reconnects += value;
    else if (line.startsWith('celery_pulse_event_loop_busy_seconds_total')) busy = value;
  }
  return { decoded, dropped, reconnects, busy };
}

/** Steps up `rates` until a step loses something; `model` must be fresh (its tally starts at 0). */
export async function sidecarLadder(
  daemon: DaemonUnderTest,
  publisher: Publisher,
  model: TrafficModel,
  rates: readonly number[],
  seconds: number,
  say: (line: string) => void,
): Promise<SidecarResult> {
  const tally = new SidecarTally();
  const pub = tallying(publisher, tally);
  await runLoad(model, pub, { rate: 20_000, seconds: 2 });
  const steps: SidecarStep[] = [];
  let maxSustained = 0;
  let generatorLimited = false;
  for (const rate of rates) {
    const before = await settle(daemon, tally, 10_000);
    const t0 = performance.now();
    const cpu0 = daemon.cpuSeconds();
    const events0 = model.tally.events;
    const load = await runLoad(model, pub, { rate, seconds });
    const after = await settle(daemon, tally, 10_000);
    const cpu1 = daemon.cpuSeconds();
    const wall = (performance.now() - t0) / 1000;
    const mismatches: string[] = [];
    if (after.counters.decoded !== tally.mine) mismatches.push(`decoded ${after.counters.decoded} events, its worker's and task-sent: ${tally.mine}`);
    if (after.counters.dropped !== tally.others) mismatches.push(`dropped ${after.counters.dropped} messages undecoded, other workers': ${tally.others}`);
    if (after.counters.reconnects !== before.counters.reconnects) mismatches.push(`reconnected ${after.counters.reconnects - before.counters.reconnects} times`);
    const events = model.tally.events - events0;
    const step: SidecarStep = {
      target: rate,
      achieved: Math.round(load.rate),
      events,
      cpuMsPer10k: round(((cpu1 - cpu0) * 1000 * 10_000) / Math.max(events, 1), 1),
      loopBusy: before.counters.busy === undefined || after.counters.busy === undefined ? undefined : round((after.counters.busy - before.counters.busy) / wall, 2),
      mismatches,
      generatorLimited: load.rate < rate * 0.97,
      pass: mismatches.length === 0,
    };
    steps.push(step);
    say(
      `  ${fmtRate(rate)} target, ${fmtRate(step.achieved)} published: ${step.pass ? 'ok' : 'FAIL'} (${step.cpuMsPer10k} ms CPU/10k events of the stream, loop busy ${step.loopBusy ?? '–'}` +
        `${step.generatorLimited ? ', generator-limited' : ''})${mismatches.length > 0 ? `\n    ${mismatches.join('\n    ')}` : ''}`,
    );
    if (!step.pass) break;
    maxSustained = Math.max(maxSustained, step.achieved);
    if (step.generatorLimited) {
      generatorLimited = true;
      break;
    }
  }
  return { worker: SIDECAR_WORKER, steps, maxSustained, generatorLimited };
}

/** Waits until the sidecar has accounted for every message published, or its counters stop moving. */
async function settle(daemon: DaemonUnderTest, tally: SidecarTally, timeoutMs: number): Promise<{ counters: SidecarCounters }> {
  const t0 = performance.now();
  let last = '';
  let lastChange = t0;
  for (;;) {
    const counters = await read(daemon);
    if (counters.decoded === tally.mine && counters.dropped === tally.others) return { counters };
    const now = performance.now();
    const key = `${counters.decoded}/${counters.dropped}`;
    if (key !== last) {
      last = key;
      lastChange = now;
    } else if (now - lastChange > 2000 || now - t0 > timeoutMs) return { counters };
    await delay(25);
  }
}
