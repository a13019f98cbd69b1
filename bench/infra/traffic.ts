// Realistic Celery event traffic, as a busy cluster sends it (shared/celery-wire/PROTOCOL.md §1-§3):
// workers publish their task events in `task.multi` batches of up to 24 (EventDispatcher
// buffer_limit), clients publish one `task.sent` per task, and every worker sends a heartbeat every
// `freq` seconds. Pure: no I/O, no clock; the caller passes the timestamp to stamp events with.
//
// Events are written as JSON text the way Python's json.dumps writes them (", " and ": "
// separators), field for field as the captures show, so the daemon parses the same bytes it parses
// in production. The model keeps an exact tally of what it produced, which the harness compares
// with the daemon's counters.

export interface TrafficOptions {
  /** Simulated worker nodes that run tasks (each one its own hostname). */
  readonly workers: number;
  /** Extra nodes that only send heartbeats (idle workers of a large fleet). */
  readonly idleWorkers: number;
  /** Distinct task names; each is routed to one queue. */
  readonly taskNames: number;
  readonly queues: number;
  /** Tasks each worker runs at once (its prefork concurrency): events of these interleave in a batch. */
  readonly concurrency: number;
  /** Share of tasks whose client has task_send_sent_event (one single-event frame each). */
  readonly sentFraction: number;
  /** Whether workers send task-started (always, in Celery; off only to pack more ids per second). */
  readonly started: boolean;
  /** Seconds between heartbeats of one worker (Celery's default 2.0). */
  readonly heartbeatInterval: number;
  /** Prefix of task ids, so that separate runs never reuse one. */
  readonly idPrefix: string;
  /** Seed of the deterministic pseudo-random choices. */
  readonly seed: number;
}

export const DEFAULT_TRAFFIC: TrafficOptions = {
  workers: 40,
  idleWorkers: 160,
  taskNames: 60,
  queues: 8,
  concurrency: 8,
  sentFraction: 0.2,
  started: true,
  heartbeatInterval: 2,
  idPrefix: '00000000',
  seed: 1,
};

/** One broker message: a routing key (`task.multi`, `task.sent`, `worker.heartbeat`) and its JSON body. */
export interface Frame {
  readonly routingKey: string;
  /** Node name of the sender (the kombu `hostname` header). */
  readonly hostname: string;
  readonly body: string;
  readonly events: number;
}

export type EventType =
  | 'task-sent'
  | 'task-received'
  | 'task-started'
  | 'task-succeeded'
  | 'task-failed'
  | 'task-retried'
  | 'task-rejected'
  | 'task-revoked'
  | 'worker-heartbeat';

/** What was produced: events per type (celery_pulse_events_received_total) and distinct task ids. */
export class Tally {
  events = 0;
  tasks = 0;
  readonly byType: Record<EventType, number> = {
    'task-sent': 0,
    'task-received': 0,
    'task-started': 0,
    'task-succeeded': 0,
    'task-failed': 0,
    'task-retried': 0,
    'task-rejected': 0,
    'task-revoked': 0,
    'worker-heartbeat': 0,
  };

  snapshot(): { events: number; tasks: number; byType: Record<EventType, number> } {
    return { events: this.events, tasks: this.tasks, byType: { ...this.byType } };
  }
}

// The outcome of each task, with a share close to a healthy production cluster.
type Outcome = 'success' | 'failure' | 'retry' | 'revoked' | 'rejected';
const OUTCOME_WEIGHTS: readonly [Outcome, number][] = [
  ['success', 0.86],
  ['failure', 0.06],
  ['retry', 0.05],
  ['revoked', 0.02],
  ['rejected', 0.01],
];
// Exception reprs and a traceback as long as real ones (~600 bytes: most of a failed event's bytes),
// JSON-escaped once here.
const EXCEPTIONS = [
  'ValueError("invalid literal for int() with base 10: \'x\'")',
  "KeyError('user_id')",
  "TimeoutError('upstream did not answer in 30s')",
  'IntegrityError(\'duplicate key value violates unique constraint "orders_pkey"\')',
].map((repr) => JSON.stringify(repr));
const RETRY_EXCEPTION = JSON.stringify("ConnectionError('connection reset by peer')");
const TRACEBACK = JSON.stringify(
  'Traceback (most recent call last):\n  File "/usr/lib/python3/dist-packages/celery/app/trace.py", line 451, in trace_task\n' +
    '    R = retval = fun(*args, **kwargs)\n                 ^^^^^^^^^^^^^^^^^^^^\n  File "/usr/lib/python3/dist-packages/celery/app/trace.py", ' +
    'line 734, in __protected_call__\n    return self.run(*args, **kwargs)\n           ^^^^^^^^^^^^^^^^^^^^^^^^^^\n  File "/srv/app/tasks.py", ' +
    'line 39, in run\n    raise exc\n',
);
const ARGS = JSON.stringify("(1842, 'eu-west-1')");
const KWARGS = JSON.stringify("{'force': False}");
const RESULT = JSON.stringify("{'rows': 42, 'status': 'ok'}");

