import type { TaskRecord } from '../state/task-table.js';

/**
 * Where the metrics find the trace of a task, to attach it as an OpenMetrics exemplar
 * (`# {trace_id="…",span_id="…"} value`). Implemented by the trace sink; absent when tracing is
 * off, and then the metrics are built without exemplar support at all.
 */
export interface ExemplarSource {
  /** Exemplar labels of the task's current attempt, or undefined when its trace is not exported (sampled out). */
  exemplarFor(task: TaskRecord): Record<string, string> | undefined;
}
