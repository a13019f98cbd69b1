import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { backoffDelay } from '../brokers/backoff.js';
import type { BackoffOptions } from '../brokers/backoff.js';

/** Starts the thread that compares; tests pass one of their own. */
type StartThread = () => Promise<Worker>;

export interface BcryptCheckerOptions {
  readonly logger: Pick<Logger, 'error' | 'info'>;
  readonly startThread?: StartThread;
  /** Milliseconds since some origin; the backoff's clock. */
  readonly now?: () => number;
}

// A thread that cannot start (a missing file in a broken image, no memory for another isolate)
// usually fails the same way at once: restarting it on every request would start a thread per
// request. After a failure, checks are refused (401) for a while, 1 s doubling up to 1 min.
const RETRY: BackoffOptions = { initialMs: 1000, maxMs: 60_000 };
/** No jitter: one process retries one thread, there is no herd to spread. */
const NO_JITTER = (): number => 1;

const startBcryptThread: StartThread = async () => {
  const { Worker } = await import('node:worker_threads');
  return new Worker(new URL('./bcrypt-thread.js', import.meta.url));
};

/**
 * bcrypt compares on a worker thread. bcryptjs is pure JavaScript (~100 ms of CPU per check at
 * cost 10) and its async compare still runs on the event loop in slices of up to 100 ms
 * (MAX_EXECUTION_TIME in bcryptjs): 80 clients sending wrong passwords pushed a good client's
 * latency to seconds. On a thread of its own, a flood of checks costs at most one core and the
 * event loop keeps answering (remembered good credentials need no check at all). The thread is
 * started on the first check and runs one compare at a time; AccessControl bounds what queues.
 */
export class BcryptChecker {
  private worker: Worker | undefined;
  private starting: Promise<Worker | undefined> | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, (ok: boolean) => void>();
  /** Failures since a thread last answered, and when the next start may be tried. */
  private failures = 0;
  private retryAt = 0;
  private readonly logger: Pick<Logger, 'error' | 'info'>;
  private readonly startThread: StartThread;
  private readonly now: () => number;

  constructor(options: BcryptCheckerOptions) {
    this.logger = options.logger;
    this.startThread = options.startThread ?? startBcryptThread;
    this.now = options.now ?? (() => performance.now());
  }

  /** False for a wrong password, and while no thread can run the check. */
  async compare(password: string, hash: string): Promise<boolean> {
    const worker = await this.start();
    if (worker === undefined) return false;
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, password, hash });
    });
  }

  private start(): Promise<Worker | undefined> {
    if (this.worker !== undefined) return Promise.resolve(this.worker);
    if (this.now() < this.retryAt) return Promise.resolve(undefined);
    // Checks that arrive while a thread is starting wait for that one.
    this.starting ??= this.launch().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private async launch(): Promise<Worker | undefined> {
    let worker: Worker;
    try {
      worker = await this.startThread();
    } catch (err) {
      this.failed(err);
      return undefined;
    }
    // Never keeps the process alive on shutdown.
    worker.unref();
    worker.on('message', (m: { id: number; ok: boolean }) => {
      if (this.failures > 0) {
        this.logger.info('the bcrypt worker thread runs again: basic-auth checks resume');
        this.failures = 0;
      }
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m.ok);
    });
    // A thread that dies answers "no" to what it had (the request gets a 401); after the backoff
    // the next check starts a new one. 'error' is followed by 'exit': one failure, counted once.
    let ended = false;
    const end = (err: unknown): void => {
      if (ended) return;
      ended = true;
      if (this.worker === worker) this.worker = undefined;
      for (const resolve of this.waiting.values()) resolve(false);
      this.waiting.clear();
      this.failed(err);
    };
    worker.on('error', end);
    worker.on('exit', (code) => end(new Error(`exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private failed(err: unknown): void {
    this.failures++;
    this.retryAt = this.now() + backoffDelay(this.failures, RETRY, NO_JITTER);
    // Logged once per outage, not once per request that finds it down.
    if (this.failures === 1) {
      this.logger.error(
        { err: err instanceof Error ? err.message : String(err) },
        'the bcrypt worker thread failed: basic-auth checks of credentials not yet seen are refused (401) until it runs again; it is restarted with a backoff up to 1 min',
      );
    }
  }
}
