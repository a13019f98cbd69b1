// Celery workers (Debian's python3-celery) and the workloads of test/integration/celery/.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { CELERY_DIR, PYTHON } from './paths.js';
import { Proc, sleep, waitFor } from './processes.js';
import type { DaemonProc } from './daemon.js';
import type { Metrics } from './metrics-text.js';

/** `celery X kombu Y` as PYTHON imports them; throws, naming the interpreter, when it cannot. */
export function celeryVersions(python = PYTHON): string {
  const r = spawnSync(python, [join(CELERY_DIR, 'worker.py'), '--print-versions'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${python} cannot import Celery and kombu: ${r.error?.message ?? r.stderr.trim().split('\n').pop()}`);
  return r.stdout.trim();
}

/** The Celery minor PYTHON runs, e.g. [5, 6]: for behaviour that only newer Celery has. */
export function celeryMinor(python = PYTHON): [number, number] {
  const m = /^celery (\d+)\.(\d+)/.exec(celeryVersions(python));
  if (!m) throw new Error(`unexpected version line from ${python}`);
  return [Number(m[1]), Number(m[2])];
}

export interface WorkerOptions {
  readonly broker: string;
  /** Celery node name, e.g. `w1@%h`. */
  readonly name: string;
  readonly concurrency?: number;
  readonly pool?: 'prefork' | 'solo' | 'threads';
  /** Send task events (-E). */
  readonly events?: boolean;
  readonly queues?: string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly extraArgs?: string[];
}

export interface CeleryWorker {
  readonly proc: Proc;
  /** The node name as Celery reports it in events. */
  readonly hostname: string;
  stop(): Promise<void>;
}

/** The node name Celery builds from `name@%h`: %h is socket.gethostname(). */
export function celeryHostname(name: string): string {
  const host = spawnSync(PYTHON, ['-c', 'import socket; print(socket.gethostname())'], { encoding: 'utf8' }).stdout.trim();
  return name.replace('%h', host);
}

export async function startWorker(options: WorkerOptions): Promise<CeleryWorker> {
  // celery/worker.py, not `celery worker`: current Celery's command line needs packages the test
  // venv does not hold (see that file); the flags mean the same.
  const args = [
    join(CELERY_DIR, 'worker.py'),
    '-n', options.name,
    '-P', options.pool ?? 'prefork',
    '-c', String(options.concurrency ?? 2),
    '--without-mingle', '--without-gossip',
    '-l', 'INFO',
    ...(options.events === false ? [] : ['-E']),
    ...(options.queues ? ['-Q', options.queues.join(',')] : []),
    ...(options.extraArgs ?? []),
  ];
  const proc = new Proc(PYTHON, args, {
    cwd: CELERY_DIR,
    env: { PULSE_BROKER: options.broker, PULSE_TASK_EVENTS: options.events === false ? '0' : '1', PYTHONUNBUFFERED: '1', ...options.env },
  });
  await waitFor(`celery worker ${options.name} to be ready`, () => {
    if (!proc.running) throw new Error(`worker exited:\n${proc.output}`);
    return /\bready\.?/.test(proc.output);
  }, 30_000);
  return {
    proc,
    hostname: celeryHostname(options.name),
    // Warm shutdown; a worker stuck in a task gets SIGKILL after the grace time.
    stop: () => proc.stop(15_000),
  };
}

/**
 * The final events of one run of the `basic` workload (workload.py): 5 ok + 2 flaky_retry
 * succeed, 3 ValueError + 2 KeyError fail, 1 rejected, 2 revoked (one expired, one revoked).
 */
export const BASIC_FINAL_EVENTS = {
  celery_task_succeeded_total: 7,
  celery_task_failed_total: 5,
  celery_task_rejected_total: 1,
  celery_task_revoked_total: 2,
} as const;

/** True once `times` runs of the `basic` workload have all their final events counted (under `labels`). */
export function basicWorkloadDone(m: Metrics, times = 1, labels: Record<string, string> = {}): boolean {
  return Object.entries(BASIC_FINAL_EVENTS).every(([metric, count]) => m.value(metric, labels) === count * times);
}

/**
 * The daemon's metrics once `done` holds for them, read again 1.5 s later, so that anything
 * counted twice or late shows in what the test asserts.
 */
export async function settledMetrics(daemon: DaemonProc, what: string, done: (m: Metrics) => boolean, timeoutMs: number): Promise<Metrics> {
  await waitFor(what, async () => done(await daemon.metrics()), timeoutMs);
  await sleep(1500);
  return daemon.metrics();
}

/** Runs test/integration/celery/workload.py NAME and returns the task ids it printed. */
export async function runWorkload(broker: string, name: string, env: NodeJS.ProcessEnv = {}): Promise<Record<string, string[]>> {
  const proc = new Proc(PYTHON, [join(CELERY_DIR, 'workload.py'), name], { cwd: CELERY_DIR, env: { PULSE_BROKER: broker, ...env } });
  const code = await proc.exited;
  if (code !== 0) throw new Error(`workload ${name} failed (${code}):\n${proc.output}`);
  const lastLine = proc.output.trim().split('\n').pop() ?? '{}';
  return JSON.parse(lastLine) as Record<string, string[]>;
}
