// Reading the committed dashboards and their queries, shared by the lint test and the end-to-end
// test that runs every query against a real Prometheus.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../kit/paths.js';

export interface Target {
  refId: string;
  expr: string;
  datasource: unknown;
  format?: string;
}
export interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  datasource?: unknown;
  gridPos: { x: number; y: number; w: number; h: number };
  fieldConfig: { defaults: { unit?: string } };
  targets: Target[];
}
export interface Variable {
  name: string;
  type: string;
  query: unknown;
  includeAll?: boolean;
  allValue?: string;
}
export interface Dashboard {
  uid: string;
  title: string;
  description: string;
  tags: string[];
  templating: { list: Variable[] };
  panels: Panel[];
}

export function loadDashboards(): { file: string; json: Dashboard }[] {
  const dir = join(ROOT, 'dashboards');
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) as Dashboard }));
}

/**
 * What Grafana would send for "All" in every variable: `.*`, which also matches series without the
 * label. `values` pins variables to one value (the task drill-down's `name`).
 */
export function substituteVariables(expr: string, o: { rateInterval: string; range: string; values?: Record<string, string> }): string {
  return expr
    .replaceAll('$__rate_interval', o.rateInterval)
    .replaceAll('$__range', o.range)
    .replace(/\$(\w+)/g, (_m, name: string) => o.values?.[name] ?? '.*');
}

const FUNCTIONS = new Set(['sum', 'rate', 'increase', 'histogram_quantile', 'deriv', 'max', 'min', 'count', 'time', 'vector', 'by', 'on', 'and', 'or', 'unless', 'le']);

/** Metric names an expression reads (histograms as `_bucket`, `_sum`, `_count` series). */
export function metricNames(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b([a-z_:][a-z0-9_:]*)\s*(?=\{|\[|\)|$)/g)) {
    const n = m[1]!;
    if (FUNCTIONS.has(n) || !n.includes('_')) continue;
    names.add(n);
  }
  return [...names].filter((n) => /^(celery|process|nodejs)_/.test(n));
}

/** Whether `name` is a documented metric, or a series of a documented histogram. */
export function isDocumented(name: string, documented: readonly string[]): boolean {
  return documented.includes(name) || documented.includes(name.replace(/_(bucket|sum|count)$/, ''));
}

/** Metric names in the README's metric tables (rows starting with a backquoted celery_ or process_ name). */
export function documentedMetrics(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  return [...readme.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!).filter((n) => n.startsWith('celery_') || n.startsWith('process_'));
}
