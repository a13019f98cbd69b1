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
}

export interface WorkerRegistryOptions {
  /** A worker is down once this many heartbeat intervals pass with nothing from it. */
  readonly heartbeatTimeoutFactor: number;
  /** Seconds after which a silent worker's series are dropped altogether. */
  readonly forgetAfter: number;
}

/**
 * Liveness of workers. Celery's own state machine calls a worker alive while
 * `now < last_heartbeat + freq * 2` (celery/events/state.py, HEARTBEAT_EXPIRE_WINDOW=200);
 * worker-offline is only sent on a clean shutdown, so expiry is what catches a SIGKILL or OOM.
 */
export class WorkerRegistry {
  private readonly workers = new Map<string, WorkerRecord>();
  private readonly options: WorkerRegistryOptions;

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
    if (event.freq !== undefined) worker.freq = event.freq;
    if (event.type === 'worker-offline') {
      worker.online = false;
      worker.active = 0;
      return worker;
    }
    worker.online = true;
    worker.lastHeartbeatTimestamp = event.timestamp;
    // Heartbeats sent in reply to a pidbox broadcast carry no active/processed/loadavg.
    if (event.active !== undefined) worker.active = event.active;
    if (event.processed !== undefined) worker.processed = event.processed;
    if (event.loadavg !== undefined) worker.loadavg = event.loadavg;
    if (event.swVer !== undefined) worker.swVer = event.swVer;
    return worker;
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
      };
      this.workers.set(hostname, worker);
    }
    worker.lastSeenAt = now;
    worker.online = true;
    return worker;
  }

  isUp(worker: WorkerRecord, now: number): boolean {
    return worker.online && now - worker.lastSeenAt <= worker.freq * this.options.heartbeatTimeoutFactor;
  }

  /** Drops workers silent for longer than `forgetAfter`; returns their names. */
  forgetSilent(now: number): string[] {
    const gone: string[] = [];
    for (const worker of this.workers.values()) {
      if (now - worker.lastSeenAt > this.options.forgetAfter) {
        this.workers.delete(worker.hostname);
        gone.push(worker.hostname);
      }
    }
    return gone;
  }
}
