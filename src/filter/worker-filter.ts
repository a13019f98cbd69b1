import type { CeleryEvent, TaskEvent } from '../protocol/events.js';
import { AgedMap } from './aged-map.js';
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

// Celery publishes every event under a routing key made from its type ('task-sent' ->
// 'task.sent'; a worker's buffered task events go as 'task.multi').
const TASK_SENT_ROUTING_KEY = 'task.sent';

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
  /** Messages of workers that are not selected, dropped before decoding (see skipsMessage). */
  otherWorkerMessages = 0;
  /** task-sent events forgotten because no selected worker took the task in time (or room ran out). */
  sentNotTaken = 0;
  private readonly selected: (hostname: string) => boolean;
  private readonly deliver: DeliverEvent;
  private readonly heldSentTtl: number;
  /** task-sent by uuid, oldest first (a retry's replaces the one before it). */
  private readonly heldSent: AgedMap<TaskEvent>;
  /** Tasks a selected worker took before their task-sent arrived, by uuid: when, and which attempt. */
  private readonly claimed: AgedMap<{ readonly retries: number | undefined }>;

  constructor(options: WorkerFilterOptions, deliver: DeliverEvent) {
    this.selected = compileHostnamePatterns(options.patterns);
    this.deliver = deliver;
    this.heldSentTtl = options.heldSentTtl;
    this.heldSent = new AgedMap(options.maxHeldSent);
    this.claimed = new AgedMap(options.maxHeldSent);
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
    if (event.type === 'task-received' || event.type === 'task-revoked') this.claim(event, now);
    this.deliver(event, now);
  }

  /**
   * True for a message that can only hold events of a worker that is not selected, so it need not
   * be decoded: a worker publishes its own events under its node name (kombu's `hostname` header,
   * the events' `hostname` in every captured frame), while task-sent comes from clients, and from
   * workers' tasks, under other names, so a task.sent message is always decoded. A sidecar then
   * spends on the other workers' events little more than reading them off the socket.
   */
  skipsMessage(sender: string, routingKey: string): boolean {
    if (routingKey === TASK_SENT_ROUTING_KEY || this.selected(sender)) return false;
    this.otherWorkerMessages++;
    return true;
  }

  /** Forgets held task-sent events and claims past their time. */
  tick(now: number): void {
    this.sentNotTaken += this.heldSent.expire(now, this.heldSentTtl);
    this.claimed.expire(now, CLAIM_WAIT_SECONDS);
  }

  get heldSentCount(): number {
    return this.heldSent.size;
  }

  private sent(event: TaskEvent, now: number): void {
    const claim = this.claimed.get(event.uuid);
    if (claim !== undefined) {
      if (sameAttempt(claim.retries, event.retries)) {
        this.claimed.delete(event.uuid);
        this.deliver(event, now);
        return;
      }
      // The task-sent of an attempt before the one taken here, arriving late: that attempt went to
      // another worker (its own would have been claimed with it), so this one is not ours.
      if (isEarlier(event.retries, claim.retries)) return;
    }
    // A retry's task-sent replaces the held one of the same task: one task-sent per message taken.
    // Arguments are not needed to count or label the task, and every sidecar holds every
    // task-sent of the broker for a while: keep the held copy small.
    const slim: TaskEvent = event.args === undefined && event.kwargs === undefined ? event : { ...event, args: undefined, kwargs: undefined };
    if (this.heldSent.set(event.uuid, slim, now)) this.sentNotTaken++;
  }

  /**
   * A selected worker took the task (task-received) or dropped it on arrival (task-revoked): its
   * task-sent is passed on now if held, else as soon as it arrives. Attempts are told apart by
   * `retries` (a retry's task-sent and its task-received carry the same number): a worker that
   * takes a retry may announce it before the retry's task-sent arrives, and the task-sent held
   * then is the previous attempt's, which another worker took and its sidecar counts.
   */
  private claim(event: TaskEvent, now: number): void {
    const held = this.heldSent.get(event.uuid);
    if (held !== undefined) {
      if (sameAttempt(held.retries, event.retries)) {
        this.heldSent.delete(event.uuid);
        this.deliver(held, now);
        return;
      }
      if (isEarlier(held.retries, event.retries)) this.heldSent.delete(event.uuid);
    }
    this.claimed.set(event.uuid, { retries: event.retries }, now);
  }
}

/** Whether a task-sent and a task-received are of one attempt; without both numbers, assumed so (task-revoked has none). */
function sameAttempt(a: number | undefined, b: number | undefined): boolean {
  return a === undefined || b === undefined || a === b;
}

function isEarlier(a: number | undefined, b: number | undefined): boolean {
  return a !== undefined && b !== undefined && a < b;
}
