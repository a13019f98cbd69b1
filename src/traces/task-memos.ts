import { OrderQueue } from '../state/order-queue.js';

/**
 * What the trace sink remembers of a task between its events, so spans that arrive apart (a
 * child's task-sent before its parent's task-started, a retry's task-sent before task-retried)
 * still link up. A few numbers per task; the task table itself is the state machine's.
 */
export interface TaskMemo {
  readonly uuid: string;
  /** Its place in the LRU order (state/order-queue.ts). */
  orderStamp: number;
  /** Retry counts whose publish span was emitted. */
  published: number[];
  receivedAt: number | undefined;
  receivedRetries: number;
  startedRetries: number;
  /** task-started events seen for `startedRetries` minus one: a redelivered message starts again. */
  deliveries: number;
  /** Retry count and end time of the attempt ended last, so a late task-started is not reopened. */
  closedRetries: number;
  closedAt: number;
  /**
   * Earliest timestamp of a message attempt `ranRetries` published (its retry, or a child task):
   * proof the attempt was running then, which can be before its task-started (see task-traces.ts).
   */
  ranRetries: number;
  ranAt: number;
  /** Scrubbed repr strings, kept only with --traces-task-args. */
  args: string | undefined;
  kwargs: string | undefined;
}

/**
 * Memos in least-recently-used order (state/order-queue.ts: touching moves a memo to the back),
 * at most `capacity` of them: the oldest is forgotten first and its late events, if any, are then
 * linked as if they were the task's first.
 */
export class TaskMemos {
  private readonly memos = new Map<string, TaskMemo>();
  private readonly order = new OrderQueue<TaskMemo>({ next: 0 });

  constructor(private readonly capacity: number) {}

  get size(): number {
    return this.memos.size;
  }

  get(uuid: string): TaskMemo | undefined {
    return this.memos.get(uuid);
  }

  /** The task's memo, created if needed, now the most recently used. */
  touch(uuid: string): TaskMemo {
    let memo = this.memos.get(uuid);
    if (memo !== undefined) {
      this.order.remove(memo);
    } else {
      memo = {
        uuid,
        orderStamp: -1,
        published: [],
        receivedAt: undefined,
        receivedRetries: -1,
        startedRetries: -1,
        deliveries: 0,
        closedRetries: -1,
        closedAt: -Infinity,
        ranRetries: -1,
        ranAt: Infinity,
        args: undefined,
        kwargs: undefined,
      };
      if (this.memos.size >= this.capacity) {
        const oldest = this.order.shift();
        if (oldest !== undefined) this.memos.delete(oldest.uuid);
      }
      this.memos.set(uuid, memo);
    }
    this.order.push(memo);
    return memo;
  }
}