interface Task {
  readonly uuid: string;
  readonly name: string;
  readonly queue: string;
  readonly outcome: Outcome;
  readonly sent: boolean;
  retries: number;
  /** Next lifecycle step: 0 received, 1 started, 2 final (or retried). */
  step: number;
  startedAt: number;
}

/**
 * A node that sends heartbeats. `processed`: the tasks a worker that runs tasks has received, as
 * its heartbeats report it. Idle nodes have none here and report a count that never moves
 * (IDLE_PROCESSED): one that grew with no task events would be a worker with events off, which
 * the daemon reports.
 */
interface HeartbeatHost {
  readonly hostname: string;
  readonly pid: number;
  clock: number;
  readonly processed?: number;
}

/** What an idle worker of the fleet processed before the run: it stays the same. */
export const IDLE_PROCESSED = 1200;

interface Worker {
  readonly hostname: string;
  readonly pid: number;
  clock: number;
  processed: number;
  /** Index of the queue it consumes, and the next of its task names to run. */
  readonly queue: number;
  nameCursor: number;
  readonly slots: (Task | undefined)[];
}

export class TrafficModel {
  readonly tally = new Tally();
  private readonly o: TrafficOptions;
  private readonly workers: Worker[] = [];
  private readonly heartbeatHosts: HeartbeatHost[] = [];
  /** Task names of each queue: a worker consumes one queue and runs only its tasks (-Q). */
  private readonly namesOfQueue: { queue: string; names: string[] }[] = [];
  private readonly pendingSent: Frame[] = [];
  private rng: number;
  private nextWorker = 0;
  private nextHeartbeat = 0;
  private heartbeatDebt = 0;
  private lastHeartbeatAt: number | undefined;
  private idCounter = 0;
  private lastStamp = 0;

  constructor(options: Partial<TrafficOptions> = {}) {
    this.o = { ...DEFAULT_TRAFFIC, ...options };
    this.rng = this.o.seed >>> 0 || 1;
    const apps = ['billing', 'orders', 'emails', 'search', 'reports', 'media', 'auth', 'sync'];
    for (let q = 0; q < this.o.queues; q++) this.namesOfQueue.push({ queue: q === 0 ? 'celery' : `q${q}`, names: [] });
    for (let i = 0; i < this.o.taskNames; i++) this.namesOfQueue[i % this.o.queues]!.names.push(`${apps[i % apps.length]}.tasks.job_${i}`);
    for (let i = 0; i < this.o.workers; i++) {
      const w: Worker = { hostname: `celery@worker-${i}.prod`, pid: 1000 + i, clock: 0, processed: 0, queue: i % this.o.queues, nameCursor: 0, slots: [] };
      for (let s = 0; s < this.o.concurrency; s++) w.slots.push(undefined);
      this.workers.push(w);
      this.heartbeatHosts.push(w);
    }
    for (let i = 0; i < this.o.idleWorkers; i++) this.heartbeatHosts.push({ hostname: `celery@idle-${i}.prod`, pid: 5000 + i, clock: 0 });
  }

