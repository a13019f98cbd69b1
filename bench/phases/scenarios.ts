// The measurements, each against a real broker and the real daemon: sustained rate without loss,
// CPU per event, publish-to-counter lag and scrape time (memory and soak: memory.ts).
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { EVENTS_FAMILY } from '../infra/daemon.js';
import type { DaemonCounters, DaemonUnderTest } from '../infra/daemon.js';
import { PublishLog, runLoad } from '../infra/load.js';
import type { LoadResult } from '../infra/load.js';
import type { Publisher } from '../infra/publishers.js';
import type { EventType, TrafficModel } from '../infra/traffic.js';

export interface Bench {
  readonly daemon: DaemonUnderTest;
  readonly model: TrafficModel;
  readonly publisher: Publisher;
  readonly say: (line: string) => void;
  /** The subscriber only counts events (the bare yardstick): task counters are not compared. */
  readonly eventsOnly?: boolean;
}

const OUTCOME_OF: Record<string, EventType> = {
  sent: 'task-sent',
  received: 'task-received',
  started: 'task-started',
  succeeded: 'task-succeeded',
  failed: 'task-failed',
  retried: 'task-retried',
  rejected: 'task-rejected',
  revoked: 'task-revoked',
};

interface Mark {
  readonly counters: DaemonCounters;
  readonly tally: ReturnType<TrafficModel['tally']['snapshot']>;
}

/** Differences between what was published since `from` and what the daemon counted: empty when nothing was lost. */
export function mismatches(from: Mark, to: Mark, eventsOnly = false): string[] {
  const out: string[] = [];
  const published = to.tally.events - from.tally.events;
  const decoded = to.counters.events - from.counters.events;
  if (published !== decoded) out.push(`events: published ${published}, decoded ${decoded}`);
  if (eventsOnly) return out;
  for (const [type, n] of Object.entries(to.tally.byType)) {
    const want = n - from.tally.byType[type as EventType];
    const got = (to.counters.byType[type] ?? 0) - (from.counters.byType[type] ?? 0);
    if (want !== got) out.push(`${type}: published ${want}, decoded ${got}`);
  }
  for (const [outcome, type] of Object.entries(OUTCOME_OF)) {
    const want = to.tally.byType[type] - from.tally.byType[type];
    const got = (to.counters.tasks[outcome] ?? 0) - (from.counters.tasks[outcome] ?? 0);
    if (want !== got) out.push(`celery_task_${outcome}_total: published ${want}, counted ${got}`);
  }
  const errors = to.counters.decodeErrors - from.counters.decodeErrors;
  if (errors !== 0) out.push(`decode errors: ${errors}`);
  const dups = to.counters.duplicates - from.counters.duplicates;
  if (dups !== 0) out.push(`duplicates: ${dups}`);
  return out;
}

const SETTLE_FAMILIES = [EVENTS_FAMILY, 'celery_pulse_broker_up'];
const LOOP_BUSY_FAMILY = 'celery_pulse_event_loop_busy_seconds_total';

/**
 * Polls `read` every 25 ms until `done` says the daemon has counted everything published, or until
 * what it has counted (`progress`) has not moved for `stallMs` (then the rest is lost) or
 * `timeoutMs` has passed.
 */
export async function pollCounted<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  progress: (value: T) => string,
  timeoutMs: number,
  stallMs: number,
): Promise<{ value: T; waitedMs: number; caughtUp: boolean }> {
  const t0 = performance.now();
  let last: string | undefined;
  let lastChange = t0;
  for (;;) {
    const value = await read();
    const now = performance.now();
    if (done(value)) return { value, waitedMs: now - t0, caughtUp: true };
    const moved = progress(value);
    if (moved !== last) {
      last = moved;
      lastChange = now;
    }
    if (now - t0 > timeoutMs || now - lastChange > stallMs) return { value, waitedMs: now - t0, caughtUp: false };
    await delay(25);
  }
}

/**
 * Waits until the daemon has counted everything published (returns the time it took), or until its
 * counters stop moving for a while (then the rest is lost). Task counters may trail the event
 * counter by the unknown-task grace, so they are waited for too.
 */
