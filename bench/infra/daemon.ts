// The daemon under test: the built CLI (dist/cli.js, or CELERY_PULSE_DAEMON) pinned to one core,
// with its CPU time and memory read from /proc and its counters from /metrics.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Proc, freePort, waitFor } from '../../test/kit/processes.js';
import { DAEMON_CLI as DAEMON } from './paths.js';
import { pinnedCommand } from './cpu.js';
import { statCpuSeconds } from './proc-stat.js';
import { LAUNCH_ENV, NODE_FLAGS } from '../../src/heap-tuning.js';

/** The daemon's own tally, from /metrics: what it decoded and what it counted. */
export interface DaemonCounters {
  /** celery_pulse_events_received_total by `type`. */
  readonly byType: Record<string, number>;
  readonly events: number;
  /** celery_task_<outcome>_total summed over every label set, by outcome. */
  readonly tasks: Record<string, number>;
  readonly decodeErrors: number;
  readonly duplicates: number;
  readonly brokerUp: number;
  readonly reconnects: number;
  /** celery_pulse_tracked_tasks, both states. */
  readonly trackedTasks: number;
  /** Sample lines in the exposition (series). */
  readonly series: number;
  /** celery_pulse_messages_filtered_total, every reason: messages sidecar mode dropped undecoded. */
  readonly messagesFiltered: number;
  /** celery_pulse_event_loop_busy_seconds_total; undefined for a subscriber without it (the yardstick). */
  readonly loopBusySeconds: number | undefined;
}

/** The family the lag probe reads: events decoded, by type. */
export const EVENTS_FAMILY = 'celery_pulse_events_received_total';

const TASK_COUNTER = /^celery_task_(sent|received|started|succeeded|failed|retried|rejected|revoked)_total[{ ]/;

/** Reads only the few families the benchmark compares; the rest is counted as series (of a full scrape). */
export function parseCounters(text: string): DaemonCounters {
  const byType: Record<string, number> = {};
  const tasks: Record<string, number> = {};
  let events = 0;
  let decodeErrors = 0;
  let duplicates = 0;
  let brokerUp = 0;
  let reconnects = 0;
  let trackedTasks = 0;
  let series = 0;
  let messagesFiltered = 0;
  let loopBusySeconds: number | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.charCodeAt(0) === 35 /* # */) continue;
    series++;
    if (!line.startsWith('celery_')) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    const task = TASK_COUNTER.exec(line);
    if (task !== null) {
      tasks[task[1]!] = (tasks[task[1]!] ?? 0) + value;
    } else if (line.startsWith('celery_pulse_events_received_total')) {
      const type = /type="([^"]*)"/.exec(line)?.[1] ?? '';
      byType[type] = (byType[type] ?? 0) + value;
      events += value;
    } else if (line.startsWith('celery_pulse_decode_errors_total')) decodeErrors += value;
    else if (line.startsWith('celery_pulse_duplicate_events_total')) duplicates += value;
    else if (line.startsWith('celery_pulse_broker_up')) brokerUp += value;
    else if (line.startsWith('celery_pulse_broker_reconnects_total')) reconnects += value;
    else if (line.startsWith('celery_pulse_tracked_tasks')) trackedTasks += value;
    else if (line.startsWith('celery_pulse_messages_filtered_total')) messagesFiltered += value;
    else if (line.startsWith('celery_pulse_event_loop_busy_seconds_total')) loopBusySeconds = value;
  }
  return { byType, events, tasks, decodeErrors, duplicates, brokerUp, reconnects, trackedTasks, series, messagesFiltered, loopBusySeconds };
}

export class DaemonUnderTest {
  private constructor(
    readonly proc: Proc,
    readonly pid: number,
    readonly base: string,
  ) {}

  /** Starts the daemon on `cpu` (when pinning is possible) and waits until it is attached to the broker. */
  static async start(brokerUrl: string, extraArgs: readonly string[], cpu: number | undefined, nodeArgs: readonly string[] = []): Promise<DaemonUnderTest> {
    if (!existsSync(DAEMON)) throw new Error(`no daemon at ${DAEMON}: run \`npm run build\` first, or set CELERY_PULSE_DAEMON`);
    const port = await freePort();
    // Node flags and environment as the bin and `npm start` pass them (src/heap-tuning.ts).
    const args = [...NODE_FLAGS, ...nodeArgs, DAEMON, '--broker-url', brokerUrl, '--listen-address', `127.0.0.1:${port}`, '--log-level', 'warn', ...extraArgs];
    return DaemonUnderTest.launch(args, port, cpu, LAUNCH_ENV);
  }

  /** The bare decoding subscriber (bare-subscriber.ts) in the daemon's place: the yardstick. */
  static async startBare(brokerUrl: string, cpu: number | undefined): Promise<DaemonUnderTest> {
    const port = await freePort();
    return DaemonUnderTest.launch([join(dirname(fileURLToPath(import.meta.url)), 'bare-subscriber.js'), brokerUrl, String(port)], port, cpu);
  }

  private static async launch(args: string[], port: number, cpu: number | undefined, env: NodeJS.ProcessEnv = {}): Promise<DaemonUnderTest> {
    const [command, argv] = pinnedCommand(cpu, process.execPath, args);
    const proc = new Proc(command, argv, { env });
    const base = `http://127.0.0.1:${port}`;
    await waitFor('the daemon to attach to the broker (/readyz)', async () => {
      if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
      return (await fetch(`${base}/readyz`)).status === 200;
    }, 30_000);
    const pid = proc.child.pid;
    if (pid === undefined) throw new Error('daemon has no pid');
    return new DaemonUnderTest(proc, pid, base);
  }

  /** User + system CPU seconds the process has used. taskset execs node, so the pid is node's. */
  cpuSeconds(): number {
    return statCpuSeconds(readFileSync(`/proc/${this.pid}/stat`, 'utf8'));
  }

  /** Resident set size and its peak (VmHWM), in bytes. */
  memory(): { rss: number; peak: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { rss: kb('VmRSS'), peak: kb('VmHWM') };
  }

  /**
   * Where the daemon's memory is, from its own Node.js metrics: V8 heap committed and used, and
   * memory outside the V8 heap that V8 knows of (buffers), in bytes.
   */
  async heap(): Promise<{ heapTotal: number; heapUsed: number; external: number }> {
    const text = await this.scrape(['nodejs_heap_size_total_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_external_memory_bytes']);
    const value = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
    return { heapTotal: value('nodejs_heap_size_total_bytes'), heapUsed: value('nodejs_heap_size_used_bytes'), external: value('nodejs_external_memory_bytes') };
  }

  /** The whole exposition, or only the samples written under `names` (`/metrics?name[]=…`). */
  async scrape(names?: readonly string[]): Promise<string> {
    const query = names === undefined || names.length === 0 ? '' : `?${names.map((n) => `name[]=${encodeURIComponent(n)}`).join('&')}`;
    const res = await fetch(`${this.base}/metrics${query}`);
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text();
  }

  /** The counters from a full scrape, or from only the families in `names` (the rest read as 0). */
  async counters(names?: readonly string[]): Promise<DaemonCounters> {
    return parseCounters(await this.scrape(names));
  }

  get output(): string {
    return this.proc.output;
  }

  stop(): Promise<void> {
    return this.proc.stop();
  }
}
