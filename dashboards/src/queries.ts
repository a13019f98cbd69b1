// PromQL shapes the dashboards share. `sel` is a `{…}` matcher string from grafana.ts#matchers.

/** sum by (labels) (rate(metric{sel}[$__rate_interval])); `by` empty means one total. */
export function rate(metric: string, sel: string, by: readonly string[] = []): string {
  const group = by.length ? ` by (${by.join(', ')})` : '';
  return `sum${group} (rate(${metric}${sel}[$__rate_interval]))`;
}

/** increase over the dashboard's time range (stat panels: "in the range"). */
export function increaseOverRange(metric: string, sel: string, by: readonly string[] = []): string {
  const group = by.length ? ` by (${by.join(', ')})` : '';
  return `sum${group} (increase(${metric}${sel}[$__range]))`;
}

/**
 * failed / (failed + succeeded). A task that never failed has no failed series, one that never
 * succeeded no succeeded series, and plain `/` or `+` would drop it: `or other * 0` stands in a zero.
 */
export function failureRatio(sel: string, by: readonly string[] = []): string {
  const failed = rate('celery_task_failed_total', sel, by);
  const succeeded = rate('celery_task_succeeded_total', sel, by);
  const f = `(${failed} or ${succeeded} * 0)`;
  return `${f}\n/\n(${f} + (${succeeded} or ${failed} * 0))`;
}

/** histogram_quantile over a `_seconds` histogram, keeping `by` (plus le). */
export function quantile(q: number, histogram: string, sel: string, by: readonly string[] = []): string {
  return `histogram_quantile(${q}, sum by (${[...by, 'le'].join(', ')}) (rate(${histogram}_bucket${sel}[$__rate_interval])))`;
}

/** The seven outcome counters, in lifecycle order, for "by outcome" panels. */
export const OUTCOMES = ['sent', 'received', 'started', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'] as const;
