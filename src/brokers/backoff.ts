export interface BackoffOptions {
  /** Milliseconds before the first retry. */
  readonly initialMs: number;
  /** Upper bound of any one wait, in milliseconds. */
  readonly maxMs: number;
}

const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 10_000 };

/**
 * Event connections: every second without one loses events (Redis pub/sub keeps none), so once
 * the broker answers again the next attempt comes within 1.5 s, however long it was down. One
 * connection attempt a second or so is no load on a broker that is down.
 */
export const EVENT_SOURCE_BACKOFF: BackoffOptions = { initialMs: 200, maxMs: 1500 };

/**
 * Capped exponential backoff with "equal jitter": half the step is fixed, half random, so many
 * exporters restarted together do not reconnect in lock-step, yet none waits close to zero.
 * `attempt` counts from 1.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const step = Math.min(options.maxMs, options.initialMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(step / 2 + random() * (step / 2));
}
