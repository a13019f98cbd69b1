// Sidecar mode under load: a daemon with --only-worker for one worker of the traffic, fed the
// broker's whole stream. It drops the other workers' messages before decoding them, so what it
// costs per event of the stream, and the rate it keeps up with, differ from the standalone's.
// A step passes when it lost nothing: the messages it dropped undecoded are exactly the other
// workers' messages published, the events it decoded exactly its worker's events and every
// task-sent, and its connection never dropped.
import { performance } from 'node:perf_hooks';
import type { DaemonCounters, DaemonUnderTest } from '../infra/daemon.js';
import { runLoad } from '../infra/load.js';
import type { Publisher } from '../infra/publishers.js';
import { fmtRate, pollCounted, round } from './scenarios.js';
import type { Frame, TrafficModel } from '../infra/traffic.js';

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

const SIDECAR_FAMILIES = [
  'celery_pulse_events_received_total',
  'celery_pulse_messages_filtered_total',
  'celery_pulse_broker_reconnects_total',
  'celery_pulse_event_loop_busy_seconds_total',
];

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
    if (after.events !== tally.mine) mismatches.push(`decoded ${after.events} events, its worker's and task-sent: ${tally.mine}`);
    if (after.messagesFiltered !== tally.others) mismatches.push(`dropped ${after.messagesFiltered} messages undecoded, other workers': ${tally.others}`);
    if (after.reconnects !== before.reconnects) mismatches.push(`reconnected ${after.reconnects - before.reconnects} times`);
    const events = model.tally.events - events0;
    const step: SidecarStep = {
      target: rate,
      achieved: Math.round(load.rate),
      events,
      cpuMsPer10k: round(((cpu1 - cpu0) * 1000 * 10_000) / Math.max(events, 1), 1),
      loopBusy: before.loopBusySeconds === undefined || after.loopBusySeconds === undefined ? undefined : round((after.loopBusySeconds - before.loopBusySeconds) / wall, 2),
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
async function settle(daemon: DaemonUnderTest, tally: SidecarTally, timeoutMs: number): Promise<DaemonCounters> {
  const r = await pollCounted(
    () => daemon.counters(SIDECAR_FAMILIES),
    (c) => c.events === tally.mine && c.messagesFiltered === tally.others,
    (c) => `${c.events}/${c.messagesFiltered}`,
    timeoutMs,
    2000,
  );
  return r.value;
}
