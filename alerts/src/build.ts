// Renders alerts/src/rules.yaml into the plain Prometheus rules file and the prometheus-operator
// PrometheusRule, both from the same groups, so the two can never disagree.
//
//   node alerts/src/build.ts                      write alerts/celery-pulse.{rules,prometheusrule}.yaml
//   node alerts/src/build.ts --check              exit 1 if the committed files differ from the source
//   node alerts/src/build.ts --set NAME=VALUE … --out-dir DIR   your own thresholds, elsewhere
//
// Runs on Node's own type stripping (no build step), hence no relative imports.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';

const ALERTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..');
const SOURCE = join(ALERTS_DIR, 'src', 'rules.yaml');
export const RULES_FILE = 'celery-pulse.rules.yaml';
export const OPERATOR_FILE = 'celery-pulse.prometheusrule.yaml';

interface Parameter {
  readonly default: string;
  readonly description: string;
}

interface Source {
  readonly parameters: Record<string, Parameter>;
  readonly groups: unknown[];
}

const HEADER = '# Generated from alerts/src/rules.yaml by `npm run alerts`: edit the source, not this file.\n';

/** Replaces every `${name}` in every string of `value`; an unknown name is an error. */
function substitute(value: unknown, params: Record<string, string>, used: Set<string>): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([a-z0-9_]+)\}/g, (_m, name: string) => {
      const v = params[name];
      if (v === undefined) throw new Error(`unknown parameter \${${name}} in ${SOURCE}`);
      used.add(name);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, params, used));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, params, used)]));
  }
  return value;
}

export function loadSource(): Source {
  return parse(readFileSync(SOURCE, 'utf8')) as Source;
}

/**
 * The dashboard each group's alerts link to (its `dashboard_url`), and the labels that fill its
 * variables. A label the alert does not carry adds no variable (`{{ with }}`), so the dashboard
 * keeps its "All" instead of filtering on an empty value. Groups not listed link to the overview.
 */
const GROUP_DASHBOARDS: Record<string, { readonly uid: string; readonly variables: readonly string[] }> = {
  'celery-pulse.tasks': { uid: 'celery-pulse-task', variables: ['cluster', 'namespace', 'job', 'queue_name', 'name'] },
  'celery-pulse.queues': { uid: 'celery-pulse-queues', variables: ['cluster', 'namespace', 'job', 'queue_name'] },
  'celery-pulse.workers': { uid: 'celery-pulse-workers', variables: ['cluster', 'namespace', 'job', 'hostname'] },
};
const OVERVIEW = { uid: 'celery-pulse-overview', variables: ['cluster', 'namespace', 'job'] };

interface Rule {
  readonly alert?: string;
  annotations?: Record<string, string>;
}

/** Adds a `dashboard_url` annotation, after runbook_url, to every alert that has none. */
function linkDashboards(groups: unknown[], grafanaUrl: string): void {
  for (const group of groups as { name: string; rules: Rule[] }[]) {
    const board = GROUP_DASHBOARDS[group.name] ?? OVERVIEW;
    const vars = board.variables.map((v) => `{{ with $labels.${v} }}&var-${v}={{ . | urlquery }}{{ end }}`).join('');
    for (const rule of group.rules) {
      if (rule.alert === undefined || rule.annotations?.['dashboard_url'] !== undefined) continue;
      rule.annotations = { ...rule.annotations, dashboard_url: `${grafanaUrl}/d/${board.uid}?orgId=1${vars}` };
    }
  }
}

/** The two rendered files, keyed by file name. */
export function render(overrides: Record<string, string> = {}): Record<string, string> {
  const source = loadSource();
  const params: Record<string, string> = {};
  for (const [name, p] of Object.entries(source.parameters)) params[name] = String(p.default);
  for (const [name, v] of Object.entries(overrides)) {
    if (!(name in params)) throw new Error(`unknown parameter "${name}" (see ${SOURCE})`);
    params[name] = v;
  }
  const used = new Set<string>();
  const groups = substitute(source.groups, params, used) as unknown[];
  linkDashboards(groups, params['grafana_url']!);
  used.add('grafana_url');
  const unused = Object.keys(params).filter((p) => !used.has(p));
  if (unused.length > 0) throw new Error(`parameters never used in ${SOURCE}: ${unused.join(', ')}`);
  const opts = { lineWidth: 0 };
  const operator = {
    apiVersion: 'monitoring.coreos.com/v1',
    kind: 'PrometheusRule',
    metadata: {
      name: 'celery-pulse',
      labels: { 'app.kubernetes.io/name': 'celery-pulse', 'app.kubernetes.io/part-of': 'celery-pulse', 'app.kubernetes.io/component': 'alert-rules' },
    },
    spec: { groups },
  };
  return {
    [RULES_FILE]: HEADER + stringify({ groups }, opts),
    [OPERATOR_FILE]: HEADER + stringify(operator, opts),
  };
}

function main(argv: string[]): number {
  const overrides: Record<string, string> = {};
  let outDir = ALERTS_DIR;
  let check = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--check') check = true;
    else if (arg === '--set' || arg === '--out-dir') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      if (arg === '--out-dir') outDir = v;
      else {
        const eq = v.indexOf('=');
        if (eq <= 0) throw new Error(`--set takes NAME=VALUE, got "${v}"`);
        overrides[v.slice(0, eq)] = v.slice(eq + 1);
      }
    } else throw new Error(`unknown argument "${arg}" (--check, --set NAME=VALUE, --out-dir DIR)`);
  }
  const files = render(overrides);
  let stale = 0;
  for (const [file, text] of Object.entries(files)) {
    const path = join(outDir, file);
    if (check) {
      let current = '';
      try {
        current = readFileSync(path, 'utf8');
      } catch {
        // missing counts as stale
      }
      if (current !== text) {
        console.error(`${path} is out of date: run npm run alerts`);
        stale++;
      }
    } else {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(path, text);
    }
  }
  return stale === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exitCode = 2;
  }
}
