import type { EventSource, ReplyLimits } from '../brokers/source.js';

/**
 * Celery's `inspect` over the pidbox, for any method: one broadcast asking for replies, every
 * worker's answer within the limits, by worker node name. celery/app/control.py Inspect._request
 * does the same (`broadcast(method, reply=True)`, then merges the `{hostname: value}` replies).
 * Each value goes through `parse`; a worker whose reply does not parse is left out.
 */
export async function inspectWorkers<T>(
  source: Pick<EventSource, 'request'>,
  method: string,
  args: Record<string, unknown>,
  parse: (value: unknown) => T | undefined,
  limits: ReplyLimits,
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  if (source.request === undefined) return out;
  for (const reply of await source.request(method, args, limits)) {
    if (reply === null || typeof reply !== 'object' || Array.isArray(reply)) continue;
    for (const [worker, value] of Object.entries(reply as Record<string, unknown>)) {
      const parsed = parse(value);
      if (parsed !== undefined) out.set(worker, parsed);
    }
  }
  return out;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);

/** `active_queues`: the queues a worker consumes from (celery/worker/control.py `active_queues`, kombu Queue.as_dict). */
export function parseActiveQueues(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.flatMap((q) => (isObject(q) && typeof q['name'] === 'string' ? [q['name']] : []));
}

export interface WorkerStats {
  /** Pool processes (`pool.processes`, the pids of a prefork pool); 0 for pools without processes. */
  readonly processes: number;
  /** `pool.max-concurrency`, when the pool reports it. */
  readonly maxConcurrency: number | undefined;
}

/** `stats` (celery/worker/control.py `stats`, the pool part from Pool.info). */
export function parseStats(value: unknown): WorkerStats | undefined {
  if (!isObject(value)) return undefined;
  const pool = isObject(value['pool']) ? value['pool'] : {};
  const processes = Array.isArray(pool['processes']) ? pool['processes'].length : 0;
  return { processes, maxConcurrency: num(pool['max-concurrency']) };
}

/** One task a worker holds, from `active`, `reserved` or `scheduled` (Request.info()). */
export interface HeldTask {
  readonly id: string;
  readonly name: string | undefined;
  /** The worker node name that holds it. */
  readonly hostname: string | undefined;
  /** Epoch seconds it started (`active` only). */
  readonly timeStart: number | undefined;
  /** The routing key it was delivered with (the queue, with Celery's default routing). */
  readonly routingKey: string | undefined;
  /** ISO 8601 ETA (`scheduled` only). */
  readonly eta: string | undefined;
}

/**
 * `active` and `reserved` answer a list of Request.info() dicts; `scheduled` a list of
 * `{eta, priority, request: Request.info()}` (celery/worker/control.py). Both shapes are read here.
 */
export function parseHeldTasks(value: unknown): HeldTask[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const out: HeldTask[] = [];
  for (const item of value) {
    if (!isObject(item)) continue;
    const request = isObject(item['request']) ? item['request'] : item;
    const id = str(request['id']);
    if (id === undefined) continue;
    const delivery = isObject(request['delivery_info']) ? request['delivery_info'] : {};
    out.push({
      id,
      name: str(request['name']),
      hostname: str(request['hostname']),
      timeStart: num(request['time_start']),
      routingKey: str(delivery['routing_key']),
      eta: str(item['eta']),
    });
  }
  return out;
}
