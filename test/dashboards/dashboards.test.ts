// Lint of the Grafana dashboards in dashboards/: in sync with their TypeScript source, and following
// the ecosystem's conventions (datasource variable, cluster/namespace/job variables on every selector,
// $__rate_interval, units and descriptions everywhere, stable uids), with every query valid PromQL
// (promtool) over metrics the README documents.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ROOT } from '../kit/paths.js';
import { documentedMetrics, isDocumented, loadDashboards, metricNames, substituteVariables } from './dashboard-queries.js';

const dashboards = loadDashboards();
const panels = (d: (typeof dashboards)[number]) => d.json.panels.filter((p) => p.type !== 'row');

describe('dashboards', () => {
  it('are the four expected files, in sync with dashboards/src (run npm run dashboards)', () => {
    expect(readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort()).toEqual([
      'celery-pulse-overview.json', 'celery-pulse-queues.json', 'celery-pulse-task.json', 'celery-pulse-workers.json',
    ]);
    const r = spawnSync(process.execPath, [join(ROOT, 'dashboards', 'src', 'build.ts'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('render with the cluster selector shown for several clusters (--multi-cluster), nothing else changed', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-dashboards-'));
    try {
      const r = spawnSync(process.execPath, [join(ROOT, 'dashboards', 'src', 'build.ts'), '--multi-cluster', '--out-dir', dir], { encoding: 'utf8' });
      expect(r.stderr).toBe('');
      for (const d of dashboards) {
        const multi = JSON.parse(readFileSync(join(dir, d.file), 'utf8')) as typeof d.json;
        const cluster = multi.templating.list.find((v) => v.name === 'cluster') as { hide?: number };
        expect(cluster.hide, d.file).toBe(0);
        cluster.hide = 2;
        expect(multi, d.file).toEqual(d.json);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const bad = spawnSync(process.execPath, [join(ROOT, 'dashboards', 'src', 'build.ts'), '--multicluster'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('have stable uids equal to their file names, titles, descriptions and the celery-pulse tag', () => {
    for (const d of dashboards) {
      expect(d.json.uid).toBe(d.file.replace(/\.json$/, ''));
      expect(d.json.uid.length).toBeLessThanOrEqual(40);
      expect(d.json.title).toMatch(/^Celery Pulse \/ /);
      expect(d.json.description, d.file).toMatch(/\S/);
      expect(d.json.tags).toContain('celery-pulse');
    }
  });

  it('choose the data source through a `datasource` variable, on every panel and query', () => {
    for (const d of dashboards) {
      const ds = d.json.templating.list[0]!;
      expect(ds).toMatchObject({ name: 'datasource', type: 'datasource', query: 'prometheus' });
      for (const p of panels(d)) {
        expect(p.datasource, `${d.file}: ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
        for (const t of p.targets) expect(t.datasource, `${d.file}: ${p.title}`).toEqual({ type: 'prometheus', uid: '${datasource}' });
      }
    }
  });

  it('have cluster (hidden), namespace and job variables, all query variables defined, used, and "All" matching absent labels', () => {
    for (const d of dashboards) {
      const vars = d.json.templating.list.slice(1);
      const names = vars.map((v) => v.name);
      expect(names.slice(0, 3), d.file).toEqual(['cluster', 'namespace', 'job']);
      // Hidden as the monitoring-mixins hide it for one cluster; --multi-cluster shows it.
      expect((vars[0] as { hide?: number }).hide, d.file).toBe(2);
      const exprs = panels(d).flatMap((p) => p.targets.map((t) => t.expr));
      for (const v of vars) {
        expect(v.type).toBe('query');
        if (v.includeAll) expect(v.allValue, `${d.file}: $${v.name}`).toBe('.*');
        expect(exprs.some((e) => e.includes(`$${v.name}`)), `${d.file}: $${v.name} used`).toBe(true);
      }
      for (const e of exprs) {
        for (const m of e.matchAll(/\$(\w+)/g)) {
          if (m[1]!.startsWith('__')) continue;
          expect(names, `${d.file}: $${m[1]} in ${e}`).toContain(m[1]);
        }
      }
      const scope: Record<string, string[]> = {
        'celery-pulse-overview.json': ['queue_name', 'name'],
        'celery-pulse-task.json': ['queue_name', 'name'],
        'celery-pulse-workers.json': ['hostname'],
        'celery-pulse-queues.json': ['queue_name'],
      };
      expect(names.slice(3), d.file).toEqual(scope[d.file]);
    }
  });

  it('filter every metric selector by cluster, namespace and job', () => {
    for (const d of dashboards) {
      for (const p of panels(d)) {
        for (const t of p.targets) {
          for (const m of t.expr.matchAll(/\b([a-z_:]+)(\{[^}]*\})?(?=\s*[[)\s]|$)/g)) {
            if (!/^(celery|process|nodejs)_/.test(m[1]!)) continue;
            expect(m[2] ?? '', `${d.file}: ${p.title}: ${m[1]}`).toContain('cluster=~"$cluster"');
            expect(m[2] ?? '', `${d.file}: ${p.title}: ${m[1]}`).toContain('namespace=~"$namespace"');
            expect(m[2] ?? '', `${d.file}: ${p.title}: ${m[1]}`).toContain('job=~"$job"');
          }
        }
      }
    }
  });

  it('link every task, queue and worker series of the overview to its own dashboard, keeping the variables', () => {
    const byUid = new Map(dashboards.map((d) => [d.json.uid, d.json]));
    const overview = byUid.get('celery-pulse-overview')!;
    const to: Record<string, string> = { name: 'celery-pulse-task', queue_name: 'celery-pulse-queues', hostname: 'celery-pulse-workers' };
    const linked = new Set<string>();
    for (const p of overview.panels.filter((x) => x.type !== 'row')) {
      const by = new Set(p.targets.flatMap((t) => [...t.expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((m) => m[1]!.split(', '))));
      const label = Object.keys(to).find((l) => by.has(l));
      const links = (p.fieldConfig.defaults as { links?: { url: string }[] }).links ?? [];
      if (label === undefined) {
        expect(links, p.title).toEqual([]);
        continue;
      }
      linked.add(label);
      expect(links, p.title).toHaveLength(1);
      const url = new URL(links[0]!.url, 'http://grafana');
      expect(url.pathname, p.title).toBe(`/d/${to[label]}`);
      const target = byUid.get(to[label]!)!.templating.list.map((v) => v.name);
      // Every variable the overview and the target share is carried over, the series' own label set.
      const kept = [...links[0]!.url.matchAll(/\$\{(\w+):queryparam\}/g)].map((m) => m[1]!);
      const shared = overview.templating.list.map((v) => v.name).filter((v) => v !== 'datasource' && v !== label && target.includes(v));
      expect(kept, p.title).toEqual(shared);
      expect(links[0]!.url, p.title).toContain('${__url_time_range}');
      expect(links[0]!.url.endsWith(`&var-${label}=\${__field.labels.${label}}`), p.title).toBe(true);
    }
    expect([...linked].sort()).toEqual(['hostname', 'name', 'queue_name']);
  });

  it('use $__rate_interval (or $__range) for every range, never a fixed window', () => {
    for (const d of dashboards) {
      for (const p of panels(d)) {
        for (const t of p.targets) {
          for (const m of t.expr.matchAll(/\[([^\]]+)\]/g)) expect(['$__rate_interval', '$__range'], `${d.file}: ${p.title}`).toContain(m[1]);
        }
      }
    }
  });

  it('give every panel a title, a description, a unit and uniquely named queries', () => {
    for (const d of dashboards) {
      const ids = d.json.panels.map((p) => p.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const p of panels(d)) {
        const where = `${d.file}: ${p.title}`;
        expect(p.title, where).toMatch(/\S/);
        expect(p.description, where).toMatch(/\S{3}/);
        expect(p.fieldConfig.defaults.unit, where).toMatch(/\S/);
        expect(p.targets.length, where).toBeGreaterThan(0);
        expect(new Set(p.targets.map((t) => t.refId)).size, where).toBe(p.targets.length);
      }
    }
  });

  it('lay panels out inside 24 columns without overlaps', () => {
    for (const d of dashboards) {
      const cells = new Set<string>();
      for (const p of d.json.panels) {
        const { x, y, w, h } = p.gridPos;
        expect(x + w, `${d.file}: ${p.title}`).toBeLessThanOrEqual(24);
        for (let i = x; i < x + w; i++) {
          for (let j = y; j < y + h; j++) {
            expect(cells.has(`${i},${j}`), `${d.file}: ${p.title} overlaps at ${i},${j}`).toBe(false);
            cells.add(`${i},${j}`);
          }
        }
      }
    }
  });

  it('query only metrics the README documents', () => {
    const documented = documentedMetrics();
    for (const d of dashboards) {
      for (const p of panels(d)) {
        for (const t of p.targets) for (const name of metricNames(t.expr)) expect(isDocumented(name, documented), `${d.file}: ${p.title}: ${name}`).toBe(true);
      }
    }
  });

  it('hold only valid PromQL (promtool check rules, with the variables substituted)', () => {
    const rules = dashboards.flatMap((d) =>
      panels(d).flatMap((p) => p.targets.map((t, i) => ({ record: `dashboard:check:${d.json.uid.replace(/-/g, '_')}_${p.id}_${i}`, expr: substituteVariables(t.expr, { rateInterval: '1m', range: '1h' }) }))),
    );
    const dir = mkdtempSync(join(tmpdir(), 'pulse-dash-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(file, stringify({ groups: [{ name: 'dashboards', rules }] }));
      const r = spawnSync(process.env['CELERY_PULSE_PROMTOOL'] ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8' });
      expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
