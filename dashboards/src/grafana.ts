// A small builder for Grafana dashboard JSON (schemaVersion 39, Grafana 10+): just the panel kinds
// and conventions celery-pulse's dashboards use, so each dashboard file reads as a list of
// questions and their queries.

export type Unit =
  | 's' | 'ops' | 'mps' | 'percentunit' | 'short' | 'none' | 'bool_yes_no' | 'dateTimeFromNow' | 'bytes';

export interface Target {
  readonly expr: string;
  readonly legend?: string;
  /** Ask Prometheus for exemplars (trace ids) on this query. */
  readonly exemplar?: boolean;
  /** `heatmap` for bucket series shown in a heatmap panel. */
  readonly format?: 'time_series' | 'heatmap';
}

export interface PanelSpec {
  readonly title: string;
  readonly description: string;
  readonly unit: Unit;
  readonly targets: readonly Target[];
  /** Width in grid columns (of 24); height defaults by kind. */
  readonly width?: number;
  readonly height?: number;
  readonly min?: number;
  readonly max?: number;
  /** Stacked series (throughput by outcome). */
  readonly stack?: boolean;
  readonly thresholds?: readonly { readonly value: number; readonly color: string }[];
  readonly mappings?: readonly unknown[];
  /** Data links on every series (drillDown: a task, queue or worker to its own dashboard). */
  readonly links?: readonly DataLink[];
}

export interface DataLink {
  readonly title: string;
  readonly url: string;
}

type Kind = 'timeseries' | 'stat' | 'heatmap' | 'row';

interface Item {
  readonly kind: Kind;
  readonly spec: PanelSpec | { readonly title: string };
}

const DATASOURCE = { type: 'prometheus', uid: '${datasource}' } as const;

export const timeseries = (spec: PanelSpec): Item => ({ kind: 'timeseries', spec });
export const stat = (spec: PanelSpec): Item => ({ kind: 'stat', spec });
export const heatmap = (spec: PanelSpec): Item => ({ kind: 'heatmap', spec });
export const row = (title: string): Item => ({ kind: 'row', spec: { title } });

/**
 * The label matchers of a dashboard's variables, for `{…}` in queries. Every dashboard has a
 * `cluster` variable (dashboard() adds it), so every selector starts with its matcher.
 */
export function matchers(vars: readonly VariableName[], extra: readonly string[] = []): string {
  return `{${['cluster', ...vars.filter((v) => v !== 'cluster')].map((v) => `${v}=~"$${v}"`).concat(extra).join(', ')}}`;
}

export type VariableName = 'cluster' | 'namespace' | 'job' | 'broker' | 'queue_name' | 'name' | 'hostname';

/** The dashboard a series' task, queue or worker opens, with the variables the target shares. */
const DRILL_DOWN = {
  name: { uid: 'celery-pulse-task', what: 'task', keep: ['cluster', 'namespace', 'job', 'queue_name'] },
  queue_name: { uid: 'celery-pulse-queues', what: 'queue', keep: ['cluster', 'namespace', 'job'] },
  hostname: { uid: 'celery-pulse-workers', what: 'worker', keep: ['cluster', 'namespace', 'job'] },
} as const;

/**
 * A data link from a series labelled by `label` to that task's, queue's or worker's dashboard,
 * keeping the time range and the selected cluster, namespace and job (and queue, for a task).
 */
export function drillDown(label: keyof typeof DRILL_DOWN): DataLink {
  const to = DRILL_DOWN[label];
  const keep = to.keep.map((v) => `\${${v}:queryparam}`).join('&');
  return { title: `Open the ${to.what} \${__field.labels.${label}}`, url: `/d/${to.uid}?\${__url_time_range}&${keep}&var-${label}=\${__field.labels.${label}}` };
}

interface VariableSpec {
  readonly name: VariableName;
  readonly label: string;
  /** The series whose label values fill the variable; filtered by the variables before it. */
  readonly from: string;
  readonly multi?: boolean;
  /** 2 hides the variable (the cluster selector, as the monitoring-mixins do with one cluster). */
  readonly hide?: 0 | 2;
}

/**
 * Hidden, as kubernetes-mixin and the other mixins do unless built for several clusters:
 * `node dashboards/src/build.ts --multi-cluster` shows it. Its "All" (`.*`) also matches series
 * without a cluster label, so a single Prometheus needs none.
 */
const CLUSTER: VariableSpec = { name: 'cluster', label: 'Cluster', from: 'celery_pulse_build_info', hide: 2 };

function variable(spec: VariableSpec, before: readonly VariableName[]): Record<string, unknown> {
  const multi = spec.multi ?? true;
  const query = `label_values(${spec.from}${before.length ? matchers(before) : ''}, ${spec.name})`;
  return {
    name: spec.name,
    label: spec.label,
    type: 'query',
    datasource: DATASOURCE,
    query: { query, refId: `${spec.name}-values` },
    definition: query,
    refresh: 2,
    sort: 1,
    multi,
    includeAll: multi,
    // A label a setup does not have (namespace outside Kubernetes) must not filter everything out.
    ...(multi ? { allValue: '.*', current: { selected: true, text: ['All'], value: ['$__all'] } } : { current: {} }),
    hide: spec.hide ?? 0,
    regex: '',
    options: [],
  };
}

