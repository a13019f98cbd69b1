import { MAX_RUNTIME_SECONDS, exceptionClass } from '../protocol/events.js';
import type { CeleryEvent, TaskEvent } from '../protocol/events.js';
import type { LostReason, TaskObserver } from './observer.js';
import { FINAL_STATES, TaskTable } from './task-table.js';
import type { TaskRecord, TaskState, TaskTableOptions } from './task-table.js';
import { WorkerRegistry } from './workers.js';
import { isRepeatedStart, loseTasksOf, requeueReserved } from './worker-loss.js';
import { queueWaitOf } from './queue-times.js';
import { logCode, logIfNew } from './task-record.js';
import { seedTask } from './seeding.js';
import { AttemptDescriptor, attemptEnded, attemptLost, attemptReceived, attemptStarted, publishedAt } from './attempts.js';
import type { SeedOutcome, SeedTask } from './seeding.js';
import type { WorkerRegistryOptions } from './workers.js';

/**
 * Celery 5.7 (celery#10369, worker/request.py on_failure) announces a task that raised
 * Reject(requeue=False) with a task-failed carrying the Reject, then sends its task-rejected; 5.6
 * and earlier send the task-rejected alone. Each event is counted as it comes, but the attempt's
 * outcome is the rejection on every Celery, so the attempts histogram and spans agree across versions.
 */
export function isRejectFailure(exception: string): boolean {
  return exception === 'Reject' || exception === 'celery.exceptions.Reject';
}

/** Label value for a task whose name never arrived (its task-received was before we started). */
export const UNKNOWN_TASK_NAME = 'unknown';
/** Worker of an earlier start we did not see (its task-started came before the task was named). */
const UNKNOWN_WORKER = 'unknown';

export interface CeleryStateOptions extends TaskTableOptions, WorkerRegistryOptions {
  /**
   * Seconds an event for a task of unknown name is held back waiting for the task-received or
   * task-sent that names it, before it is counted under `unknown`.
   */
  readonly pendingGrace: number;
}

/** What one round of housekeeping did that sinks must follow up on. */
export interface TickResult {
  /** Workers silent past `forgetAfter` and dropped: every series of theirs should go too. */
  readonly forgottenWorkers: readonly string[];
}

// Most events held for one task while its name is unknown; a real task has at most a handful.
const MAX_HELD_EVENTS = 64;
/** Celery's READY_STATES (celery/states.py): the outcomes that outrank every unfinished state. */
const READY_STATES: ReadonlySet<TaskState> = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/**
 * The task and worker state machine. Pure: no I/O and no clock of its own; `now` (epoch seconds,
 * local clock) is passed in. It applies decoded events to the task table and worker registry and
 * tells the observer about each transition exactly once.
 *
 * Celery gives no delivery-order guarantee (PROTOCOL.md §3 "Ordering is not guaranteed"), so:
 * an exact duplicate (same uuid, type and sender timestamp) is dropped; an event that needs the
 * task name before any event carrying it arrived is held for `pendingGrace` seconds; and the
 * state only moves to an event at least as recent as the one that set it.
 */
export class CeleryState {
  readonly tasks: TaskTable;
  readonly workers: WorkerRegistry;
  /** Exact duplicate events dropped. */
  duplicates = 0;
  /** Tasks whose events were counted under `unknown`: no event nor worker inspection named them. */
  unnamed = 0;
  /** Tasks added to the table from worker inspection (seeding.ts). */
  seeded = 0;
  private readonly observer: TaskObserver;
  private readonly pendingGrace: number;
  /**
   * Records holding events back, with the local clock when the first was held. Kept here rather
   * than on the record: few records ever hold events, and a slot on each cost every tracked task 8 bytes.
   */
  private readonly pending = new Map<TaskRecord, number>();
  /** While a worker inspection that may name held tasks is under way, they wait past their grace. */
  private holdPendingUntil = 0;
  /** `now` of the call being handled, for effects that happen deep inside (evictions). */
  private clock = 0;
  /** The attempt of the event being handled, filled anew for each observer call (attempts.ts). */
  private readonly attempt = new AttemptDescriptor();

  constructor(observer: TaskObserver, options: CeleryStateOptions) {
    this.observer = observer;
    this.pendingGrace = options.pendingGrace;
    this.tasks = new TaskTable(options);
    this.workers = new WorkerRegistry(options);
    this.tasks.onEvictUnfinished = (record) => {
      if (record.pending !== undefined) this.releasePending(record);
      // Forgotten with no final event: spans and counts must close it now or never.
      if (record.state !== undefined && !FINAL_STATES.has(record.state)) this.lose(record, 'evicted', this.clock);
    };
    this.tasks.onForget = (record) => this.observer.taskForgotten(record);
  }