export async function settle(b: Bench, timeoutMs: number): Promise<{ mark: Mark; waitedMs: number; caughtUp: boolean }> {
  // Polled with the two families it needs: a full scrape every 25 ms took a good share of the
  // daemon's CPU while it drained a backlog, slowing the very drain being timed.
  const r = await pollCounted(
    async () => ({ counters: await b.daemon.counters(SETTLE_FAMILIES), tally: b.model.tally.snapshot() }),
    ({ counters, tally }) => counters.events === tally.events && counters.brokerUp >= 1,
    ({ counters }) => String(counters.events),
    timeoutMs,
    3000,
  );
  return { mark: { counters: await b.daemon.counters(), tally: r.value.tally }, waitedMs: r.waitedMs, caughtUp: r.caughtUp };
}

/**
 * The counters once they have stopped moving (after a loss they never catch up). Task counters can
 * move after the event counter has caught up (events held for the unknown-task grace), so they are
 * read until two reads a second apart agree.
 */
export async function mark(b: Bench): Promise<Mark> {
  let m = (await settle(b, 15_000)).mark;
  for (let i = 0; i < 6; i++) {
    await delay(1000);
    const again: Mark = { counters: await b.daemon.counters(), tally: m.tally };
    if (JSON.stringify(again.counters.tasks) === JSON.stringify(m.counters.tasks) && again.counters.events === m.counters.events) return m;
    m = again;
  }
  return m;
}

export interface RateStep {
  readonly target: number;
  readonly achieved: number;
  readonly seconds: number;
  readonly events: number;
  /** Time after the last publish until the daemon had counted everything. */
  readonly drainMs: number;
  readonly lost: number;
  readonly mismatches: string[];
  readonly cpuMsPer10k: number;
  /**
   * Share of the step's wall time (publishing and draining) the daemon's event loop was busy, from
   * its own celery_pulse_event_loop_busy_seconds_total; undefined for the yardstick. Near 1 the
   * daemon has no time to spare: the figure its saturation alert watches.
   */
  readonly loopBusy: number | undefined;
  /** The generator could not publish at the target rate: the step says nothing about the daemon. */
  readonly generatorLimited: boolean;
  readonly pass: boolean;
}

/** A backlog larger than this after the last publish means the daemon was not keeping up. */
const MAX_DRAIN_MS = 1000;

/** Publishes at `rate` for `seconds` and checks that every event was counted, promptly. */
export async function rateStep(b: Bench, rate: number, seconds: number): Promise<RateStep> {
  const from = await mark(b);
  // Read afresh: the mark's own counters can be a second old.
  const busy0 = (await b.daemon.counters([LOOP_BUSY_FAMILY])).loopBusySeconds;
  const t0 = performance.now();
  const cpu0 = b.daemon.cpuSeconds();
  const load: LoadResult = await runLoad(b.model, b.publisher, { rate, seconds });
  const drained = await settle(b, 10_000);
  const cpu1 = b.daemon.cpuSeconds();
  const wallSeconds = (performance.now() - t0) / 1000;
  const busy1 = drained.mark.counters.loopBusySeconds;
  // Task counters can trail by the unknown-task grace: give them a moment before calling it a loss.
  let to = drained.mark;
  let diff = mismatches(from, to, b.eventsOnly);
  for (let i = 0; i < 20 && diff.length > 0 && drained.caughtUp; i++) {
    await delay(500);
    to = { counters: await b.daemon.counters(), tally: b.model.tally.snapshot() };
    diff = mismatches(from, to, b.eventsOnly);
  }
  const lost = load.events - (to.counters.events - from.counters.events);
  const generatorLimited = load.rate < rate * 0.97;
  const step: RateStep = {
    target: rate,
    achieved: Math.round(load.rate),
    seconds: round(load.seconds, 2),
    events: load.events,
    drainMs: Math.round(drained.waitedMs),
    lost,
    mismatches: diff,
    cpuMsPer10k: round(((cpu1 - cpu0) * 1000 * 10_000) / Math.max(load.events, 1), 1),
    loopBusy: busy0 === undefined || busy1 === undefined ? undefined : round((busy1 - busy0) / wallSeconds, 2),
    generatorLimited,
    pass: diff.length === 0 && drained.caughtUp && drained.waitedMs <= MAX_DRAIN_MS,
  };
  b.say(
    `  ${fmtRate(rate)} target, ${fmtRate(step.achieved)} published: ${step.pass ? 'ok' : 'FAIL'}` +
      ` (drain ${step.drainMs} ms, lost ${lost}, ${step.cpuMsPer10k} ms CPU/10k events${step.loopBusy === undefined ? '' : `, loop busy ${step.loopBusy}`}${generatorLimited ? ', generator-limited' : ''})` +
      (diff.length > 0 ? `\n    ${diff.slice(0, 4).join('\n    ')}` : ''),
  );
  return step;
}