export interface DashboardSpec {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly variables: readonly VariableSpec[];
  readonly panels: readonly Item[];
}

const HEIGHT: Record<Kind, number> = { timeseries: 8, stat: 4, heatmap: 8, row: 1 };

function panelJson(item: Item, id: number, gridPos: Record<string, number>): Record<string, unknown> {
  if (item.kind === 'row') return { type: 'row', id, title: item.spec.title, collapsed: false, gridPos, panels: [] };
  const spec = item.spec as PanelSpec;
  const targets = spec.targets.map((t, i) => ({
    refId: String.fromCharCode(65 + i),
    datasource: DATASOURCE,
    expr: t.expr,
    legendFormat: t.legend ?? '__auto',
    range: true,
    instant: false,
    ...(t.exemplar ? { exemplar: true } : {}),
    ...(t.format ? { format: t.format } : {}),
  }));
  const defaults: Record<string, unknown> = {
    unit: spec.unit,
    ...(spec.min !== undefined ? { min: spec.min } : {}),
    ...(spec.max !== undefined ? { max: spec.max } : {}),
    ...(spec.mappings ? { mappings: spec.mappings } : {}),
    ...(spec.links ? { links: spec.links } : {}),
    thresholds: {
      mode: 'absolute',
      steps: [{ color: 'green', value: null }, ...(spec.thresholds ?? [])],
    },
  };
  let options: Record<string, unknown>;
  if (item.kind === 'timeseries') {
    defaults['custom'] = {
      drawStyle: 'line',
      lineWidth: 1,
      fillOpacity: spec.stack ? 30 : 10,
      showPoints: 'never',
      spanNulls: false,
      stacking: { mode: spec.stack ? 'normal' : 'none', group: 'A' },
    };
    defaults['color'] = { mode: 'palette-classic' };
    options = {
      legend: { displayMode: 'table', placement: 'bottom', showLegend: true, calcs: ['mean', 'max', 'lastNotNull'] },
      tooltip: { mode: 'multi', sort: 'desc' },
    };
  } else if (item.kind === 'stat') {
    defaults['color'] = { mode: 'thresholds' };
    options = {
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      textMode: 'auto',
      orientation: 'auto',
    };
  } else {
    options = {
      calculate: false,
      yAxis: { unit: spec.unit, axisPlacement: 'left' },
      color: { mode: 'scheme', scheme: 'Oranges', steps: 64 },
      cellGap: 1,
      tooltip: { show: true, yHistogram: true },
      legend: { show: true },
      exemplars: { color: 'rgba(255,0,255,0.7)' },
      rowsFrame: { layout: 'auto' },
    };
  }
  return {
    type: item.kind,
    id,
    title: spec.title,
    description: spec.description,
    datasource: DATASOURCE,
    gridPos,
    fieldConfig: { defaults, overrides: [] },
    options,
    targets,
    ...(item.kind === 'heatmap' ? { maxDataPoints: 60 } : {}),
  };
}

/** Lays panels out left to right, wrapping at 24 columns; a row starts a new line. */
function layout(items: readonly Item[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let x = 0;
  let y = 0;
  let lineHeight = 0;
  items.forEach((item, i) => {
    const spec = item.spec as Partial<PanelSpec>;
    const w = item.kind === 'row' ? 24 : (spec.width ?? 12);
    const h = item.kind === 'row' ? 1 : (spec.height ?? HEIGHT[item.kind]);
    if (x + w > 24 || item.kind === 'row') {
      y += lineHeight;
      x = 0;
      lineHeight = 0;
    }
    out.push(panelJson(item, i + 1, { h, w, x, y }));
    x += w;
    lineHeight = Math.max(lineHeight, h);
    if (item.kind === 'row') {
      y += h;
      x = 0;
      lineHeight = 0;
    }
  });
  return out;
}

export function dashboard(spec: DashboardSpec): Record<string, unknown> {
  const variables = [CLUSTER, ...spec.variables];
  const names = variables.map((v) => v.name);
  return {
    uid: spec.uid,
    title: spec.title,
    description: spec.description,
    tags: ['celery', 'celery-pulse'],
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    timezone: '',
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    fiscalYearStartMonth: 0,
    liveNow: false,
    annotations: { list: [] },
    links: [
      { type: 'dashboards', title: 'Celery Pulse', tags: ['celery-pulse'], asDropdown: true, includeVars: true, keepTime: true, icon: 'external link', targetBlank: false, tooltip: '', url: '' },
    ],
    templating: {
      list: [
        { name: 'datasource', label: 'Data source', type: 'datasource', query: 'prometheus', current: {}, hide: 0, refresh: 1, regex: '', options: [] },
        ...variables.map((v, i) => variable(v, names.slice(0, i))),
      ],
    },
    panels: layout(spec.panels),
  };
}
