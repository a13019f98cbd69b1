import type { WorkerEvent } from '../protocol/events.js';

/** Celery's heartbeat interval when a worker does not say (worker/heartbeat.py: Heart interval 2.0). */
export const DEFAULT_HEARTBEAT_FREQ = 2.0;

export interface WorkerRecord {
  readonly hostname: string;
  /** Seconds between heartbeats, as the worker advertises it in `freq`. */
  freq: number;
  /** False after worker-offline (a clean shutdown). */
  online: boolean;
  /** Local clock (epoch seconds) when the last event from this worker arrived. */
  lastSeenAt: number;
  /** Sender timestamp of the last heartbeat (or online event). */
  lastHeartbeatTimestamp: number | undefined;
  active: number;
  processed: number | undefined;
  loadavg: readonly number[] | undefined;
  swVer: string | undefined;
  /** Set once the worker has been silent past the timeout; its unfinished tasks were declared lost. */
  silent: boolean;
  /** Sender timestamp and local arrival of the last regular heartbeat (one that carries `active`). */
  lastBeat: number | undefined;
  lastBeatSeenAt: number;
  /** Heartbeats that came later than HEARTBEAT_GAP_FACTOR x freq after the previous one while the broker stayed connected. */
  heartbeatGaps: number;
  /** Seconds of heartbeats missing in those gaps (the interval minus one `freq`). */
  heartbeatGapSeconds: number;
  /** `processed` when the worker last proved it sends task events (or when first seen). */
  processedBaseline: number | undefined;
  taskEventSinceBeat: boolean;
  /** Sender timestamp of the first heartbeat showing growth of `processed` with no task event. */
  eventsSuspectSince: number | undefined;
  /** Heartbeats show tasks being processed but no task event arrives: events are off on this worker. */
  taskEventsOff: boolean;
}

/**
 * A heartbeat later than this many `freq` after the previous one, with the broker connected all
 * along, means heartbeats (and so probably other events) were lost on the way.
 */
export const HEARTBEAT_GAP_FACTOR = 2;

/** Longest extra wait for workers to reconnect after an outage of the event stream, seconds. */
export const RECONNECT_GRACE_MAX = 30;

export interface WorkerRegistryOptions {
  /** A worker is down once this many heartbeat intervals pass with nothing from it. */
  readonly heartbeatTimeoutFactor: number;
  /** Seconds after which a silent worker's series are dropped altogether. */
  readonly forgetAfter: number;
  /**
   * celery-exporter's --worker-timeout: a fixed silence in seconds (Infinity: never) used instead
   * of `freq` x heartbeatTimeoutFactor.
   */
  readonly timeoutSeconds?: number | undefined;
  /** Most workers held at once (--max-label-values); unlimited when absent. */
  readonly maxWorkers?: number;
}

