// The results table, in Markdown so that it can go into bench/README.md and the README as printed.
import type { MemoryPoint } from '../phases/memory.js';
import type { BrokerReport } from '../phases/suite.js';
import { flatness } from '../phases/restarts.js';
import { fmtCount, fmtRate } from '../phases/scenarios.js';
import type { LadderResult, RateStep } from '../phases/scenarios.js';

interface Row {
  readonly what: string;
  readonly target: (r: BrokerReport) => string;
  readonly value: (r: BrokerReport) => string | undefined;
  /** Whether the measured value meets the target; undefined when it cannot be told. */
  readonly met?: (r: BrokerReport) => boolean | undefined;
}

/** The passing step with the highest target rate. */
function highestPassing<S extends { readonly pass: boolean; readonly target: number }>(steps: readonly S[]): S | undefined {
  return steps.filter((s) => s.pass).sort((a, b) => b.target - a.target)[0];
}

/** Says when a ladder's figure is a floor: the generator ran out, or every rate passed. */
function atLeast(l: LadderResult): string {
  if (l.generatorLimited) return ' (generator-limited: at least)';
  return l.ladderTopped === true ? " (every rate passed: at least; the ladder's top)" : '';
}

const ROWS: readonly Row[] = [
  {
    what: 'highest sustained rate, zero events lost',
    target: (r) => (r.broker === 'redis' ? '≥ 150k/s' : '≥ 50k/s'),
    value: (r) => r.throughput && `${fmtRate(r.throughput.maxSustained)}${atLeast(r.throughput)}`,
    met: (r) => {
      if (r.throughput === undefined) return undefined;
      const met = r.throughput.maxSustained >= (r.broker === 'redis' ? 150_000 : 50_000);
      return met || !(r.throughput.generatorLimited || r.throughput.ladderTopped === true) ? met : undefined;
    },
  },
  {
    what: 'daemon CPU per 10k events at the highest passing rate (→ events/s one core can take); median of passing steps',
    target: () => '',
    value: (r) => {
      const t = r.throughput;
      if (t === undefined) return undefined;
      const top = highestPassing(t.steps);
      const atTop = top === undefined ? '' : `${top.cpuMsPer10k} ms at ${fmtRate(top.achieved)} (${fmtRate(capacity(top.cpuMsPer10k))}); `;
      return `${atTop}${t.cpuMsPer10k} ms`;
    },
  },
  {
    what: 'daemon event loop busy (celery_pulse_event_loop_busy_seconds_total) at the highest passing rate; at the first failing one',
    target: () => '',
    value: (r) => {
      const t = r.throughput;
      if (t === undefined) return undefined;
      const busy = (s: RateStep | undefined): string => (s?.loopBusy === undefined ? '–' : `${s.loopBusy} at ${fmtRate(s.achieved)}`);
      const top = highestPassing(t.steps);
      const failed = t.steps.filter((s) => !s.pass && !s.generatorLimited).sort((a, b) => a.target - b.target)[0];
      return `${busy(top)}; ${busy(failed)}`;
    },
  },
  {
    what: 'sidecar mode (--only-worker, one worker of 40), highest rate with zero loss; CPU per 10k events of the whole stream and loop busy there',
    target: () => '',
    value: (r) => {
      const sc = r.sidecar;
      if (sc === undefined) return undefined;
      const top = highestPassing(sc.steps);
      const floor = sc.generatorLimited ? ' (generator-limited: at least)' : '';
      return top === undefined ? 'none passed' : `${fmtRate(sc.maxSustained)}${floor}; ${top.cpuMsPer10k} ms, busy ${top.loopBusy ?? '–'}`;
    },
  },
  {
    what: 'bare decoding subscriber, highest sustained rate with zero loss (daemon ÷ bare)',
    target: () => '',
    value: (r) =>
      r.baselineLadder &&
      `${fmtRate(r.baselineLadder.maxSustained)}${atLeast(r.baselineLadder)}` +
        (r.throughput ? `; ${Math.round((100 * r.throughput.maxSustained) / r.baselineLadder.maxSustained)} %` : ''),
  },
  {
    what: 'bare decoding subscriber, CPU per 10k events (daemon ÷ bare)',
    target: () => '',
    value: (r) =>
      r.baseline &&
      `${r.baseline.cpuMsPer10k} ms (${fmtRate(capacity(r.baseline.cpuMsPer10k))}); ×${r.throughput ? (r.throughput.cpuMsPer10k / r.baseline.cpuMsPer10k).toFixed(1) : '?'}`,
  },
  {
    what: 'lag publish → counter, p50 / p99',
    target: () => 'p99 < 50 ms at 10k/s',
    value: (r) => r.lag && `${r.lag.p50Ms} / ${r.lag.p99Ms} ms at ${fmtRate(r.lag.rate)}`,
    met: (r) => r.lag && r.lag.p99Ms < 50,
  },
  { what: 'RSS after 1M distinct task ids', target: () => '', value: (r) => memoryAt(r, 1e6) },
  {
    what: 'RSS after 10M distinct task ids',
    target: () => '< 150 MB',
    value: (r) => memoryAt(r, 1e7),
    met: (r) => {
      const p = pointAt(r, 1e7);
      return p && p.rssMb < 150;
    },
  },
  {
    what: 'RSS over the soak (first → last, slope)',
    target: () => 'no growth',
    value: (r) => r.soak && `${r.soak.firstMb} → ${r.soak.lastMb} MB, ${r.soak.slopeMbPerMin} MB/min over ${r.soak.seconds} s`,
  },
  {
    what: 'soak with broker restarts: events published while up − counted (cycles with any mismatch)',
    target: () => '0',
    value: (r) =>
      r.restarts &&
      `${r.restarts.lost} (${r.restarts.cyclesWithLoss}) of ${fmtCount(r.restarts.published)} over ${r.restarts.cycles.length} restarts (${fmtRate(r.restarts.rate)}, ${r.restarts.seconds} s, every ${r.restarts.restartEvery} s, down ${r.restarts.downSeconds} s)`,
  },
  {
    what: 'restarts: broker_up 0 after SIGKILL / 1 after restart (max); reconnects',
    target: () => 'one reconnect per restart',
    value: (r) => r.restarts && `${r.restarts.maxDownNoticedS} / ${r.restarts.maxBackAfterS} s; ${r.restarts.reconnects}${r.restarts.reconnectsExact ? '' : ' (**not** one per restart)'}`,
  },
  {
    what: 'restarts: RSS max first half → second half, slope over the second half',
    target: () => 'flat',
    value: (r) => r.restarts && `${r.restarts.firstHalfMaxMb} → ${r.restarts.secondHalfMaxMb} MB, ${r.restarts.slopeMbPerMin} MB/min; ${r.restarts.flat === false ? '**not flat**' : flatness(r.restarts)}`,
  },
  { what: 'restarts: verdict', target: () => '', value: (r) => r.restarts && (r.restarts.pass ? 'pass' : '**FAIL**') },
  {
    what: '/metrics scrape, p50 / p99',
    target: () => '< 100 ms at 10k series',
    value: (r) => r.scrape && `${r.scrape.idle.p50Ms} / ${r.scrape.idle.p99Ms} ms (${fmtCount(r.scrape.series)} series)`,
    met: (r) => r.scrape && r.scrape.idle.p99Ms < 100,
  },
  {
    what: 'same while ingesting 10k/s; event lag p99',
    target: () => 'ingestion not blocked',
    value: (r) => r.scrape && `${r.scrape.underLoad.p50Ms} / ${r.scrape.underLoad.p99Ms} ms; lag p99 ${r.scrape.underLoad.lag.p99Ms} ms`,
    // Not blocked: events still reach the counters within the lag target while full scrapes run.
    met: (r) => r.scrape && r.scrape.underLoad.lag.p99Ms < 50,
  },
];

