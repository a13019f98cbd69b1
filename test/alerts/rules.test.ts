// The alert rules: generated files in sync with alerts/src/rules.yaml, accepted by promtool, and
// every alert proven by promtool unit tests to fire (exact labels and annotations) and to stay quiet.
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { OPERATOR_FILE, RULES_FILE, loadSource, render } from '../../alerts/src/build.js';
import { ROOT } from '../kit/paths.js';

const ALERTS = join(ROOT, 'alerts');
const PROMTOOL = process.env['CELERY_PULSE_PROMTOOL'] ?? 'promtool';

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Group {
  name: string;
  rules: Rule[];
}

const UNIT_TESTS = ['tests/celery-pulse.test.yaml', 'tests/duration-anomaly.test.yaml', 'tests/periodic-stopped.test.yaml'];
const read = (file: string): string => readFileSync(join(ALERTS, file), 'utf8');
const groups = (): Group[] => (parse(read(RULES_FILE)) as { groups: Group[] }).groups;
const alerts = (): Rule[] => groups().flatMap((g) => g.rules.filter((r) => r.alert !== undefined));

function promtool(...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { cwd: ROOT, encoding: 'utf8' });
  if (r.error) throw r.error;
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('alert rules', () => {
  it('committed files are what alerts/src/build.ts renders (run npm run alerts)', () => {
    const files = render();
    expect(Object.keys(files).sort()).toEqual([OPERATOR_FILE, RULES_FILE].sort());
    for (const [file, text] of Object.entries(files)) expect(read(file), file).toBe(text);
  });

  it('the PrometheusRule carries exactly the groups of the plain rules file', () => {
    const operator = parse(read(OPERATOR_FILE)) as { apiVersion: string; kind: string; metadata: { name: string }; spec: { groups: Group[] } };
    expect(operator.apiVersion).toBe('monitoring.coreos.com/v1');
    expect(operator.kind).toBe('PrometheusRule');
    expect(operator.metadata.name).toBe('celery-pulse');
    expect(operator.spec.groups).toEqual(groups());
  });

  it('promtool check rules accepts the rules file', () => {
    const r = promtool('check', 'rules', join('alerts', RULES_FILE));
    expect(r.out).toContain('SUCCESS: 19 rules found');
    expect(r.code).toBe(0);
  });

  it('promtool test rules passes every unit test', () => {
    const r = promtool('test', 'rules', ...UNIT_TESTS.map((f) => join('alerts', f)));
    expect(r.out.match(/SUCCESS/g)).toHaveLength(UNIT_TESTS.length);
    expect(r.out).not.toContain('FAILED');
    expect(r.code).toBe(0);
  }, 60_000);

  it('every alert has a firing case and a quiet case in the unit tests', () => {
    type UnitTests = { tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[] };
    const cases = UNIT_TESTS.flatMap((f) => (parse(read(f)) as UnitTests).tests.flatMap((t) => t.alert_rule_test ?? []));
    for (const a of alerts()) {
      const mine = cases.filter((c) => c.alertname === a.alert);
      expect(mine.some((c) => c.exp_alerts.length > 0), `${a.alert} fires somewhere`).toBe(true);
      expect(mine.some((c) => c.exp_alerts.length === 0), `${a.alert} stays quiet somewhere`).toBe(true);
    }
  });

  it('every alert has a severity, a summary, a description and a runbook section', () => {
    const runbook = read('RUNBOOK.md');
    const sections = new Set([...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1]!.toLowerCase()));
    const names = alerts().map((a) => a.alert!);
    expect(names.sort()).toEqual([
      'CeleryPeriodicTaskLate', 'CeleryPeriodicTaskStopped', 'CeleryPulseBrokerDisconnected', 'CeleryPulseExporterDown', 'CeleryPulseLosingEvents', 'CeleryPulseSaturated',
      'CeleryQueueBacklogGrowing', 'CeleryQueueWaitHigh', 'CeleryTaskDuplicateExecution', 'CeleryTaskDurationAnomaly',
      'CeleryTaskFailureRatioHigh', 'CeleryTaskLost', 'CeleryTaskNewExceptionClass', 'CeleryTaskRetryStorm',
      'CeleryTaskStalled', 'CeleryWorkerDown', 'CeleryWorkerTaskEventsDisabled',
    ]);
    for (const a of alerts()) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.['severity']);
      expect(a.annotations?.['summary'], a.alert).toMatch(/\S/);
      expect(a.annotations?.['description'], a.alert).toMatch(/\S/);
      const url = a.annotations?.['runbook_url'] ?? '';
      expect(url, a.alert).toMatch(/\/alerts\/RUNBOOK\.md#[a-z]+$/);
      expect(sections.has(url.split('#')[1]!), `${a.alert}: RUNBOOK.md has a "## ${a.alert}" section`).toBe(true);
    }
  });

  // The monitoring-mixins' convention: a summary reads the same for every instance of the alert
  // (notifications group well), the values go in the description.
  it('every alert has a static summary and a dashboard_url to a shipped dashboard, its labels as variables', () => {
    const uids = new Set(readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).map((f) => (JSON.parse(readFileSync(join(ROOT, 'dashboards', f), 'utf8')) as { uid: string }).uid));
    for (const a of alerts()) {
      expect(a.annotations?.['summary'], a.alert).not.toContain('{{');
      expect(a.annotations?.['description'], a.alert).toContain('{{');
      const url = a.annotations?.['dashboard_url'] ?? '';
      const uid = /^http:\/\/localhost:3000\/d\/([\w-]+)\?orgId=1/.exec(url)?.[1];
      expect(uids.has(uid ?? ''), `${a.alert}: ${url}`).toBe(true);
      expect(url, a.alert).toContain('{{ with $labels.cluster }}&var-cluster={{ . | urlquery }}{{ end }}');
    }
    expect(render({ grafana_url: 'https://grafana.example' })[RULES_FILE]).toContain('dashboard_url: https://grafana.example/d/celery-pulse-task?');
  });

  it('renders thresholds from parameters, and rejects unknown ones', () => {
    const text = render({ failure_ratio: '0.2', worker_down_for: '30m' })[RULES_FILE]!;
    const custom = (parse(text) as { groups: Group[] }).groups.flatMap((g) => g.rules);
    expect(custom.find((r) => r.alert === 'CeleryTaskFailureRatioHigh')!.expr).toContain(') > 0.2\n');
    expect(custom.find((r) => r.alert === 'CeleryWorkerDown')!.for).toBe('30m');
    expect(() => render({ no_such_threshold: '1' })).toThrow(/unknown parameter "no_such_threshold"/);
  });

  it('reads only metrics the README documents (besides up, process_start_time_seconds and its own recordings)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const documented = new Set([...readme.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]!));
    const recorded = new Set(groups().flatMap((g) => g.rules.map((r) => r.record).filter((r) => r !== undefined)));
    for (const r of groups().flatMap((g) => g.rules)) {
      const names = [...r.expr.matchAll(/\b(celery_[a-z0-9_]+|task:[a-z0-9_:]+)(?=[{[\s)]|$)/g), ...r.expr.matchAll(/__name__=~"([^"]+)"/g)].map((m) => m[1]!);
      expect(names.length, r.alert ?? r.record).toBeGreaterThan(r.alert === 'CeleryPulseExporterDown' ? -1 : 0);
      for (const raw of names) {
        for (const name of raw.replace(/^(.*)\((.*)\)(.*)$/, (_m, a: string, alts: string, b: string) => alts.split('|').map((x) => a + x + b).join(',')).split(',')) {
          if (name === 'up' || name === 'process_start_time_seconds' || recorded.has(name)) continue;
          const known = documented.has(name) || documented.has(name.replace(/_(bucket|count|sum)$/, ''));
          expect(known, `${r.alert ?? r.record}: ${name}`).toBe(true);
        }
      }
    }
  });

  it('every parameter is documented in docs/dashboards-and-alerts.md', () => {
    const page = readFileSync(join(ROOT, 'docs', 'dashboards-and-alerts.md'), 'utf8');
    for (const [name, p] of Object.entries(loadSource().parameters)) {
      expect(page, name).toContain(`| \`${name}\` | \`${p.default}\` |`);
    }
  });
});
