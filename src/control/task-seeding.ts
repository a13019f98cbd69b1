import type { Logger } from 'pino';
import type { EventSource } from '../brokers/source.js';
import type { SeedOutcome, SeedTask } from '../state/seeding.js';
import { inspectWorkers, parseHeldTasks } from './inspect.js';
import type { HeldTask } from './inspect.js';
import { MAX_FIELD_LENGTH, internLabel, queueLabel } from '../protocol/events.js';

export interface TaskSeedingOptions {
  /** Seconds each of the three inspections waits for replies (--inspect-timeout). */
  readonly timeout: number;
  /** Sidecar mode (--only-worker): only these workers' tasks are seeded. */
  readonly counts?: ((hostname: string) => boolean) | undefined;
}

/** The part of the state seeding feeds (state/machine.ts). */
export interface SeedTarget {
  seed(task: SeedTask, now: number): SeedOutcome;
  holdUnnamed(until: number): void;
}

/**
 * Bound on one method's replies: a held task's info is ~1 KB with small arguments (which Celery
 * includes and are dropped here); 16 MB is thousands of workers with their prefetched tasks.
 */
const MAX_REPLY_BYTES = 16 * 1024 * 1024;

/**
 * Tasks in flight when the daemon (re)connects sent their task-received and maybe task-started
 * before it listened: their later events carry only a uuid and would be counted as `unknown`. The
 * workers know what they hold, so on every (re)connection they are asked, as `celery inspect`
 * does: `active` (running: STARTED, with Request.time_start), `reserved` (prefetched: RECEIVED)
 * and `scheduled` (waiting for their ETA: RECEIVED with the ETA); celery/worker/control.py, replies
 * Request.info(). Events of unnamed tasks wait while the workers answer. Runs never overlap; a
 * reconnection during a run asks again after it.
 */
export class TaskSeeding {
  private running = false;
  private again = false;
  private stopped = false;
  private warned = false;

  constructor(
    private readonly source: EventSource,
    private readonly broker: string,
    private readonly state: SeedTarget,
    private readonly options: TaskSeedingOptions,
    private readonly logger: Logger,
    private readonly clock: () => number = () => Date.now() / 1000,
  ) {}

  /** The source is (again) subscribed: what happened while it was not, only the workers can tell. */
  connected(): void {
    if (this.source.request === undefined || this.stopped) return;
    if (this.running) this.again = true;
    else void this.run();
  }

  stop(): void {
    this.stopped = true;
  }

  /** One seeding; resolves when it is done (tests await it). */
  async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      do {
        this.again = false;
        await this.seedOnce();
      } while (this.again && !this.stopped);
    } finally {
      this.running = false;
    }
  }

  private async seedOnce(): Promise<void> {
    const timeout = this.options.timeout;
    // Three requests one after the other, maybe behind a background inspection on the same connection.
    this.state.holdUnnamed(this.clock() + 6 * timeout + 1);
    try {
      const limits = { timeoutMs: timeout * 1000, maxBytes: MAX_REPLY_BYTES };
      // Asked in the order a task moves through them (scheduled, reserved, active): one that moves
      // on between two requests is seen by the later one, never missed by both.
      const scheduled = await inspectWorkers(this.source, 'scheduled', {}, parseHeldTasks, limits);
      // Workers that answered the first are all there is to wait for.
      const rest = { ...limits, maxReplies: scheduled.size };
      const none = new Map<string, HeldTask[]>();
      const reserved = scheduled.size === 0 ? none : await inspectWorkers(this.source, 'reserved', {}, parseHeldTasks, rest);
      const active = scheduled.size === 0 ? none : await inspectWorkers(this.source, 'active', { safe: true }, parseHeldTasks, rest);
      if (this.stopped) return;
      const counts: Record<SeedOutcome, number> = { seeded: 0, named: 0, known: 0, full: 0 };
      const workers = new Set<string>();
      const now = this.clock();
      const seen = new Set<string>();
      const feed = (replies: Map<string, HeldTask[]>, state: SeedTask['state']): void => {
        for (const [worker, held] of replies) {
          if (this.options.counts !== undefined && !this.options.counts(worker)) continue;
          workers.add(worker);
          for (const task of held) {
            if (task.name === undefined || task.id.length > MAX_FIELD_LENGTH || seen.has(task.id)) continue;
            seen.add(task.id);
            counts[this.state.seed(toSeed(task, task.name, worker, state), now)]++;
          }
        }
      };
      // The latest answer first: a task in two of them moved on between the requests.
      feed(active, 'STARTED');
      feed(reserved, 'RECEIVED');
      feed(scheduled, 'RECEIVED');
      this.warned = false;
      this.logger.info({ broker: this.broker, workers: workers.size, tasks: seen.size, ...counts }, `seeded ${counts.seeded} tasks in flight from ${workers.size} workers`);
    } catch (err) {
      if (this.stopped) return;
      if (!this.warned) this.logger.warn({ broker: this.broker, err: (err as Error).message }, 'could not ask the workers which tasks they hold');
      this.warned = true;
    } finally {
      this.state.holdUnnamed(0);
    }
  }
}

/** The replies' strings pass the checks an event's do (protocol/events.ts): length, label-safe, delay prefix. */
function toSeed(task: HeldTask, name: string, worker: string, state: SeedTask['state']): SeedTask {
  const eta = task.eta === undefined ? NaN : Date.parse(task.eta) / 1000;
  return {
    id: task.id,
    name: internLabel(name),
    // Celery's default routing delivers with the queue's name as routing key.
    queue: task.routingKey === undefined || task.routingKey === '' ? undefined : queueLabel(task.routingKey),
    // The node name the worker answered as: the `hostname` of its events.
    worker: internLabel(worker),
    state,
    startedAt: state === 'STARTED' ? task.timeStart : undefined,
    eta: Number.isFinite(eta) ? eta : undefined,
  };
}
