import type { Logger } from 'pino';
import type { EventSource } from '../brokers/source.js';

export interface WorkerControlOptions {
  /** Send `enable_events` (--enable-events). */
  readonly enableEvents: boolean;
  /** Seconds between repeated `enable_events` broadcasts. */
  readonly enableEventsInterval: number;
}

/**
 * The remote-control broadcasts celery-pulse sends to workers through one broker.
 *
 * On every (re)connection: `heartbeat`, as Celery's own EventReceiver does when it starts
 * (celery/events/receiver.py), so every live worker answers at once and is seen without waiting
 * for its next heartbeat; and with --enable-events, `enable_events`, which turns task events on in
 * workers started without -E (celery/worker/control.py `enable_events`). That one is repeated every
 * interval to reach workers started since. Brokers whose source cannot broadcast are left alone.
 */
export class WorkerControl {
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly source: EventSource,
    private readonly broker: string,
    private readonly options: WorkerControlOptions,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (!this.options.enableEvents || this.source.broadcast === undefined) return;
    this.timer = setInterval(() => {
      if (this.source.connected) this.send('enable_events');
    }, this.options.enableEventsInterval * 1000);
    this.timer.unref();
  }

  /** The event source is (again) subscribed. */
  connected(): void {
    this.send('heartbeat');
    if (this.options.enableEvents) this.send('enable_events');
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
  }

  private send(method: string): void {
    const broadcast = this.source.broadcast?.bind(this.source);
    if (broadcast === undefined) return;
    broadcast(method, {}).then(
      () => {
        this.warned = false;
        this.logger.debug({ broker: this.broker, method }, 'sent a remote-control broadcast to the workers');
      },
      (err: Error) => {
        // A read-only broker account may refuse PUBLISH: say so once, not on every retry.
        if (this.warned) return;
        this.warned = true;
        this.logger.warn({ broker: this.broker, method, err: err.message }, 'could not send a remote-control broadcast to the workers');
      },
    );
  }
}
