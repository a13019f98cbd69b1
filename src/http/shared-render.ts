/**
 * One rendering of the exposition per (format, name filter) at a time, shared by every scrape that
 * asks for it meanwhile (the collectors' update included: server.ts renders with it). Each scrape holding its own copy made memory grow with their number (500
 * concurrent scrapes of a 5.6 MB exposition took 2.99 GB); now N concurrent scrapes cost one
 * string and one Buffer, which every response writes without copying it. Different filters
 * render one after the other beyond MAX_RENDERS at once, so a client varying `name[]` cannot
 * start renderings without bound either. A rendering stops (its signal aborts) only when every
 * scrape waiting for it has gone away.
 */
export type Render = (signal: AbortSignal) => Promise<string>;

/** Renderings of different filters in progress at once; the others wait their turn. */
const MAX_RENDERS = 2;

interface Rendering {
  readonly body: Promise<Buffer>;
  readonly stop: AbortController;
  waiting: number;
}

export class SharedRender {
  private readonly inFlight = new Map<string, Rendering>();
  private running = 0;
  private readonly queue: (() => void)[] = [];

  /** The body for `key`, from the rendering in progress if there is one; `gone` aborts when this scrape's client leaves. */
  async get(key: string, render: Render, gone: AbortSignal): Promise<Buffer> {
    let r = this.inFlight.get(key);
    if (r === undefined) {
      const stop = new AbortController();
      const created: Rendering = { body: this.run(render, stop.signal), stop, waiting: 0 };
      r = created;
      this.inFlight.set(key, r);
      // Settled: the next scrape renders afresh (a finished rendering is never served again).
      void created.body.then(
        () => this.inFlight.get(key) === created && this.inFlight.delete(key),
        () => this.inFlight.get(key) === created && this.inFlight.delete(key),
      );
    }
    const rendering = r;
    rendering.waiting++;
    const leave = (): void => {
      if (--rendering.waiting === 0) {
        if (this.inFlight.get(key) === rendering) this.inFlight.delete(key);
        rendering.stop.abort(new Error('every client went away'));
      }
    };
    gone.addEventListener('abort', leave, { once: true });
    try {
      return await rendering.body;
    } finally {
      if (!gone.aborted) {
        gone.removeEventListener('abort', leave);
        rendering.waiting--;
      }
    }
  }

  private async run(render: Render, signal: AbortSignal): Promise<Buffer> {
    if (this.running >= MAX_RENDERS) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.running++;
    try {
      signal.throwIfAborted();
      return Buffer.from(await render(signal), 'utf8');
    } finally {
      this.running--;
      this.queue.shift()?.();
    }
  }
}