  /**
   * Frames for about `events` more events at time `now` (epoch seconds): the heartbeats due, any
   * task-sent frames, then one task.multi batch of `batch` (1-24) events per call to `batchFrame`.
   */
  *frames(events: number, now: number): Generator<Frame> {
    let left = events;
    for (const hb of this.heartbeatsDue(now)) {
      left -= hb.events;
      yield hb;
    }
    while (left > 0) {
      // Batch sizes follow the worker, not the caller's tick: the overshoot is paid back next tick.
      const batch = this.batchFrame(this.batchSize(), now);
      // A client's task-sent is published before the worker's batch that receives the task.
      while (this.pendingSent.length > 0) {
        const sent = this.pendingSent.shift()!;
        left -= sent.events;
        yield sent;
      }
      left -= batch.events;
      yield batch;
    }
  }

  /** One worker's `task.multi` batch of exactly `size` events. */
  batchFrame(size: number, now: number): Frame {
    const w = this.workers[this.nextWorker]!;
    this.nextWorker = (this.nextWorker + 1) % this.workers.length;
    const parts: string[] = [];
    for (let i = 0; i < size; i++) {
      const slot = Math.floor(this.random() * w.slots.length);
      let task = w.slots[slot];
      if (task === undefined) {
        task = this.newTask(w, now);
        w.slots[slot] = task;
      }
      parts.push(this.nextEvent(w, task, now));
      if (task.step > 2) w.slots[slot] = undefined;
    }
    this.tally.events += size;
    return { routingKey: 'task.multi', hostname: w.hostname, body: `[${parts.join(', ')}]`, events: size };
  }

  // Busy workers fill the 24-event buffer before the loop tick flushes it; quieter moments flush
  // smaller batches.
  private batchSize(): number {
    return this.random() < 0.75 ? 24 : 1 + Math.floor(this.random() * 23);
  }

  private heartbeatsDue(now: number): Frame[] {
    if (this.heartbeatHosts.length === 0) return [];
    if (this.lastHeartbeatAt === undefined) this.lastHeartbeatAt = now;
    this.heartbeatDebt += ((now - this.lastHeartbeatAt) * this.heartbeatHosts.length) / this.o.heartbeatInterval;
    this.lastHeartbeatAt = now;
    const out: Frame[] = [];
    while (this.heartbeatDebt >= 1) {
      this.heartbeatDebt -= 1;
      const h = this.heartbeatHosts[this.nextHeartbeat]!;
      this.nextHeartbeat = (this.nextHeartbeat + 1) % this.heartbeatHosts.length;
      out.push(this.heartbeat(h, now));
    }
    return out;
  }

  /** A worker-heartbeat as worker/heartbeat.py sends it. */
  heartbeat(h: HeartbeatHost, at: number): Frame {
    const now = this.stamp(at);
    h.clock++;
    const active = h.processed === undefined ? 0 : this.o.concurrency;
    const body =
      `{"hostname": "${h.hostname}", "utcoffset": 0, "pid": ${h.pid}, "clock": ${h.clock}, "freq": ${this.o.heartbeatInterval.toFixed(1)}, ` +
      `"active": ${active}, "processed": ${h.processed ?? IDLE_PROCESSED}, "loadavg": [1.25, 1.1, 0.98], "sw_ident": "py-celery", "sw_ver": "5.2.6", ` +
      `"sw_sys": "Linux", "timestamp": ${now}, "type": "worker-heartbeat"}`;
    this.tally.events++;
    this.tally.byType['worker-heartbeat']++;
    return { routingKey: 'worker.heartbeat', hostname: h.hostname, body, events: 1 };
  }

  private newTask(w: Worker, now: number): Task {
    const r = this.random();
    let outcome: Outcome = 'success';
    let acc = 0;
    for (const [o, weight] of OUTCOME_WEIGHTS) {
      acc += weight;
      if (r < acc) {
        outcome = o;
        break;
      }
    }
    const { queue, names } = this.namesOfQueue[w.queue]!;
    const name = names[w.nameCursor % names.length]!;
    w.nameCursor++;
    const task: Task = {
      uuid: this.uuid(),
      name,
      queue,
      outcome,
      sent: this.random() < this.o.sentFraction,
      retries: 0,
      step: 0,
      startedAt: now,
    };
    this.tally.tasks++;
    if (task.sent) this.pendingSent.push(this.sentFrame(task, now, 0));
    return task;
  }

