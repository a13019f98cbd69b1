// A real Prometheus (Debian's prometheus package) for integration tests: loopback, free port,
// temporary storage, a fast scrape of the targets given, our rules loaded, and its HTTP API.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Proc, freePort, waitFor } from './harness.js';

export const PROMETHEUS = process.env['CELERY_PULSE_PROMETHEUS'] ?? 'prometheus';

export interface Sample {
  readonly metric: Record<string, string>;
  readonly value: number;
}
export interface RangeSeries {
  readonly metric: Record<string, string>;
  readonly values: readonly number[];
}
export interface PromAlert {
  readonly labels: Record<string, string>;
  readonly annotations: Record<string, string>;
  readonly state: 'pending' | 'firing';
  /** RFC 3339 time of the evaluation at which the alert became active. */
  readonly activeAt?: string;
}
export interface PromRule {
  readonly name: string;
  readonly type: 'alerting' | 'recording';
  readonly health: string;
  readonly lastError?: string;
}

export interface PrometheusServer {
  readonly url: string;
  readonly proc: Proc;
  /** Instant query; throws with Prometheus' error text when the query is rejected. */
  query(expr: string, time?: number): Promise<Sample[]>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<RangeSeries[]>;
  exemplars(expr: string, start: number, end: number): Promise<{ seriesLabels: Record<string, string>; exemplars: { labels: Record<string, string>; value: string }[] }[]>;
  /** Values of `label` on the series matching `match` (what Grafana's label_values() asks). */
  labelValues(label: string, match: string): Promise<string[]>;
  alerts(): Promise<PromAlert[]>;
  rules(): Promise<PromRule[]>;
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** host:port of each target, scraped as job `job`. */
  readonly targets: readonly string[];
  readonly job: string;
  readonly ruleFiles?: readonly string[];
  /** Seconds; also the rule evaluation interval. */
  readonly interval?: number;
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'pulse-prometheus-'));
  const interval = `${options.interval ?? 1}s`;
  const config = {
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    rule_files: [...(options.ruleFiles ?? [])],
    scrape_configs: [{ job_name: options.job, static_configs: [{ targets: [...options.targets] }] }],
  };
  writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
  const proc = new Proc(PROMETHEUS, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    // Exemplars (trace ids on runtime and failure series) are kept only with this feature.
    '--enable-feature=exemplar-storage',
    '--log.level=warn',
  ]);
  const url = `http://127.0.0.1:${port}`;
  await waitFor('prometheus /-/ready', async () => {
    if (!proc.running) throw new Error(`prometheus exited:\n${proc.output}`);
    return (await fetch(`${url}/-/ready`)).status === 200;
  }, 30_000);

  const api = async <T>(path: string, params: Record<string, string>): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}`, { method: 'POST', body: new URLSearchParams(params) });
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };
  const get = async <T>(path: string): Promise<T> => {
    const body = (await (await fetch(`${url}/api/v1/${path}`)).json()) as { status: string; data: T };
    return body.data;
  };
  return {
    url,
    proc,
    async query(expr, time) {
      const data = await api<{ result: { metric: Record<string, string>; value: [number, string] }[] }>('query', { query: expr, ...(time !== undefined ? { time: String(time) } : {}) });
      return data.result.map((r) => ({ metric: r.metric, value: Number(r.value[1]) }));
    },
    async queryRange(expr, start, end, step) {
      const data = await api<{ result: { metric: Record<string, string>; values: [number, string][] }[] }>('query_range', {
        query: expr, start: String(start), end: String(end), step: String(step),
      });
      return data.result.map((r) => ({ metric: r.metric, values: r.values.map((v) => Number(v[1])) }));
    },
    exemplars(expr, start, end) {
      return api('query_exemplars', { query: expr, start: String(start), end: String(end) });
    },
    async labelValues(label, match) {
      return get<string[]>(`label/${encodeURIComponent(label)}/values?${new URLSearchParams({ 'match[]': match })}`);
    },
    async alerts() {
      return (await get<{ alerts: PromAlert[] }>('alerts')).alerts;
    },
    async rules() {
      return (await get<{ groups: { rules: PromRule[] }[] }>('rules')).groups.flatMap((g) => g.rules);
    },
    async stop() {
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
