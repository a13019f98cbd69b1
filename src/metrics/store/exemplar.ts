/**
 * An OpenMetrics exemplar (`# {trace_id="…"} value timestamp`): the latest one kept per counter
 * series or histogram bucket, stamped with the clock in seconds, as prom-client 15 keeps them.
 */
export interface Exemplar {
  readonly labelSet: Readonly<Record<string, string>>;
  readonly value: number;
  /** Epoch seconds (Date.now() / 1000). */
  readonly timestamp: number;
}

/** OpenMetrics caps an exemplar's label names and values at 128 UTF-8 characters together. */
const MAX_EXEMPLAR_CHARS = 128;

/**
 * The exemplar for an observation, or undefined when its labels are empty or over the
 * OpenMetrics limit: the observation still counts, the exemplar is left out (prom-client throws
 * instead, which on the event path would lose the event).
 */
export function exemplarOf(labelSet: Readonly<Record<string, string>>, value: number): Exemplar | undefined {
  let chars = 0;
  for (const key in labelSet) chars += key.length + labelSet[key]!.length;
  if (chars === 0 || chars > MAX_EXEMPLAR_CHARS) return undefined;
  return { labelSet, value, timestamp: Date.now() / 1000 };
}