  /** task-sent from the client (`gen<pid>@host`), or from the pool child for a retry. */
  private sentFrame(task: Task, at: number, retries: number): Frame {
    const now = this.stamp(at);
    const host = retries === 0 ? 'gen4242@web-1.prod' : 'gen8024@worker.prod';
    const body =
      `{"hostname": "${host}", "utcoffset": 0, "pid": 4242, "clock": 1, "uuid": "${task.uuid}", "root_id": "${task.uuid}", ` +
      `"parent_id": ${retries === 0 ? 'null' : `"${task.uuid}"`}, "name": "${task.name}", "args": ${ARGS}, ` +
      `"kwargs": ${KWARGS}, "retries": ${retries}, "eta": null, "expires": null, "queue": "${task.queue}", ` +
      `"exchange": "", "routing_key": "${task.queue}", "timestamp": ${now}, "type": "task-sent"}`;
    this.tally.events++;
    this.tally.byType['task-sent']++;
    return { routingKey: 'task.sent', hostname: host, body, events: 1 };
  }

  private nextEvent(w: Worker, task: Task, at: number): string {
    const now = this.stamp(at);
    w.clock++;
    const head = `{"hostname": "${w.hostname}", "utcoffset": 0, "pid": ${w.pid}, "clock": ${w.clock}, "uuid": "${task.uuid}", `;
    const step = task.step++;
    if (step === 0) {
      w.processed++;
      this.tally.byType['task-received']++;
      if (!this.o.started) task.step++;
      return (
        `${head}"name": "${task.name}", "args": ${ARGS}, "kwargs": ${KWARGS}, "root_id": "${task.uuid}", ` +
        `"parent_id": ${task.retries === 0 ? 'null' : `"${task.uuid}"`}, "retries": ${task.retries}, "eta": null, "expires": null, ` +
        `"timestamp": ${now}, "type": "task-received"}`
      );
    }
    if (step === 1) {
      task.startedAt = now;
      this.tally.byType['task-started']++;
      return `${head}"timestamp": ${now}, "type": "task-started"}`;
    }
    const runtime = Math.max(now - task.startedAt, 0.000123);
    switch (task.outcome) {
      case 'failure': {
        const repr = EXCEPTIONS[w.clock % EXCEPTIONS.length]!;
        this.tally.byType['task-failed']++;
        return `${head}"exception": ${repr}, "traceback": ${TRACEBACK}, "timestamp": ${now}, "type": "task-failed"}`;
      }
      case 'retry':
        if (task.retries < 2) {
          // Retried, then delivered again as the same uuid with retries+1 (PROTOCOL.md §3).
          task.retries++;
          task.step = 0;
          if (task.sent) this.pendingSent.push(this.sentFrame(task, now, task.retries));
          this.tally.byType['task-retried']++;
          return (
            `${head}"exception": ${RETRY_EXCEPTION}, "traceback": ${TRACEBACK}, ` +
            `"timestamp": ${now}, "type": "task-retried"}`
          );
        }
        break;
      case 'revoked':
        this.tally.byType['task-revoked']++;
        return `${head}"terminated": false, "signum": null, "expired": false, "timestamp": ${now}, "type": "task-revoked"}`;
      case 'rejected':
        this.tally.byType['task-rejected']++;
        return `${head}"requeue": false, "timestamp": ${now}, "type": "task-rejected"}`;
      case 'success':
        break;
    }
    this.tally.byType['task-succeeded']++;
    return `${head}"result": ${RESULT}, "runtime": ${runtime}, "timestamp": ${now}, "type": "task-succeeded"}`;
  }

  // Every event gets its own timestamp, a microsecond after the previous one at least, as real
  // events do: the daemon drops an event with the same uuid, type and timestamp as a duplicate.
  private stamp(now: number): number {
    this.lastStamp = now > this.lastStamp ? now : this.lastStamp + 0.000001;
    return this.lastStamp;
  }

  /** uuid4-shaped and unique per model: prefix, then a counter. */
  private uuid(): string {
    const n = (this.idCounter++).toString(16).padStart(20, '0');
    return `${this.o.idPrefix}-${n.slice(0, 4)}-4${n.slice(4, 7)}-a${n.slice(7, 10)}-${n.slice(10, 20)}00`;
  }

  // xorshift32: deterministic and allocation-free, so the mix is the same on every run.
  private random(): number {
    let x = this.rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.rng = x >>> 0;
    return this.rng / 4294967296;
  }
}
