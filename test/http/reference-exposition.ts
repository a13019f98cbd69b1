// The serializer as it was before it was written in time slices: one synchronous pass over
// prom-client's get() of every family. The tests hold the sliced serializer to this output.
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import type { ExpositionFormat, MetricSource } from '../../src/http/exposition.js';

interface Exemplar {
  labelSet: Record<string, string | number>;
  value: number;
  timestamp?: number;
}

type Sample = MetricValue<string> & { metricName?: string; exemplar?: Exemplar | null };

interface Family {
  name: string;
  help: string;
  type: string;
  values: Sample[];
}

export async function referenceSerialize(registry: MetricSource, format: ExpositionFormat): Promise<string> {
  const metrics = registry.getMetricsAsArray() as { get(): Promise<MetricObjectWithValues<MetricValue<string>>> }[];
  const families = (await Promise.all(metrics.map((m) => m.get()))) as unknown as Family[];
  const om = format === 'openmetrics';
  const chunks: string[] = [];
  for (const family of families) {
    const counter = family.type === 'counter';
    const familyName = om && counter ? family.name.replace(/_total$/, '') : family.name;
    const lines: string[] = [`# HELP ${familyName} ${escapeHelp(family.help, om)}`, `# TYPE ${familyName} ${family.type}`];
    for (const raw of family.values) {
      let name = raw.metricName ?? family.name;
      if (om && counter && !name.endsWith('_total')) name = `${name}_total`;
      let line = `${name}${formatLabels(raw.labels)} ${formatValue(raw.value)}`;
      if (om && raw.exemplar && raw.exemplar.value !== null && raw.exemplar.value !== undefined) {
        const ex = raw.exemplar;
        line += ` # ${formatLabels(ex.labelSet) || '{}'} ${formatValue(ex.value)}`;
        if (ex.timestamp !== undefined) line += ` ${formatValue(ex.timestamp)}`;
      }
      lines.push(line);
    }
    chunks.push(lines.join('\n'));
  }
  return om ? `${chunks.join('\n')}\n# EOF\n` : `${chunks.join('\n\n')}\n`;
}

function formatLabels(labels: Record<string, string | number | undefined> | undefined): string {
  if (labels === undefined) return '';
  let out = '';
  for (const key in labels) {
    const v = labels[key];
    if (v === undefined) continue;
    out += `${out === '' ? '' : ','}${key}="${escapeLabel(String(v))}"`;
  }
  return out === '' ? '' : `{${out}}`;
}

function escapeLabel(value: string): string {
  return /[\\"\n]/.test(value) ? value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"') : value;
}

function escapeHelp(help: string, om: boolean): string {
  const s = help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
  return om ? s.replace(/"/g, '\\"') : s;
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}