/**
 * Liveness of workers. Celery's own state machine calls a worker alive while
 * `now < last_heartbeat + freq * 2` (celery/events/state.py, HEARTBEAT_EXPIRE_WINDOW=200);
 * worker-offline is only sent on a clean shutdown, so expiry is what catches a SIGKILL or OOM.
 *
 * celery-pulse's default factor is 3, not Celery's 2: here expiry also declares the worker's
 * unfinished tasks lost (a counter that never goes back), so one late heartbeat from a loaded or
 * GC-pausing worker must not be enough; a dead worker still shows within 6 s at the default freq.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly options: WorkerRegistryOptions;
  /** Events from new hostnames while the registry was full: those workers are not tracked. */
  untracked = 0;
  /** Local clock when the event stream went down; while set, silence proves nothing. */
  private pausedAt: number | undefined;
  /** Local clock when the event stream last came back. */
  private resumedAt = -Infinity;

  constructor(options: WorkerRegistryOptions) {
    this.options = options;
  }

  get size(): number {
    return this.workers.size;
  }

  get(hostname: string): WorkerRecord | undefined {
    return this.workers.get(hostname);
  }

  values(): IterableIterator<WorkerRecord> {
    return this.workers.values();
  }

  applyWorkerEvent(event: WorkerEvent, now: number): WorkerRecord {
    const worker = this.seen(event.hostname, now);
    // Heartbeats sent in reply to a pidbox `heartbeat` broadcast carry no active/processed/loadavg
    // and a made-up freq=5 (celery/worker/control.py `heartbeat`): the worker still beats at its
    // own interval, so that freq would only delay noticing its death.
    const regular = event.type !== 'worker-heartbeat' || event.active !== undefined;
    if (event.freq !== undefined && regular) worker.freq = event.freq;
    if (event.type !== 'worker-heartbeat') {
      // A (re)started or stopped process: its heartbeat cadence and counters start afresh. The
      // worker-online carries `processed` too (0): tasks done before its first heartbeat count.
      worker.lastBeat = undefined;
      worker.processedBaseline = event.type === 'worker-online' ? event.processed : undefined;
      worker.eventsSuspectSince = undefined;
    }
    if (event.type === 'worker-offline') {
      worker.online = false;
      worker.active = 0;
      return worker;
    }
    worker.online = true;
    worker.lastHeartbeatTimestamp = event.timestamp;
    if (event.active !== undefined) worker.active = event.active;
    if (event.processed !== undefined) worker.processed = event.processed;
    if (event.loadavg !== undefined) worker.loadavg = event.loadavg;
    if (event.swVer !== undefined) worker.swVer = event.swVer;
    if (event.type === 'worker-heartbeat' && regular) {
      this.noteBeatGap(worker, event.timestamp, now);
      if (event.processed !== undefined) this.noteProcessed(worker, event.processed, event.timestamp);
    }
    return worker;
  }

  /** A task event from this worker: it is alive, and it sends task events. */
  taskEventFrom(hostname: string, now: number): WorkerRecord {
    const worker = this.seen(hostname, now);
    worker.taskEventSinceBeat = true;
    return worker;
  }

  /** The event stream is down: nothing can be heard, so silence from now on proves nothing. */
  streamDown(now: number): void {
    if (this.pausedAt === undefined) this.pausedAt = now;
  }

  /**
   * The event stream is back. The time we were deaf does not count as the workers' silence: each
   * worker's last sighting moves forward by the length of the gap, so one already silent stays
   * so. A worker alive when the stream dropped was most likely cut off from the broker too, and
   * reconnects on its own back-off (Celery retries after 2, 4, 6… s): it gets as long again as the
   * outage lasted (at most RECONNECT_GRACE_MAX) on top of its timeout before it counts as dead.
   */
  streamUp(now: number): void {
    const pausedAt = this.pausedAt;
    this.pausedAt = undefined;
    this.resumedAt = now;
    if (pausedAt === undefined) return;
    const deaf = Math.max(0, now - pausedAt);
    const grace = Math.min(deaf, RECONNECT_GRACE_MAX);
    for (const worker of this.workers.values()) {
      const wasUp = pausedAt - worker.lastSeenAt <= this.silenceLimit(worker);
      worker.lastSeenAt += deaf;
      if (wasUp) worker.lastSeenAt = Math.max(worker.lastSeenAt, now + grace);
    }
  }

  /**
   * Workers whose silence has just passed the timeout (`freq` x heartbeatTimeoutFactor), each
   * reported once until it is heard again. Silence only: a worker-offline may be a consumer
   * restart after a lost broker connection (celery/worker/consumer/heart.py stops and restarts
   * the Heart), whose running tasks carry on, so it is judged by whether it comes back in time.
   */
  expireSilent(now: number): WorkerRecord[] {
    const t = this.pausedAt ?? now;
    const expired: WorkerRecord[] = [];
    for (const worker of this.workers.values()) {
      if (!worker.silent && t - worker.lastSeenAt > this.silenceLimit(worker)) {
        worker.silent = true;
        expired.push(worker);
      }
    }
    return expired;
  }

  private noteBeatGap(worker: WorkerRecord, timestamp: number, now: number): void {
    const previous = worker.lastBeat;
    if (previous !== undefined && timestamp <= previous) return; // late or repeated: not a gap
    const connectedSince = this.pausedAt === undefined && worker.lastBeatSeenAt >= this.resumedAt;
    if (previous !== undefined && connectedSince) {
      const interval = timestamp - previous;
      if (interval > worker.freq * HEARTBEAT_GAP_FACTOR) {
        worker.heartbeatGaps++;
        worker.heartbeatGapSeconds += interval - worker.freq;
      }
    }
    worker.lastBeat = timestamp;
    worker.lastBeatSeenAt = now;
  }

  /**
   * `processed` counts tasks the worker accepted (celery/worker/state.py total_count). If it grows
   * across two heartbeats at least one `freq` apart with no task event from the worker in
   * between, task events are off there (no -E, or `disable_events`). One heartbeat is not enough:
   * the worker buffers task events (PROTOCOL.md §0) and may flush them after its next heartbeat.
   */
  private noteProcessed(worker: WorkerRecord, processed: number, timestamp: number): void {
    if (worker.taskEventSinceBeat || worker.processedBaseline === undefined || processed < worker.processedBaseline) {
      worker.processedBaseline = processed;
      worker.eventsSuspectSince = undefined;
      worker.taskEventsOff = false;
      worker.taskEventSinceBeat = false;
      return;
    }
    if (processed === worker.processedBaseline) return;
    if (worker.eventsSuspectSince === undefined) worker.eventsSuspectSince = timestamp;
    else if (timestamp - worker.eventsSuspectSince >= worker.freq) worker.taskEventsOff = true;
  }

  /** A task event from a worker proves it is alive too (celery/events/state.py does the same). */
  seen(hostname: string, now: number): WorkerRecord {
    let worker = this.workers.get(hostname);
    if (worker === undefined) {
      worker = {
        hostname,
        freq: DEFAULT_HEARTBEAT_FREQ,
        online: true,
        lastSeenAt: now,
        lastHeartbeatTimestamp: undefined,
        active: 0,
        processed: undefined,
        loadavg: undefined,
        swVer: undefined,
        silent: false,
        lastBeat: undefined,
        lastBeatSeenAt: -Infinity,
        heartbeatGaps: 0,
        heartbeatGapSeconds: 0,
        processedBaseline: undefined,
        taskEventSinceBeat: false,
        eventsSuspectSince: undefined,
        taskEventsOff: false,
      };
      // When full, a new hostname gets a record that is not kept: a flood of invented worker names
      // cannot grow memory or the worker series, and cannot push out the workers already known.
      if (this.workers.size < (this.options.maxWorkers ?? Infinity)) this.workers.set(hostname, worker);
      else this.untracked++;
    }
    worker.lastSeenAt = now;
    worker.online = true;
    worker.silent = false;
    return worker;
  }

  private silenceLimit(worker: WorkerRecord): number {
    return this.options.timeoutSeconds ?? worker.freq * this.options.heartbeatTimeoutFactor;
  }

  /** While the event stream is down the answer stays what it was when it dropped. */
  isUp(worker: WorkerRecord, now: number): boolean {
    const t = this.pausedAt ?? now;
    return worker.online && t - worker.lastSeenAt <= this.silenceLimit(worker);
  }

  /** Drops workers silent for longer than `forgetAfter`; returns their names. */
  forgetSilent(now: number): string[] {
    const gone: string[] = [];
    const t = this.pausedAt ?? now;
    for (const worker of this.workers.values()) {
      if (t - worker.lastSeenAt > this.options.forgetAfter) {
        this.workers.delete(worker.hostname);
        gone.push(worker.hostname);
      }
    }
    return gone;
  }
}
