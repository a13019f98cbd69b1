// Prometheus text as tests read it.

/** Parsed Prometheus text: `value(name, labels)` sums every series of `name` matching `labels`. */
export class Metrics {
  constructor(readonly series: { name: string; labels: Record<string, string>; value: number }[]) {}

  value(name: string, labels: Record<string, string> = {}): number {
    let sum = 0;
    for (const s of this.series) {
      if (s.name !== name) continue;
      if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
    return sum;
  }

  find(name: string, labels: Record<string, string> = {}): { labels: Record<string, string>; value: number }[] {
    return this.series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }
}

export function parseMetrics(text: string): Metrics {
  const series: { name: string; labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    const re = /(\w+)="((?:[^"\\]|\\.)*)"/g;
    let lm: RegExpExecArray | null;
    while ((lm = re.exec(m[2] ?? '')) !== null) labels[lm[1]!] = lm[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    series.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return new Metrics(series);
}
