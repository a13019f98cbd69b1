import type { CeleryEvent, TaskEvent } from '../protocol/events.js';
import { compileHostnamePatterns } from './hostname-pattern.js';

export interface WorkerFilterOptions {
  /** --only-worker: node names or globs of the workers whose events are counted. */
  readonly patterns: readonly string[];
  /** Most task-sent events held for a task none of the selected workers has taken yet. */
  readonly maxHeldSent: number;
  /** Seconds such a task-sent is held: the longest a task is expected to wait in its queue. */
  readonly heldSentTtl: number;
}

export type DeliverEvent = (event: CeleryEvent, now: number) => void;

// A task-received can overtake its task-sent: the client publishes the task message first and
// the task-sent event after it (celery/app/amqp.py send_task_message), so a fast worker may
// announce the task first. The task-sent that belongs to such a claimed task arrives within
// moments or not at all.
const CLAIM_WAIT_SECONDS = 60;

/**
 * Sidecar mode: passes on only the events of the selected workers, so that several celery-pulse
 * instances on one broker, one per worker, together count every event exactly once.
 *
 * Worker events and task events other than task-sent carry the node name of the worker that sent
 * them. task-sent comes from the client (`gen<pid>@host`, retries included), so it belongs to no
 * worker: it is held until one of the selected workers takes the task (task-received, or
 * task-revoked for a task dropped on arrival) and passed on just before that event, so the task
 * gets its name, queue and sent time and its task-sent is counted by the one instance whose
 * worker took it. A task-sent no selected worker takes is forgotten after `heldSentTtl`.
 *
 * Pure: no I/O and no clock; `now` (epoch seconds) comes with every call.
 */
export class WorkerFilter {
  /** Events sent by workers that are not selected. */
  otherWorker = 0;
  /** task-sent events forgotten because no selected worker took the task in time (or room ran out). */
  sentNotTaken = 0;
  private readonly selected: (hostname: string) => boolean;
  private readonly deliver: DeliverEvent;
  private readonly maxHeldSent: number;
  private readonly heldSentTtl: number;
  /** task-sent by uuid, in arrival order (a Map keeps insertion order: the oldest come first). */
  private readonly heldSent = new Map<string, { readonly event: TaskEvent; readonly at: number }>();
  /** Tasks a selected worker took before their task-sent arrived, by uuid, with when. */
  private readonly claimed = new Map<string, number>();

  constructor(options: WorkerFilterOptions, deliver: DeliverEvent) {
    this.selected = compileHostnamePatterns(options.patterns);
    this.deliver = deliver;
    this.maxHeldSent = options.maxHeldSent;
    this.heldSentTtl = options.heldSentTtl;
  }

  apply(event: CeleryEvent, now: number): void {
    if (event.kind === 'task' && event.type === 'task-sent') {
      this.sent(event, now);
      return;
    }
    if (!this.selected(event.hostname)) {
      this.otherWorker++;
      return;
    }
    if (event.type === 'task-received' || event.type === 'task-revoked') this.claim(event.uuid, now);
    this.deliver(event, now);
  }

  /** Forgets held task-sent events and claims past their time. */
  tick(now: number): void {
    for (const [uuid, held] of this.heldSent) {
      if (now - held.at < this.heldSentTtl) break;
      this.heldSent.delete(uuid);
      this.sentNotTaken++;
    }
    for (const [uuid, at] of this.claimed) {
      if (now - at < CLAIM_WAIT_SECONDS) break;
      this.claimed.delete(uuid);
    }
  }

  get heldSentCount(): number {
    return this.heldSent.size;
  }

  private sent(event: TaskEvent, now: number): void {
    if (this.claimed.delete(event.uuid)) {
      this.deliver(event, now);
      return;
    }
    // A retry's task-sent replaces the held one of the same task: one task-sent per message taken.
    this.heldSent.delete(event.uuid);
    // Arguments are not needed to count or label the task, and every sidecar holds every
    // task-sent of the broker for a while: keep the held copy small.
    const slim: TaskEvent = event.args === undefined && event.kwargs === undefined ? event : { ...event, args: undefined, kwargs: undefined };
    this.heldSent.set(event.uuid, { event: slim, at: now });
    if (this.heldSent.size > this.maxHeldSent) {
      const oldest = this.heldSent.keys().next().value;
      if (oldest !== undefined) this.heldSent.delete(oldest);
      this.sentNotTaken++;
    }
  }

  private claim(uuid: string, now: number): void {
    const held = this.heldSent.get(uuid);
    if (held !== undefined) {
      this.heldSent.delete(uuid);
      this.deliver(held.event, now);
      return;
    }
    this.claimed.delete(uuid);
    this.claimed.set(uuid, now);
    if (this.claimed.size > this.maxHeldSent) {
      const oldest = this.claimed.keys().next().value;
      if (oldest !== undefined) this.claimed.delete(oldest);
    }
  }
}
