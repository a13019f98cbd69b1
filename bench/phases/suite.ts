// One broker's benchmark, phase by phase, each phase on a fresh daemon where its state would
// otherwise skew the next: throughput and lag; /metrics with 10k series; memory and soak; a soak
// with broker restarts.
import { performance } from 'node:perf_hooks';
import { startBroker } from '../infra/brokers.js';
import type { BrokerKind, BrokerUnderTest } from '../infra/brokers.js';
import { DaemonUnderTest } from '../infra/daemon.js';
import { runLoad } from '../infra/load.js';
import type { Publisher } from '../infra/publishers.js';
import { LAG_POLL_MS, countSeries, findMaxRate, rateStep, fmtCount, fmtRate, measureLag, measureScrape } from './scenarios.js';
import { measureMemory, soak } from './memory.js';
import type { MemoryPoint, SoakResult } from './memory.js';
import type { Bench, LadderResult, RateStep, LagResult, ScrapeResult } from './scenarios.js';
import { describeRestarts, restartSoak } from './restarts.js';
import type { RestartsResult } from './restarts.js';
import { SIDECAR_WORKER, sidecarLadder } from './sidecar.js';
import type { SidecarResult } from './sidecar.js';
import { TrafficModel } from '../infra/traffic.js';
import { concurrentScrapes, nameFlood } from './floods.js';
import type { ConcurrentScrapesResult, NameFloodResult } from './floods.js';
import type { TrafficOptions } from '../infra/traffic.js';

export type Phase = 'baseline' | 'throughput' | 'lag' | 'sidecar' | 'scrape' | 'scrapes' | 'names' | 'memory' | 'soak' | 'restarts';
export const PHASES: readonly Phase[] = ['baseline', 'throughput', 'lag', 'sidecar', 'scrape', 'scrapes', 'names', 'memory', 'soak', 'restarts'];

export interface SuiteOptions {
  readonly phases: readonly Phase[];
  /** Ladder of rates (events/s) tried in order until one fails. */
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly lagRate: number;
  readonly lagSeconds: number;
  /** Distinct task ids at which memory is read. */
  readonly memoryCheckpoints: readonly number[];
  /** Highest rate of the memory phase, which also waits for the daemon to keep up; default 100k/s. */
  readonly memoryRate: number | undefined;
  readonly maxTrackedTasks: number;
  readonly soakSeconds: number;
  readonly soakRate: number;
  /** The restarts phase: seconds of traffic in all, a SIGKILL + restart of the broker after every `restartEvery` of them. */
  readonly restartsSeconds: number;
  readonly restartEvery: number;
  /** Seconds the broker stays down each time. */
  readonly restartDown: number;
  readonly restartsRate: number;
  /** Series wanted for the scrape phase (at least). */
  readonly scrapeSeries: number;
  /** Distinct task names of the names phase (default 100k) and of the scrapes phase's exposition (default 1000). */
  readonly floodNames?: number;
  readonly scrapeNames?: number;
  /** Concurrent scrapes fired at once, one burst each, in the scrapes phase (default 1, 10, 50, 200). */
  readonly scrapeBursts?: readonly number[];
  readonly cores: { daemon: number; generator: number } | undefined;
  /** Extra node flags for the daemon, e.g. --cpu-prof. */
  readonly nodeArgs: readonly string[];
  readonly say: (line: string) => void;
}

export interface BrokerReport {
  readonly broker: BrokerKind;
  /** The bare decoding subscriber at the first rate of the ladder: CPU per 10k events. */
  baseline?: RateStep;
  /** The bare decoding subscriber's own highest zero-loss rate, found as the daemon's is. */
  baselineLadder?: LadderResult;
  throughput?: LadderResult & { cpuMsPer10k: number };
  lag?: LagResult;
  scrape?: ScrapeResult;
  memory?: { maxTrackedTasks: number; rate: number; points: MemoryPoint[] };
  soak?: SoakResult;
  restarts?: RestartsResult;
  /** Sidecar mode (--only-worker) on the whole stream: its own ladder. */
  sidecar?: SidecarResult;
  names?: NameFloodResult;
  scrapes?: ConcurrentScrapesResult;
  errors: string[];
}

// A wide cluster for the scrape phase: 100 task names over 4 queues, 20 workers (5 per queue),
// which with failures by exception class and both histograms comes to about 10k series.
const WIDE: Partial<TrafficOptions> = { taskNames: 100, queues: 4, workers: 20, idleWorkers: 20 };

