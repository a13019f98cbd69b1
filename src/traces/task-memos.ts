import { OrderQueue } from '../state/order-queue.js';

/**
 * What the trace sink remembers of a task between its events, so spans that arrive apart (a
 * child's task-sent before its parent's task-started, a retry's task-sent before task-retried)
 * still link up. Which attempt an event belongs to is the state machine's decision
 * (state/attempts.ts); a memo keeps only what spans alone need, and outlives the state's record
 * when the task table forgets it first.
 */
export interface TaskMemo {
  readonly uuid: string;
  /** Its place in the LRU order (state/order-queue.ts). */
  orderStamp: number;
  /** Retry counts whose publish span was emitted. */
  published: number[];
  /**
   * The attempt of its last process span (-1: none yet), as the state decided it: the parent of a
   * task it sends, and of its retry's publish span.
   */
  processRetries: number;
  processDelivery: number;
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
      memo = { uuid, orderStamp: -1, published: [], processRetries: -1, processDelivery: 0, args: undefined, kwargs: undefined };
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
