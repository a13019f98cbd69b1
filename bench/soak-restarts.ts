// Soak with broker restarts: constant Celery traffic into a real redis-server that is SIGKILLed and
// restarted on the same port every few (compressed) minutes. Each cycle proves that nothing was
// lost while the broker was up (the only loss allowed is the gap while it is down, when nothing
// can be published), that the daemon noticed and came back, and samples its memory.
//
//   node <compiled>/bench/soak-restarts.js [--seconds 600] [--rate 5000] [--restart-every 60] [--down 2]
//
// Defaults compress an hour of a busy cluster (5k events/s, a broker restart every 6 minutes)
// ten-fold: 10 minutes, a restart every minute. Exits 1 if any cycle lost events or memory grew.
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { startRedis } from '../test/integration/harness.js';
import type { RedisServer } from '../test/integration/harness.js';
import { DaemonUnderTest } from './daemon.js';
import { runLoad } from './load.js';
import { RedisPublisher } from './publishers.js';
import { mismatches, settle } from './scenarios.js';
import type { Bench } from './scenarios.js';
import { TrafficModel } from './traffic.js';

interface Cycle {
  readonly cycle: number;
  readonly events: number;
  readonly lost: string[];
  readonly rssMb: number;
  /** Seconds from SIGKILL to broker_up 0, and from restart to broker_up 1. */
  readonly downAfterS: number;
  readonly upAfterS: number;
}

const mb = (bytes: number): number => Math.round((bytes / 1024 / 1024) * 10) / 10;

async function waitUp(daemon: DaemonUnderTest, up: 0 | 1): Promise<number> {
  const t0 = performance.now();
  for (;;) {
    if ((await daemon.counters()).brokerUp === up) return Math.round(performance.now() - t0) / 1000;
    if (performance.now() - t0 > 60_000) throw new Error(`broker_up never became ${up}`);
    await delay(50);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { seconds: { type: 'string', default: '600' }, rate: { type: 'string', default: '5000' }, 'restart-every': { type: 'string', default: '60' }, down: { type: 'string', default: '2' } },
  });
  const seconds = Number(values.seconds);
  const rate = Number(values.rate);
  const every = Number(values['restart-every']);
  const downS = Number(values.down);
  let redis: RedisServer = await startRedis();
  const daemon = await DaemonUnderTest.start(redis.url, ['--broker-ping-interval', '1s', '--max-tracked-tasks', '100000'], undefined);
  const model = new TrafficModel({ idPrefix: (process.pid >>> 0).toString(16).padStart(8, '0').slice(-8) });
  const cycles: Cycle[] = [];
  const t0 = performance.now();
  let outputSeen = 0;
  try {
    for (let cycle = 1; (performance.now() - t0) / 1000 < seconds; cycle++) {
      const publisher = await RedisPublisher.connect(redis.port);
      const b: Bench = { daemon, publisher, model, say: (l) => console.log(l) };
      const from = (await settle(b, 15_000)).mark;
      await runLoad(model, publisher, { rate, seconds: Math.min(every, seconds - (performance.now() - t0) / 1000) });
      const to = (await settle(b, 30_000)).mark;
      const lost = mismatches(from, to);
      if (publisher.undelivered > 0) lost.push(`${publisher.undelivered} frames reached no subscriber`);
      // Why the daemon let go of a broker that was up, in its own words.
      const drops = daemon.output.slice(outputSeen).split('\n').filter((l) => l.includes('lost the broker'));
      if (drops.length > 0) lost.push(...drops);
      outputSeen = daemon.output.length;
      await publisher.close();
      const rssMb = mb(daemon.memory().rss);
      // The restart: SIGKILL (no goodbye to the subscriber), down for a while, same port again.
      redis.proc.signal('SIGKILL');
      await redis.proc.exited;
      const downAfterS = await waitUp(daemon, 0);
      await delay(downS * 1000);
      const port = redis.port;
      await redis.stop();
      redis = await startRedis([], port);
      const upAfterS = await waitUp(daemon, 1);
      outputSeen = daemon.output.length;
      const c: Cycle = { cycle, events: to.tally.events - from.tally.events, lost, rssMb, downAfterS, upAfterS };
      cycles.push(c);
      console.log(`cycle ${cycle}: ${c.events} events, lost ${lost.length === 0 ? 'none' : lost.join('; ')}, RSS ${rssMb} MB, down noticed in ${downAfterS} s, back ${upAfterS} s after restart`);
    }
  } finally {
    await daemon.stop();
    await redis.stop();
  }
  const rss = cycles.map((c) => c.rssMb);
  const half = rss.slice(Math.floor(rss.length / 2));
  const growth = half.length > 1 ? half[half.length - 1]! - half[0]! : 0;
  const failed = cycles.filter((c) => c.lost.length > 0);
  const summary = {
    seconds,
    rate,
    restartEvery: every,
    cycles: cycles.length,
    events: cycles.reduce((a, c) => a + c.events, 0),
    cyclesWithLoss: failed.length,
    rssMb: rss,
    secondHalfGrowthMb: Math.round(growth * 10) / 10,
    maxDownNoticedS: Math.max(...cycles.map((c) => c.downAfterS)),
    maxBackAfterRestartS: Math.max(...cycles.map((c) => c.upAfterS)),
  };
  console.log(JSON.stringify(summary));
  // Flat: the second half may wobble with GC, but not grow by more than a tenth.
  if (failed.length > 0 || growth > Math.max(10, (half[0] ?? 0) * 0.1)) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.stack : String(err));
  process.exit(1);
});