export async function benchBroker(kind: BrokerKind, o: SuiteOptions): Promise<BrokerReport> {
  const report: BrokerReport = { broker: kind, errors: [] };
  const broker = await startBroker(kind, o.cores?.generator);
  try {
    const want = new Set(o.phases);
    if (want.has('baseline')) await baseline(broker, o, report);
    if (want.has('throughput') || want.has('lag')) await throughputAndLag(broker, o, report, want);
    if (want.has('sidecar')) await sidecarPhase(broker, o, report);
    if (want.has('scrape')) await scrapePhase(broker, o, report);
    if (want.has('scrapes')) await scrapesPhase(broker, o, report);
    if (want.has('names')) await namesPhase(broker, o, report);
    if (want.has('memory') || want.has('soak')) await memoryAndSoak(broker, o, report, want);
    if (want.has('restarts')) await restartsPhase(broker, o, report);
  } finally {
    await broker.stop();
  }
  return report;
}

/** Runs `fn` with a fresh daemon and publisher; the daemon's output is kept when it fails. */
async function withDaemon<T>(broker: BrokerUnderTest, o: SuiteOptions, args: string[], fn: (d: DaemonUnderTest, p: Publisher) => Promise<T>): Promise<T> {
  const daemon = await DaemonUnderTest.start(broker.url, args, o.cores?.daemon, o.nodeArgs);
  const publisher = await broker.publisher();
  try {
    return await fn(daemon, publisher);
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\ndaemon output:\n${daemon.output.slice(-2000)}`, { cause: err });
  } finally {
    await publisher.close();
    await daemon.stop();
  }
}

let runId = 0;
/** A task-id prefix of 8 hex digits unique to this process and model. */
function idPrefix(): string {
  runId++;
  return ((process.pid * 256 + runId) >>> 0).toString(16).padStart(8, '0').slice(-8);
}

async function baseline(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  const bare = await DaemonUnderTest.startBare(broker.url, o.cores?.daemon);
  const publisher = await broker.publisher();
  try {
    const b: Bench = { daemon: bare, publisher, model: new TrafficModel({ idPrefix: idPrefix() }), say: o.say, eventsOnly: true };
    await runLoad(b.model, publisher, { rate: 20_000, seconds: 2 });
    const rate = o.rates[0] ?? 50_000;
    o.say(`${broker.kind}: yardstick, a bare subscriber that only decodes, at ${fmtRate(rate)}`);
    report.baseline = await rateStep(b, rate, o.stepSeconds);
    // Its ceiling, on the same ladder: what the daemon's rate is to be read against on this machine.
    o.say(`${broker.kind}: yardstick's highest sustained rate with zero loss`);
    report.baselineLadder = await findMaxRate(b, o.rates, o.stepSeconds);
  } finally {
    await publisher.close();
    await bare.stop();
  }
}

async function throughputAndLag(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport, want: Set<Phase>): Promise<void> {
  await withDaemon(broker, o, [], async (daemon, publisher) => {
    const b: Bench = { daemon, publisher, model: new TrafficModel({ idPrefix: idPrefix() }), say: o.say };
    // Warm-up: JIT and label children, so the first step measures steady state.
    await runLoad(b.model, publisher, { rate: 20_000, seconds: 2 });
    if (want.has('throughput')) {
      o.say(`${broker.kind}: highest sustained rate with zero loss (${o.stepSeconds} s per step)`);
      const ladder = await findMaxRate(b, o.rates, o.stepSeconds);
      const passing = ladder.steps.filter((s) => s.pass).map((s) => s.cpuMsPer10k).sort((x, y) => x - y);
      const cpu = passing[Math.floor(passing.length / 2)] ?? NaN;
      report.throughput = { ...ladder, cpuMsPer10k: cpu };
    }
    if (want.has('lag')) {
      o.say(`${broker.kind}: lag from publish to counter at ${fmtRate(o.lagRate)} for ${o.lagSeconds} s`);
      const { probes: _probes, fullScrapes: _fullScrapes, ...lag } = await measureLag(b, o.lagRate, o.lagSeconds, LAG_POLL_MS);
      report.lag = lag;
      o.say(`  p50 ${lag.p50Ms} ms, p99 ${lag.p99Ms} ms, max ${lag.maxMs} ms over ${lag.samples} samples, lost ${lag.lost}`);
    }
  });
}

async function sidecarPhase(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  await withDaemon(broker, o, ['--only-worker', SIDECAR_WORKER], async (daemon, publisher) => {
    o.say(`${broker.kind}: sidecar mode, --only-worker ${SIDECAR_WORKER} (one worker of 40) on the whole stream (${o.stepSeconds} s per step)`);
    report.sidecar = await sidecarLadder(daemon, publisher, new TrafficModel({ idPrefix: idPrefix() }), o.rates, o.stepSeconds, o.say);
  });
}

