// Bits of TaskRecord.marks, one per thing a detector reports at most once per task. A field on
// the record rather than a WeakSet per detector: a weak collection cost every tracked task a hash
// table entry and an ephemeron for the garbage collector to trace (~200 bytes a task).

/** hidden-retries.ts: the task's attempts were counted at its first final outcome. */
export const ATTEMPTS_COUNTED = 1;
/** lost-tasks.ts: a final event after the task was declared lost was reported. */
export const LATE_REPORT_SEEN = 2;
