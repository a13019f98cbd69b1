import type { Worker } from 'node:worker_threads';

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
  private nextId = 0;
  private readonly waiting = new Map<number, (ok: boolean) => void>();

  async compare(password: string, hash: string): Promise<boolean> {
    const worker = await this.start();
    const id = this.nextId++;
    return new Promise<boolean>((resolve) => {
      this.waiting.set(id, resolve);
      worker.postMessage({ id, password, hash });
    });
  }

  private async start(): Promise<Worker> {
    if (this.worker !== undefined) return this.worker;
    const { Worker } = await import('node:worker_threads');
    if (this.worker !== undefined) return this.worker;
    const worker = new Worker(new URL('./bcrypt-thread.js', import.meta.url));
    // Never keeps the process alive on shutdown.
    worker.unref();
    worker.on('message', (m: { id: number; ok: boolean }) => {
      const resolve = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      resolve?.(m.ok);
    });
    // A thread that dies answers "no" to what it had (the request gets a 401), and the next check starts a new one.
    const failed = (): void => {
      if (this.worker === worker) this.worker = undefined;
      for (const resolve of this.waiting.values()) resolve(false);
      this.waiting.clear();
    };
    worker.on('error', failed);
    worker.on('exit', failed);
    this.worker = worker;
    return worker;
  }
}