async function scrapePhase(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  await withDaemon(broker, o, [], async (daemon, publisher) => {
    const b: Bench = { daemon, publisher, model: new TrafficModel({ ...WIDE, idPrefix: idPrefix() }), say: o.say };
    o.say(`${broker.kind}: /metrics with ${fmtCount(o.scrapeSeries)}+ series`);
    const t0 = performance.now();
    let series = 0;
    // Small steps, so that the series stop close to the target: new label sets appear gradually
    // as each worker works through its queue's task names.
    while (series < o.scrapeSeries && performance.now() - t0 < 60_000) {
      await runLoad(b.model, publisher, { rate: 20_000, seconds: 0.1 });
      series = countSeries(await daemon.scrape());
    }
    const scrape = await measureScrape(b, 30, o.lagRate, Math.max(5, Math.round(o.lagSeconds / 2)), 200);
    report.scrape = scrape;
    o.say(
      `  ${scrape.series} series (${fmtCount(scrape.bytes)} bytes): idle p50 ${scrape.idle.p50Ms} ms, p99 ${scrape.idle.p99Ms} ms; ` +
        `under ${fmtRate(o.lagRate)} p50 ${scrape.underLoad.p50Ms} ms, p99 ${scrape.underLoad.p99Ms} ms, ` +
        `event lag p99 ${scrape.underLoad.lag.p99Ms} ms, lost ${scrape.underLoad.lag.lost}`,
    );
  });
}

async function scrapesPhase(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  const names = o.scrapeNames ?? 1000;
  await withDaemon(broker, o, [], async (daemon, publisher) => {
    o.say(`${broker.kind}: concurrent scrapes of an exposition of ${fmtCount(names)} task names`);
    report.scrapes = await concurrentScrapes(daemon, publisher, names, o.scrapeBursts ?? [1, 10, 50, 200], idPrefix(), o.say);
  });
}

async function namesPhase(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  const names = o.floodNames ?? 100_000;
  await withDaemon(broker, o, [], async (daemon, publisher) => {
    o.say(`${broker.kind}: a flood of ${fmtCount(names)} distinct task names (--max-label-values 1000)`);
    report.names = await nameFlood(daemon, publisher, names, idPrefix(), o.say);
  });
}

async function memoryAndSoak(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport, want: Set<Phase>): Promise<void> {
  const args = ['--max-tracked-tasks', String(o.maxTrackedTasks)];
  await withDaemon(broker, o, args, async (daemon, publisher) => {
    if (want.has('memory')) {
      // Lean lifecycles (received then final, no task-sent) pack the most task ids per event.
      const lean = new TrafficModel({ idPrefix: idPrefix(), started: false, sentFraction: 0 });
      const b: Bench = { daemon, publisher, model: lean, say: o.say };
      // Closed loop: at most this rate, and never more than ~40k events ahead of the daemon.
      const rate = o.memoryRate ?? 100_000;
      o.say(`${broker.kind}: memory over ${o.memoryCheckpoints.map(fmtCount).join(', ')} distinct task ids, up to ${fmtRate(rate)} (--max-tracked-tasks ${o.maxTrackedTasks})`);
      report.memory = { maxTrackedTasks: o.maxTrackedTasks, rate, points: await measureMemory(b, rate, o.memoryCheckpoints) };
    }
    if (want.has('soak')) {
      const b: Bench = { daemon, publisher, model: new TrafficModel({ idPrefix: idPrefix() }), say: o.say };
      o.say(`${broker.kind}: soak at ${fmtRate(o.soakRate)} for ${o.soakSeconds} s`);
      const s = await soak(b, o.soakRate, o.soakSeconds, 5);
      report.soak = s;
      o.say(`  RSS ${s.firstMb} -> ${s.lastMb} MB (max ${s.maxMb}), slope over the second half ${s.slopeMbPerMin} MB/min, lost ${s.lost}`);
    }
  });
}

async function restartsPhase(broker: BrokerUnderTest, o: SuiteOptions, report: BrokerReport): Promise<void> {
  o.say(
    `${broker.kind}: soak with broker restarts at ${fmtRate(o.restartsRate)} for ${o.restartsSeconds} s of traffic, ` +
      `SIGKILL + restart on the same port every ${o.restartEvery} s, down ${o.restartDown} s`,
  );
  // The default --broker-ping-interval (5 s): a SIGKILLed broker closes the connection, noticed at
  // once. (A 1 s AMQP heartbeat had RabbitMQ drop the daemon mid-warm-up on a loaded 2-core machine.)
  const args = ['--max-tracked-tasks', String(o.maxTrackedTasks)];
  const daemon = await DaemonUnderTest.start(broker.url, args, o.cores?.daemon, o.nodeArgs);
  try {
    const r = await restartSoak(broker, daemon, {
      seconds: o.restartsSeconds,
      restartEvery: o.restartEvery,
      downSeconds: o.restartDown,
      rate: o.restartsRate,
      maxTrackedTasks: o.maxTrackedTasks,
      idPrefix: idPrefix(),
      say: o.say,
    });
    report.restarts = r;
    o.say(describeRestarts(broker.kind, r));
  } catch (err) {
    throw new Error(`${err instanceof Error ? err.message : String(err)}\ndaemon output:\n${daemon.output.slice(-2000)}`, { cause: err });
  } finally {
    await daemon.stop();
  }
}
