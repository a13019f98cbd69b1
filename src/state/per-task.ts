import type { TaskRecord } from './task-record.js';

// Side tables for what a sink remembers per task, kept by the sink, outside the state's record
// (the record belongs to the state machine). Indexed by TaskRecord.key, a small number the record
// holds while it lives: an array slot per task costs what a field on the record did (a
// WeakMap/WeakSet entry cost ~200 bytes a task, an ephemeron for the collector to trace). A key is
// reused once its record is forgotten: the sink clears its entry in `taskForgotten`. A forgotten
// record (key -1) has no entries and takes none.

/** Grown by half again, not doubled: these are as long as the largest key, one per tracked task. */
const grown = (length: number, key: number): number => Math.max(key + 1, length + (length >> 1), 64);

/** Tasks marked once (things reported at most once per task). */
export class TaskSet {
  private marks = new Uint8Array(0);

  has(task: TaskRecord): boolean {
    const k = task.key;
    return k >= 0 && k < this.marks.length && this.marks[k] === 1;
  }

  add(task: TaskRecord): void {
    const k = task.key;
    if (k < 0) return;
    if (k >= this.marks.length) {
      const marks = new Uint8Array(grown(this.marks.length, k));
      marks.set(this.marks);
      this.marks = marks;
    }
    this.marks[k] = 1;
  }

  forget(task: TaskRecord): void {
    if (task.key >= 0 && task.key < this.marks.length) this.marks[task.key] = 0;
  }
}

/** One number per task, unboxed. */
export class TaskNumbers {
  private values = new Float64Array(0);

  get(task: TaskRecord): number | undefined {
    const k = task.key;
    const v = k >= 0 && k < this.values.length ? this.values[k]! : NaN;
    return v === v ? v : undefined;
  }

  set(task: TaskRecord, value: number): void {
    const k = task.key;
    if (k < 0) return;
    if (k >= this.values.length) {
      const values = new Float64Array(grown(this.values.length, k)).fill(NaN);
      values.set(this.values);
      this.values = values;
    }
    this.values[k] = value;
  }

  forget(task: TaskRecord): void {
    if (task.key >= 0 && task.key < this.values.length) this.values[task.key] = NaN;
  }
}

/** One object per task. */
export class TaskSlots<T extends object> {
  private readonly values: (T | undefined)[] = [];

  get(task: TaskRecord): T | undefined {
    return this.values[task.key];
  }

  set(task: TaskRecord, value: T): void {
    const v = this.values;
    if (task.key < 0) return;
    // Filled in order so the array stays packed (holes would turn it into a dictionary).
    while (v.length < task.key) v.push(undefined);
    v[task.key] = value;
  }

  forget(task: TaskRecord): void {
    if (task.key >= 0 && task.key < this.values.length) this.values[task.key] = undefined;
  }
}