export interface LadderResult {
  readonly steps: RateStep[];
  /** Highest rate that passed (published on time, nothing lost, backlog drained within 1 s). */
  readonly maxSustained: number;
  /** True when the generator, not the daemon, ran out first: the daemon can do at least maxSustained. */
  readonly generatorLimited: boolean;
  /** True when every rate of the ladder passed: the ceiling is above it, not found. */
  readonly ladderTopped?: boolean;
}

/** Raises the rate step by step until the daemon loses events or falls behind, then bisects once. */
export async function findMaxRate(b: Bench, rates: readonly number[], seconds: number): Promise<LadderResult> {
  const steps: RateStep[] = [];
  let best = 0;
  let failedAt: number | undefined;
  for (const rate of rates) {
    const step = await rateStep(b, rate, seconds);
    steps.push(step);
    if (step.generatorLimited && step.pass) {
      best = Math.max(best, step.achieved);
      return { steps, maxSustained: best, generatorLimited: true };
    }
    if (!step.pass) {
      failedAt = rate;
      break;
    }
    best = rate;
  }
  if (failedAt !== undefined && best > 0) {
    await recover(b);
    const mid = Math.round((best + failedAt) / 2 / 1000) * 1000;
    if (mid > best && mid < failedAt) {
      const step = await rateStep(b, mid, seconds);
      steps.push(step);
      // A step the generator could not hold proves only the rate it reached, not its target.
      if (step.pass && step.generatorLimited) return { steps, maxSustained: Math.max(best, step.achieved), generatorLimited: step.achieved > best };
      if (step.pass) best = mid;
    }
  }
  return { steps, maxSustained: best, generatorLimited: false, ladderTopped: failedAt === undefined };
}

/** After a failed step: wait for the daemon to be subscribed again and idle. */
async function recover(b: Bench): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const c = await b.daemon.counters();
    if (c.brokerUp >= 1) break;
    await delay(200);
  }
  await mark(b);
}

export interface LagResult {
  readonly rate: number;
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly lost: number;
}

/** The lag probe's polling interval: small next to the 50 ms target, so the figure is the pipeline's. */
export const LAG_POLL_MS = 5;

export interface LagRun extends LagResult {
  /** Response times of the lag probes (`/metrics?name[]=celery_pulse_events_received_total`). */
  readonly probes: number[];
  /** Response times of the full scrapes made meanwhile (only with `fullScrapeEveryMs`). */
  readonly fullScrapes: number[];
}

/**
 * Publish-to-counter lag at a steady rate. While publishing, the events counter alone is polled
 * every `pollMs` (`/metrics?name[]=celery_pulse_events_received_total`, a few lines, so the probe
 * itself costs the daemon next to nothing); each poll reads how many events the daemon has counted
 * (C) and the lag sample is the poll's response time minus the time the frame holding the C-th
 * event was published. That is an upper bound of the C-th event's lag: it includes the probe's
 * HTTP round trip (request, serializing the few lines, response) and up to one frame interval
 * (~2 ms at 10k/s); the polling interval itself is not in it, it only sets how often a sample is
 * taken. With `fullScrapeEveryMs`, another loop meanwhile scrapes the whole exposition at that
 * interval, and the lag shows what full scrapes cost ingestion.
 */