/** Events per second that one fully busy core would take at this CPU cost, rounded to 1k. */
function capacity(cpuMsPer10k: number): number {
  return Math.round(10_000_000 / cpuMsPer10k / 1000) * 1000;
}

function pointAt(r: BrokerReport, tasks: number): MemoryPoint | undefined {
  return r.memory?.points.find((x) => x.tasks >= tasks && x.tasks < tasks * 1.1);
}

function memoryAt(r: BrokerReport, tasks: number): string | undefined {
  const p = pointAt(r, tasks);
  return p && `${p.rssMb} MB (peak ${p.peakRssMb} MB${p.lost !== 0 ? `, ${p.lost} lost` : ''})`;
}

export function renderTable(reports: readonly BrokerReport[]): string {
  const lines: string[] = [];
  lines.push(`| | ${reports.map((r) => `${r.broker} (target)`).join(' | ')} |`);
  lines.push(`|---|${reports.map(() => '---').join('|')}|`);
  for (const row of ROWS) {
    const cells = reports.map((r) => {
      const v = row.value(r);
      if (v === undefined) return r.errors.length > 0 ? 'error' : 'not run';
      const t = row.target(r);
      const met = row.met?.(r);
      return t === '' ? v : `${v} (${t}${met === undefined ? '' : met ? ': met' : ': **not met**'})`;
    });
    lines.push(`| ${row.what} | ${cells.join(' | ')} |`);
  }
  for (const r of reports) {
    if (r.restarts === undefined || r.restarts.cycles.length === 0) continue;
    lines.push('', `${r.broker}, broker restarts cycle by cycle:`, '');
    lines.push('| cycle | published while up | counted | broker_up 0 after SIGKILL | broker start | broker_up 1 after start | reconnects | RSS |');
    lines.push('|---|---|---|---|---|---|---|---|');
    for (const c of r.restarts.cycles) {
      lines.push(`| ${c.cycle} | ${c.published} | ${c.counted}${c.mismatches.length > 0 ? ' (mismatch)' : ''} | ${c.downNoticedS} s | ${c.brokerStartS} s | ${c.backAfterS} s | ${c.reconnects} | ${c.rssMb} MB |`);
    }
  }
  for (const r of reports) for (const e of r.errors) lines.push(`\n${r.broker} error: ${e.split('\n')[0]}`);
  return lines.join('\n');
}