  apply(event: CeleryEvent, now: number): void {
    this.clock = now;
    if (event.kind === 'worker') {
      this.workers.applyWorkerEvent(event, now);
      if (event.type === 'worker-offline') requeueReserved(this.tasks, event.hostname);
      return;
    }
    const record = this.tasks.getOrCreate(event.uuid, now);
    if (this.isDuplicate(record, event)) {
      this.duplicates++;
      return;
    }
    if (event.type !== 'task-sent') this.workers.taskEventFrom(event.hostname, now);

    const namesTask = event.name !== undefined;
    if (namesTask && (record.name === undefined || record.name === UNKNOWN_TASK_NAME)) record.name = event.name;
    if (record.name === undefined) {
      if ((record.pending?.length ?? 0) < MAX_HELD_EVENTS) {
        this.hold(record, event, now);
        this.tasks.touch(record, now);
        return;
      }
      // A uuid that keeps getting events but never a name (a broken or hostile sender) must not
      // hold memory without bound: count what is held as `unknown` now.
      this.releasePending(record);
    }
    this.transition(record, event);
    if (record.pending !== undefined) this.releasePending(record);
    this.tasks.touch(record, now);
  }

  /**
   * Housekeeping: release held events past their grace, declare the tasks of workers silent past
   * their timeout lost, evict old tasks, forget long-silent workers.
   */
  tick(now: number): TickResult {
    this.clock = now;
    if (now >= this.holdPendingUntil) {
      for (const [record, since] of this.pending) {
        if (now - since >= this.pendingGrace) this.releasePending(record);
      }
    }
    for (const worker of this.workers.expireSilent(now)) {
      for (const task of loseTasksOf(this.tasks, worker.hostname, now)) this.lose(task, 'worker-lost', now);
    }
    this.tasks.evictExpired(now);
    return { forgottenWorkers: this.workers.forgetSilent(now) };
  }

  /** The broker connection dropped: events published until `streamUp` are lost (Redis pub/sub). */
  streamDown(now: number): void {
    this.workers.streamDown(now);
  }

  streamUp(now: number): void {
    this.workers.streamUp(now);
  }

  /**
   * A task a worker reports holding (seeding.ts has the rules). Events held for it for want of a
   * name are applied now, under the name the worker gave.
   */
  seed(task: SeedTask, now: number): SeedOutcome {
    this.clock = now;
    const { outcome, record } = seedTask(this.tasks, task, now);
    if (outcome === 'seeded') this.seeded++;
    if (record?.pending !== undefined) {
      this.releasePending(record);
      this.tasks.touch(record, now);
    }
    return outcome;
  }

  /**
   * Events of unnamed tasks are not counted as `unknown` before `until` (local clock) even past
   * their grace: a worker inspection is under way that may name them. 0 ends the hold.
   */
  holdUnnamed(until: number): void {
    this.holdPendingUntil = until;
  }

  get pendingTasks(): number {
    return this.pending.size;
  }

  private lose(task: TaskRecord, reason: LostReason, now: number): void {
    this.observer.taskLost(task, reason, now, attemptLost(task, now, this.attempt));
  }

  private isDuplicate(record: TaskRecord, event: TaskEvent): boolean {
    return !logIfNew(record, logCode(event.type, event.retries), event.timestamp, event.eta);
  }

  private hold(record: TaskRecord, event: TaskEvent, now: number): void {
    if (record.pending === undefined) {
      record.pending = [];
      this.pending.set(record, now);
    }
    record.pending.push(event);
  }

  private releasePending(record: TaskRecord): void {
    const held = record.pending ?? [];
    record.pending = undefined;
    this.pending.delete(record);
    if (record.name === undefined) {
      record.name = UNKNOWN_TASK_NAME;
      this.unnamed++;
    }
    held.sort((a, b) => a.timestamp - b.timestamp);
    for (const event of held) this.transition(record, event);
  }