export async function measureLag(b: Bench, rate: number, seconds: number, pollMs: number, opts: { fullScrapeEveryMs?: number } = {}): Promise<LagRun> {
  const from = await mark(b);
  const base = from.counters.events;
  const log = new PublishLog();
  const samples: number[] = [];
  const probes: number[] = [];
  const fullScrapes: number[] = [];
  let running = true;
  const poller = (async () => {
    while (running) {
      const tReq = performance.now();
      const text = await b.daemon.scrape([EVENTS_FAMILY]);
      const tResp = performance.now();
      probes.push(tResp - tReq);
      const counted = eventsCounted(text) - base;
      const tPub = counted > 0 ? log.timeOf(counted) : undefined;
      if (tPub !== undefined) samples.push(tResp - tPub);
      await delay(pollMs);
    }
  })();
  const every = opts.fullScrapeEveryMs;
  const scraper =
    every === undefined
      ? Promise.resolve()
      : (async () => {
          while (running) {
            fullScrapes.push(await timeScrape(b));
            await delay(every);
          }
        })();
  const load = await runLoad(b.model, b.publisher, { rate, seconds, log });
  running = false;
  await Promise.all([poller, scraper]);
  const to = await mark(b);
  samples.sort((x, y) => x - y);
  return {
    rate: Math.round(load.rate),
    samples: samples.length,
    p50Ms: round(quantile(samples, 0.5), 1),
    p99Ms: round(quantile(samples, 0.99), 1),
    maxMs: round(samples[samples.length - 1] ?? NaN, 1),
    lost: load.events - (to.counters.events - from.counters.events),
    probes,
    fullScrapes,
  };
}

/** celery_pulse_events_received_total summed, read without parsing the whole exposition. */
export function eventsCounted(exposition: string): number {
  const text = `\n${exposition}`;
  let sum = 0;
  let i = text.indexOf('\ncelery_pulse_events_received_total');
  while (i >= 0) {
    const end = text.indexOf('\n', i + 1);
    const line = text.slice(i + 1, end < 0 ? undefined : end);
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    i = text.indexOf('\ncelery_pulse_events_received_total', i + 1);
  }
  return sum;
}

export interface ScrapeResult {
  readonly series: number;
  readonly bytes: number;
  readonly idle: { p50Ms: number; p99Ms: number; maxMs: number };
  /** Scrape times while events flow, and the lag of those events meanwhile. */
  readonly underLoad: { p50Ms: number; p99Ms: number; maxMs: number; lag: LagResult };
}

/**
 * Times full /metrics scrapes, idle and then every `scrapeEveryMs` while events flow (far more
 * often than Prometheus), with the event lag measured meanwhile by the filtered probe of
 * measureLag: the lag shows what full scrapes cost ingestion.
 */
export async function measureScrape(b: Bench, scrapes: number, loadRate: number, loadSeconds: number, scrapeEveryMs: number): Promise<ScrapeResult> {
  const text = await b.daemon.scrape();
  const times: number[] = [];
  for (let i = 0; i < scrapes; i++) times.push(await timeScrape(b));
  const { probes: _probes, fullScrapes, ...lag } = await measureLag(b, loadRate, loadSeconds, LAG_POLL_MS, { fullScrapeEveryMs: scrapeEveryMs });
  return { series: countSeries(text), bytes: Buffer.byteLength(text), idle: summary(times), underLoad: { ...summary(fullScrapes), lag } };
}

async function timeScrape(b: Bench): Promise<number> {
  const t0 = performance.now();
  await b.daemon.scrape();
  return performance.now() - t0;
}

export function countSeries(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line !== '' && line.charCodeAt(0) !== 35) n++;
  return n;
}

function summary(values: number[]): { p50Ms: number; p99Ms: number; maxMs: number } {
  const v = [...values].sort((a, b) => a - b);
  return { p50Ms: round(quantile(v, 0.5), 1), p99Ms: round(quantile(v, 0.99), 1), maxMs: round(v[v.length - 1] ?? NaN, 1) };
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
}

export function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export function mb(bytes: number): number {
  return round(bytes / 1024 / 1024, 1);
}

export function fmtRate(r: number): string {
  return `${(r / 1000).toFixed(r % 1000 === 0 ? 0 : 1)}k/s`;
}

export function fmtCount(n: number): string {
  return n >= 1e6 ? `${round(n / 1e6, 2)}M` : n >= 1e3 ? `${round(n / 1e3, 1)}k` : String(n);
}
