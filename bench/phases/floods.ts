// Two hostile-load phases (issue: hardening): a flood of distinct task names, which must leave
// memory and series flat at --max-label-values; and many concurrent scrapes, which must share one
// rendering instead of holding a copy of the exposition each. Both print peak RSS (VmHWM).
import { performance } from 'node:perf_hooks';
import type { DaemonUnderTest } from '../infra/daemon.js';
import { runLoad } from '../infra/load.js';
import type { Publisher } from '../infra/publishers.js';
import { countSeries, fmtCount, pollCounted } from './scenarios.js';
import { TrafficModel } from '../infra/traffic.js';

export interface NameFloodResult {
  readonly names: number;
  readonly tasks: number;
  readonly series: number;
  readonly bytes: number;
  readonly scrapeMs: number;
  readonly rssMb: number;
  readonly peakMb: number;
  readonly lost: number;
}

export interface ConcurrentScrapesResult {
  /** One row per number of scrapes fired at once. */
  readonly rows: { concurrent: number; complete: number; ms: number; peakMb: number }[];
  readonly bytes: number;
}

const mb = (bytes: number): number => Math.round(bytes / 1048576);

async function publishAndSettle(daemon: DaemonUnderTest, publisher: Publisher, model: TrafficModel, rate: number, tasks: number): Promise<number> {
  await runLoad(model, publisher, { rate, tasks });
  const published = model.tally.events;
  const r = await pollCounted(() => daemon.counters(['celery_pulse_events_received_total']), (c) => c.events >= published, (c) => String(c.events), 120_000, 10_000);
  return published - r.value.events;
}

/** `names` distinct task names (each run ~1.2 times), then one scrape: its series, size and time, and RSS. */
export async function nameFlood(daemon: DaemonUnderTest, publisher: Publisher, names: number, idPrefix: string, say: (line: string) => void): Promise<NameFloodResult> {
  const model = new TrafficModel({ taskNames: names, idPrefix });
  const lost = await publishAndSettle(daemon, publisher, model, 20_000, Math.round(names * 1.2));
  const t0 = performance.now();
  const text = await daemon.scrape();
  const scrapeMs = Math.round(performance.now() - t0);
  const m = daemon.memory();
  const r: NameFloodResult = { names, tasks: model.tally.tasks, series: countSeries(text), bytes: text.length, scrapeMs, rssMb: mb(m.rss), peakMb: mb(m.peak), lost };
  const byFamily = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const name = /^[^{ ]+/.exec(line)![0].replace(/_(bucket|sum|count)$/, '');
    byFamily.set(name, (byFamily.get(name) ?? 0) + 1);
  }
  const top = [...byFamily].sort((a, b) => b[1] - a[1]).slice(0, 4).map(([f, c]) => `${f} ${fmtCount(c)}`);
  say(`  ${fmtCount(names)} names, ${fmtCount(r.tasks)} tasks: ${fmtCount(r.series)} series (${fmtCount(r.bytes)} bytes) scraped in ${scrapeMs} ms; RSS ${r.rssMb} MB, peak ${r.peakMb} MB; lost ${lost}; largest families: ${top.join(', ')}`);
  return r;
}

/** A wide exposition (`names` task names), then bursts of concurrent scrapes: completeness, wall time, peak RSS after each. */
export async function concurrentScrapes(daemon: DaemonUnderTest, publisher: Publisher, names: number, bursts: readonly number[], idPrefix: string, say: (line: string) => void): Promise<ConcurrentScrapesResult> {
  const model = new TrafficModel({ taskNames: names, idPrefix, workers: 40 });
  await publishAndSettle(daemon, publisher, model, 20_000, names * 3);
  const rows: ConcurrentScrapesResult['rows'] = [];
  let bytes = 0;
  // OpenMetrics ends with `# EOF`: a body that has it was written whole.
  const scrape = async (): Promise<string> => {
    const res = await fetch(`${daemon.base}/metrics`, { headers: { accept: 'application/openmetrics-text; version=1.0.0' } });
    return res.status === 200 ? res.text() : '';
  };
  for (const n of bursts) {
    const t0 = performance.now();
    const bodies = await Promise.all(Array.from({ length: n }, () => scrape().catch(() => '')));
    const ms = Math.round(performance.now() - t0);
    const complete = bodies.filter((b) => b.endsWith('\n# EOF\n')).length;
    bytes = Math.max(bytes, ...bodies.map((b) => b.length));
    const row = { concurrent: n, complete, ms, peakMb: mb(daemon.memory().peak) };
    rows.push(row);
    say(`  ${n} concurrent scrapes of ${fmtCount(bytes)} bytes: ${complete} complete in ${ms} ms, peak RSS ${row.peakMb} MB`);
  }
  return { rows, bytes };
}