  private transition(task: TaskRecord, event: TaskEvent): void {
    const ts = event.timestamp;
    const o = this.observer;
    switch (event.type) {
      case 'task-sent': {
        task.sentAt = ts;
        if (event.queue !== undefined) task.queue = event.queue;
        this.noteLineage(task, event);
        // A retry is evidence about its own task; only a first publish needs the parent looked up.
        const retries = event.retries ?? 0;
        publishedAt(task, retries, retries === 0 && task.parentId !== undefined ? this.tasks.get(task.parentId) : undefined, ts);
        if (task.state === undefined) this.setState(task, 'PENDING', ts);
        o.taskSent(task, event);
        return;
      }
      case 'task-received':
        task.receivedAt = ts;
        task.worker = event.hostname;
        if (event.queue !== undefined) task.queue = event.queue;
        this.noteLineage(task, event);
        attemptReceived(task, event.retries ?? task.retries);
        this.setState(task, 'RECEIVED', ts);
        o.taskReceived(task, event);
        return;
      case 'task-started': {
        const wait = queueWaitOf(task, ts);
        const attempt = attemptStarted(task, ts, this.attempt);
        task.duplicateOf = isRepeatedStart(task) ? (task.startedOn ?? UNKNOWN_WORKER) : undefined;
        task.attempts++;
        task.startedAt = ts;
        task.startedOn = event.hostname;
        task.startRetries = task.retries;
        task.startedSeenAt = this.clock;
        task.worker = event.hostname;
        this.setState(task, 'STARTED', ts);
        o.taskStarted(task, event, wait, attempt);
        return;
      }
      case 'task-succeeded': {
        const runtime = event.runtime ?? this.attemptRuntime(task, ts);
        task.worker = event.hostname;
        this.setState(task, 'SUCCESS', ts);
        o.taskSucceeded(task, event, runtime, attemptEnded(task, ts, runtime, this.attempt));
        return;
      }
      case 'task-failed': {
        const runtime = this.attemptRuntime(task, ts);
        const exception = exceptionClass(event.exception, event.traceback);
        task.worker = event.hostname;
        this.setState(task, isRejectFailure(exception) ? 'REJECTED' : 'FAILURE', ts);
        o.taskFailed(task, event, exception, runtime, attemptEnded(task, ts, runtime, this.attempt));
        return;
      }
      case 'task-retried': {
        const runtime = this.attemptRuntime(task, ts);
        task.retriedAt = ts;
        this.setState(task, 'RETRY', ts);
        o.taskRetried(task, event, exceptionClass(event.exception, event.traceback), runtime, attemptEnded(task, ts, runtime, this.attempt));
        return;
      }
      case 'task-rejected':
        // Reject(requeue=True) puts the message back: the task is not finished, and running it
        // again is what was asked for, not a duplicate execution.
        if (event.requeue === true) task.startRetries = -1;
        this.setState(task, event.requeue === true ? 'PENDING' : 'REJECTED', ts);
        o.taskRejected(task, event, attemptEnded(task, ts, undefined, this.attempt));
        return;
      case 'task-revoked':
        this.setState(task, 'REVOKED', ts);
        o.taskRevoked(task, event, attemptEnded(task, ts, undefined, this.attempt));
        return;
      case 'task-cancelled':
        // Celery 5.1+: cancelled on connection loss; the message is redelivered.
        task.startRetries = -1;
        this.setState(task, 'PENDING', ts);
        o.taskCancelled(task, event, attemptEnded(task, ts, undefined, this.attempt));
        return;
    }
  }

  private noteLineage(task: TaskRecord, event: TaskEvent): void {
    if (event.retries !== undefined && event.retries > task.retries) task.retries = event.retries;
    // A root task's root_id is its own id: keep one string, not two copies of it per task.
    if (event.rootId !== undefined) task.rootId = event.rootId === task.uuid ? task.uuid : event.rootId;
    if (event.parentId !== undefined && event.parentId !== task.uuid) task.parentId = event.parentId;
    if (event.eta !== undefined) task.eta = event.eta;
  }

  /**
   * Moves to the newer event's state, except that a ready state (SUCCESS, FAILURE, REVOKED) wins
   * over an unfinished one whatever their timestamps, as in Celery's own state
   * (celery/events/state.py Task.event, celery.states.precedence): a task-succeeded stamped before
   * its task-started, by a worker whose clock stepped back, still ends the task.
   */
  private setState(task: TaskRecord, state: TaskState, timestamp: number): void {
    const endsUnfinished = READY_STATES.has(state) && (task.state === undefined || !FINAL_STATES.has(task.state));
    if (timestamp < task.stateTimestamp && !endsUnfinished) return;
    task.state = state;
    task.stateTimestamp = Math.max(task.stateTimestamp, timestamp);
  }

  private attemptRuntime(task: TaskRecord, endedAt: number): number | undefined {
    if (task.startedAt === undefined) return undefined;
    if (task.retriedAt !== undefined && task.startedAt < task.retriedAt) return undefined;
    const runtime = endedAt - task.startedAt;
    // Measured from sender timestamps, beyond a year it is a broken clock, not a measurement.
    return runtime >= 0 && runtime <= MAX_RUNTIME_SECONDS ? runtime : undefined;
  }
}
