// `npm run bench [-- --quick] [--brokers redis,rabbitmq] [--phases …] [--soak-seconds 600] [--restarts-seconds 360 --restart-every 60]`:
// runs the benchmark against real brokers and the built daemon, prints a table, writes JSON.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DAEMON_CLI as DAEMON, REPO_ROOT as ROOT } from './infra/paths.js';
import { coreLayout, pinProcess } from './infra/cpu.js';
import type { BrokerKind } from './infra/brokers.js';
import { renderTable } from './infra/report.js';
import { FLAGS } from '../src/config/flags.js';
import { PHASES, benchBroker } from './phases/suite.js';
import type { BrokerReport, Phase, SuiteOptions } from './phases/suite.js';

const USAGE = `usage: npm run bench -- [--quick] [--brokers redis,rabbitmq] [--phases ${PHASES.join(',')}]
       [--rates 50000,100000,…] [--step-seconds N] [--soak-seconds N] [--memory-ids 1000000,10000000] [--max-tracked-tasks N] [--out FILE] [--cpu-prof] [--node-args="--flag …"]
       [--restarts-seconds N] [--restart-every N] [--restart-down N] [--restarts-rate N]
Runs the daemon at ${DAEMON} (set CELERY_PULSE_DAEMON for another build; \`npm run build\` first).`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      brokers: { type: 'string', default: 'redis,rabbitmq' },
      phases: { type: 'string', default: PHASES.join(',') },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      'soak-seconds': { type: 'string' },
      'memory-ids': { type: 'string' },
      'restarts-seconds': { type: 'string' },
      'restart-every': { type: 'string' },
      'restart-down': { type: 'string' },
      'restarts-rate': { type: 'string' },
      out: { type: 'string' },
      'cpu-prof': { type: 'boolean', default: false },
      'node-args': { type: 'string', default: '' },
      'max-tracked-tasks': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const quick = values.quick;
  const brokers = list(values.brokers).map((b) => {
    if (b !== 'redis' && b !== 'rabbitmq') throw new Error(`--brokers: unknown broker ${b}\n${USAGE}`);
    return b as BrokerKind;
  });
  const phases = list(values.phases).map((p) => {
    if (!PHASES.includes(p as Phase)) throw new Error(`--phases: unknown phase ${p}\n${USAGE}`);
    return p as Phase;
  });
  const cores = coreLayout();
  // The generator (this process) and the brokers share one core; the daemon gets the other.
  pinProcess(process.pid, cores?.generator);
  const base: Omit<SuiteOptions, 'rates' | 'memoryCheckpoints'> = {
    phases,
    stepSeconds: num(values['step-seconds']) ?? (quick ? 4 : 8),
    lagRate: 10_000,
    lagSeconds: quick ? 6 : 15,
    memoryRate: undefined,
    // The daemon's own default unless asked: the memory figures are those of the daemon as shipped.
    maxTrackedTasks: num(values['max-tracked-tasks']) ?? Number(FLAGS.find((f) => f.name === 'max-tracked-tasks')?.default),
    soakSeconds: num(values['soak-seconds']) ?? (quick ? 20 : 90),
    soakRate: 10_000,
    // An hour of a busy cluster with a broker restart every 10 minutes, compressed ten-fold.
    restartsSeconds: num(values['restarts-seconds']) ?? (quick ? 60 : 360),
    restartEvery: num(values['restart-every']) ?? (quick ? 20 : 60),
    restartDown: num(values['restart-down']) ?? 2,
    restartsRate: num(values['restarts-rate']) ?? 5_000,
    scrapeSeries: 10_000,
    floodNames: quick ? 20_000 : 100_000,
    scrapeNames: 1000,
    scrapeBursts: quick ? [1, 10, 50] : [1, 10, 50, 200],
    cores,
    // Each daemon writes a .cpuprofile on exit (open it in Chrome DevTools or speedscope).
    nodeArgs: [...(values['cpu-prof'] ? ['--cpu-prof', '--cpu-prof-dir', join(ROOT, 'bench', 'results')] : []), ...values['node-args'].split(' ').filter((a) => a !== '')],
    say: (line) => console.log(line),
  };
  const started = new Date();
  const load0 = loadavg();
  const reports: BrokerReport[] = [];
  for (const broker of brokers) {
    const rates = values.rates !== undefined ? list(values.rates).map(Number) : ladder(broker, quick);
    const ids = values['memory-ids'] !== undefined ? list(values['memory-ids']).map(Number) : broker === 'redis' && !quick ? [1e6, 1e7] : [1e6];
    try {
      reports.push(await benchBroker(broker, { ...base, rates, memoryCheckpoints: ids }));
    } catch (err) {
      console.error(`${broker}: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
      reports.push({ broker, errors: [err instanceof Error ? err.message : String(err)] });
    }
  }
  const load1 = loadavg();
  const result = {
    started: started.toISOString(),
    seconds: Math.round((Date.now() - started.getTime()) / 1000),
    quick,
    daemon: DAEMON,
    commit: spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    pinned: cores ?? 'no (one core or no taskset)',
    // Other processes on the machine skew wall-clock rates; CPU per event is the steadier figure.
    loadavgBefore: load0.map((x) => Math.round(x * 100) / 100),
    loadavgAfter: load1.map((x) => Math.round(x * 100) / 100),
    reports,
  };
  const out = values.out ?? join(ROOT, 'bench', 'results', `bench-${started.toISOString().replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log('');
  console.log(renderTable(reports));
  console.log('');
  console.log(`load average before ${result.loadavgBefore.join(' ')}, after ${result.loadavgAfter.join(' ')}; ${result.seconds} s`);
  console.log(`results: ${out}`);
  // A failed verdict (loss while the broker was up, a missed reconnect, growing memory) fails the run too.
  if (reports.some((r) => r.errors.length > 0 || r.restarts?.pass === false)) process.exitCode = 1;
}

/** The rates tried: from well below the target up past it, ending where a failure is certain. */
function ladder(broker: BrokerKind, quick: boolean): number[] {
  if (broker === 'rabbitmq') return quick ? [25_000, 50_000, 75_000, 100_000] : [25_000, 50_000, 75_000, 100_000, 125_000, 150_000];
  return quick ? [25_000, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000] : [25_000, 50_000, 100_000, 150_000, 200_000, 250_000, 300_000, 350_000];
}

function list(s: string): string[] {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '');
}

function num(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`not a positive number: ${s}`);
  return n;
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(2);
});
