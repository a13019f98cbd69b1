// deploy/compose checked as far as a machine without a Docker engine allows: the Compose file
// resolved by Compose itself (`docker compose config`, or Debian's docker-compose), every file it
// mounts present, Prometheus' and Alertmanager's configurations as their containers see them
// accepted by promtool and amtool, and the wiring between the services.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadSource } from '../../alerts/src/build.js';
import { ROOT } from '../kit/paths.js';

const DIR = join(ROOT, 'deploy', 'compose');
const PROMTOOL = process.env['CELERY_PULSE_PROMTOOL'] ?? 'promtool';

interface Service {
  image?: string;
  build?: { context: string };
  command?: string[];
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown>;
}

/** `docker compose` where the client has the plugin, else Debian's docker-compose. */
function compose(...args: string[]): string {
  const plugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  const [cmd, pre] = plugin ? ['docker', ['compose']] : ['docker-compose', []];
  const r = spawnSync(cmd, [...pre, '-f', join(DIR, 'compose.yaml'), ...args], { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

function run(cmd: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

/** A service's bind mounts, as Compose resolved them: host path -> container path. */
function mounts(s: Service): { source: string; target: string }[] {
  return (s.volumes ?? []).map((v) => {
    const [source, target] = v.split(':');
    return { source: source!, target: target! };
  });
}

/** The service's files laid out under a temporary root as its container sees them. */
function containerView(s: Service, root: string): string {
  for (const m of mounts(s)) cpSync(m.source, join(root, m.target), { recursive: true });
  return root;
}

describe('deploy/compose (not run here: no Docker engine on these machines)', () => {
  let services: Record<string, Service>;
  let scratch: string;

  beforeAll(() => {
    services = (parse(compose('config')) as { services: Record<string, Service> }).services;
    scratch = mkdtempSync(join(tmpdir(), 'pulse-compose-'));
  });

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('is a valid Compose file with the whole chain', () => {
    expect(Object.keys(services).sort()).toEqual(['alertmanager', 'celery-pulse', 'grafana', 'prometheus', 'redis', 'worker', 'workload']);
    expect(services['celery-pulse']!.build?.context).toBe(ROOT);
    expect(existsSync(join(ROOT, 'Dockerfile'))).toBe(true);
    expect(services['worker']!.command!.join(' ')).toMatch(/celery -A pulseapp worker -E /);
  });

  it('mounts only files that exist in the repository', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const m of mounts(s)) expect(existsSync(m.source), `${name}: ${m.source}`).toBe(true);
    }
  });

  it('gives Prometheus a configuration and the shipped rules that promtool accepts, as mounted', () => {
    const prometheus = services['prometheus']!;
    const root = containerView(prometheus, join(scratch, 'prometheus'));
    const configPath = prometheus.command!.find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
    const r = run(PROMTOOL, 'check', 'config', join(root, configPath));
    expect(r.out).toContain('SUCCESS: 1 rule files found');
    expect(r.code, r.out).toBe(0);
    const rules = join(root, dirname(configPath), 'celery-pulse.rules.yaml');
    expect(readFileSync(rules, 'utf8')).toBe(readFileSync(join(ROOT, 'alerts', 'celery-pulse.rules.yaml'), 'utf8'));
  });

  it('scrapes celery-pulse and sends alerts to the Alertmanager, by service name and port', () => {
    const config = parse(readFileSync(join(DIR, 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
      alerting: { alertmanagers: { static_configs: { targets: string[] }[] }[] };
    };
    const scrape = config.scrape_configs[0]!;
    // The shipped rules select job=~".*celery.*".
    expect(scrape.job_name).toMatch(/celery/);
    expect(scrape.static_configs[0]!.targets).toEqual(['celery-pulse:9808']);
    expect(services['celery-pulse']!.ports).toEqual(['127.0.0.1:9808:9808/tcp']);
    expect(config.alerting.alertmanagers[0]!.static_configs[0]!.targets).toEqual(['alertmanager:9093']);
    expect(services['alertmanager']!.ports).toEqual(['127.0.0.1:9093:9093/tcp']);
  });

  it('gives Alertmanager a configuration amtool accepts, as mounted', () => {
    const alertmanager = services['alertmanager']!;
    const root = containerView(alertmanager, join(scratch, 'alertmanager'));
    const configPath = alertmanager.command!.find((a) => a.startsWith('--config.file='))!.split('=')[1]!;
    const r = run('amtool', 'check-config', join(root, configPath));
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('SUCCESS');
  });

  it('provisions Grafana with the Prometheus data source and every dashboard, where alerts link to', () => {
    const grafana = services['grafana']!;
    const root = containerView(grafana, join(scratch, 'grafana'));
    const datasources = parse(readFileSync(join(root, 'etc/grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { type: string; url: string; isDefault: boolean }[] };
    expect(datasources.datasources).toEqual([expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090', isDefault: true })]);
    const providers = parse(readFileSync(join(root, 'etc/grafana/provisioning/dashboards/celery-pulse.yaml'), 'utf8')) as { providers: { type: string; options: { path: string } }[] };
    const path = providers.providers[0]!.options.path;
    const shipped = readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
    expect(readdirSync(join(root, path)).sort()).toEqual(shipped);
    for (const f of shipped) expect(readFileSync(join(root, path, f), 'utf8')).toBe(readFileSync(join(ROOT, 'dashboards', f), 'utf8'));
    // The alerts' dashboard_url opens this Grafana with the rules' default grafana_url.
    const port = new URL(loadSource().parameters['grafana_url']!.default).port;
    expect(grafana.ports).toEqual([`127.0.0.1:${port}:3000/tcp`]);
  });
});
