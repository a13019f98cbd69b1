// celery-pulse started exactly as danihodovic/celery-exporter's Helm chart and README start
// celery-exporter, with only the program swapped: a real redis-server and a real Celery worker.
// It must read the broker it is given, answer the chart's /health probes, and serve every metric
// name and label set that celery-exporter's dashboards and alerts (celery-mixin) query, with data.
// Then celery-mixin's failure-ratio alert, as the mixin writes it, is evaluated by promtool over
// the series the daemon served, scraped round after round.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LAUNCH_ENV, NODE_FLAGS } from '../../src/heap-tuning.js';
import { CELERY_DIR, DAEMON, PYTHON, Proc, basicWorkloadDone, parseMetrics, runWorkload, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, Metrics, RedisServer } from './harness.js';

const PROMTOOL = process.env['CELERY_PULSE_PROMTOOL'] ?? 'promtool';

/** celery-exporter's port: its chart's containerPort and probes, its README's `-p 9808:9808`. */
const PORT = 9808;
const BASE = `http://127.0.0.1:${PORT}`;

/**
 * How celery-exporter is started, as facts (charts/celery-exporter: no args, `env` from values
 * with CE_BROKER_URL; README: `docker run ... --broker-url=redis://...`, `-e CE_BROKER_URL=...`,
 * `--retry-interval=5`).
 */
const INVOCATIONS = {
  chart: (broker: string) => ({ argv: [] as string[], env: { CE_BROKER_URL: broker } }),
  readmeRetryInterval: (broker: string) => ({ argv: [`--broker-url=${broker}`, '--retry-interval=5'], env: {} }),
};

/**
 * Every series celery-mixin's dashboards (celery-tasks-overview, celery-tasks-by-task) and alerts
 * (CeleryTaskHighFailRate, CeleryHighQueueLength, CeleryWorkerDown) query, with the labels they
 * select, group or template by (besides the target's job/namespace/cluster), and whether the
 * basic workload must have given it a value above 0.
 */
const MIXIN_SERIES: { name: string; labels: string[]; positive: boolean }[] = [
  { name: 'celery_task_sent_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_received_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_succeeded_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_failed_total', labels: ['name', 'queue_name', 'exception'], positive: true },
  { name: 'celery_task_retried_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_rejected_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_revoked_total', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_runtime_bucket', labels: ['name', 'queue_name', 'le'], positive: true },
  { name: 'celery_task_runtime_sum', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_task_runtime_count', labels: ['name', 'queue_name'], positive: true },
  { name: 'celery_queue_length', labels: ['queue_name'], positive: false },
  { name: 'celery_worker_up', labels: ['hostname'], positive: true },
  { name: 'celery_worker_tasks_active', labels: ['hostname'], positive: false },
];

/** celery-exporter's runtime buckets (prometheus_client Histogram.DEFAULT_BUCKETS). */
const EXPORTER_BUCKETS = ['0.005', '0.01', '0.025', '0.05', '0.075', '0.1', '0.25', '0.5', '0.75', '1', '2.5', '5', '7.5', '10', '+Inf'];

async function startAsCeleryExporter(invocation: { argv: string[]; env: Record<string, string> }): Promise<Proc> {
  const proc = new Proc(process.execPath, [...NODE_FLAGS, DAEMON, ...invocation.argv], { env: { ...LAUNCH_ENV, ...invocation.env } });
  await waitFor('/health to answer 200', async () => {
    if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
    return (await fetch(`${BASE}/health`).catch(() => undefined))?.status === 200;
  }, 20_000);
  return proc;
}

async function scrape(): Promise<Metrics> {
  return parseMetrics(await (await fetch(`${BASE}/metrics`)).text());
}

function send(redis: RedisServer, code: string): Promise<number | null> {
  return new Proc(PYTHON, ['-c', `from pulseapp import *\n${code}`], { cwd: CELERY_DIR, env: { PULSE_BROKER: redis.url } }).exited;
}

describe("started as celery-exporter's chart and README start it", () => {
  let redis: RedisServer;
  let worker: CeleryWorker;

  beforeAll(async () => {
    const free = await fetch(`${BASE}/`).then(
      () => false,
      () => true,
    );
    if (!free) throw new Error(`port ${PORT} is taken: this test needs celery-exporter's port`);
    redis = await startRedis();
    worker = await startWorker({ broker: redis.url, name: 'dropin@%h', concurrency: 2 });
  }, 60_000);

  afterAll(async () => {
    await worker?.stop();
    await redis?.stop();
  });

  for (const [name, invocation] of Object.entries(INVOCATIONS)) {
    it(`${name}: reads the broker given, answers /health, serves every series celery-mixin queries`, async () => {
      const { argv, env } = invocation(redis.url);
      const daemon = await startAsCeleryExporter({ argv, env });
      try {
        expect(daemon.output).toContain(`"url":"${redis.url}"`);
        expect(daemon.output).toContain("celery-exporter's series are served too");
        await runWorkload(redis.url, 'basic');
        await waitFor('the basic workload counted', async () => basicWorkloadDone(await scrape()), 60_000);
        const m = await scrape();
        for (const s of MIXIN_SERIES) {
          const found = m.find(s.name).filter((x) => s.labels.every((l) => x.labels[l] !== undefined && (l === 'exception' || x.labels[l] !== '')));
          expect(found.length, s.name).toBeGreaterThan(0);
          if (s.positive) expect(found.some((x) => x.value > 0), `${s.name} has a value above 0`).toBe(true);
        }
        expect([...new Set(m.find('celery_task_runtime_bucket').map((x) => x.labels['le']))]).toEqual(EXPORTER_BUCKETS);
        // celery-pulse's own `unknown` never shows in compat output (the workload names every task;
        // an unnamed one is the next test's).
        expect(m.series.filter((x) => x.labels['name'] === 'unknown')).toEqual([]);
        const health = await fetch(`${BASE}/health`);
        expect(health.status).toBe(200);
      } finally {
        await daemon.stop();
      }
    }, 120_000);
  }

  it("starts with every flag of celery-exporter's cli.py, in its value formats, and applies them", async () => {
    const argv = [
      `--broker-url=${redis.url}`,
      '--broker-transport-option', 'visibility_timeout=7200',
      '--broker-ssl-option', 'ssl_version=2',
      '--accept-content', 'json,pickle',
      '--retry-interval', '5',
      '--host', '127.0.0.1',
      '--port', String(PORT),
      '--buckets', '0.1,1,10,inf',
      '--queue-wait-buckets', '1,60,inf',
      '--log-level', 'INFO',
      '--worker-timeout', '300',
      '--purge-offline-worker-metrics', '600',
      '--generic-hostname-task-sent-metric',
      '--generic-hostname-worker-task-metric',
      '-Q', 'celery,other',
      '--metric-prefix', 'myapp_',
      '--default-queue-name', 'celery',
      '--static-label', 'team=core',
    ];
    const daemon = await startAsCeleryExporter({ argv, env: {} });
    try {
      await runWorkload(redis.url, 'basic');
      const done = (m: Metrics): boolean => m.value('myapp_task_succeeded_total') === 7 && m.value('myapp_task_failed_total') === 5;
      await waitFor('the basic workload counted', async () => done(await scrape()), 60_000);
      const m = await scrape();
      expect(m.series.filter((s) => s.name.startsWith('celery_'))).toEqual([]);
      expect(m.series.filter((s) => s.labels['team'] !== 'core')).toEqual([]);
      expect(m.find('myapp_task_succeeded_total').map((s) => s.labels['hostname'])).toEqual(m.find('myapp_task_succeeded_total').map(() => 'generic'));
      expect([...new Set(m.find('myapp_task_runtime_bucket').map((x) => x.labels['le']))]).toEqual(['0.1', '1', '10', '+Inf']);
      expect([...new Set(m.find('myapp_task_queue_wait_time_bucket').map((x) => x.labels['le']))]).toEqual(['1', '60', '+Inf']);
      expect([...new Set(m.find('myapp_task_sent_total').map((x) => x.labels['hostname']))]).toEqual(['generic']);
      expect(m.find('myapp_queue_length').map((s) => s.labels['queue_name']).sort()).toEqual(['celery', 'other']);
      for (const line of ['broker SSL options not used by celery-pulse: ssl_version', '--accept-content is not needed', '--retry-interval is not needed']) expect(daemon.output).toContain(line);
    } finally {
      await daemon.stop();
    }
  }, 120_000);

  it('labels a task whose task-received it never saw name="None", as celery-exporter does, so celery-mixin leaves it out', async () => {
    // A worker that answers no inspection: the seeding at start-up cannot name what it runs.
    const silent = await startWorker({ broker: redis.url, name: 'silent@%h', concurrency: 1, queues: ['unseen'], env: { PULSE_REMOTE_CONTROL: '0' } });
    let daemon: Proc | undefined;
    try {
      // Received before the daemon listens: its task-started and task-succeeded carry only its uuid.
      expect(await send(redis, "sleep.apply_async((6,), queue='unseen')")).toBe(0);
      await waitFor('the silent worker to receive the task', () => /Task pulse\.sleep\[[^\]]+\] received/.test(silent.proc.output), 20_000);
      daemon = await startAsCeleryExporter(INVOCATIONS.chart(redis.url));
      const labels = { hostname: silent.hostname };
      await waitFor('the unnamed task counted', async () => (await scrape()).value('celery_task_succeeded_total', labels) === 1, 30_000);
      const m = await scrape();
      // Its queue is not known either: it counts under the default queue, as the stalled-tasks rows do.
      expect(m.find('celery_task_succeeded_total', labels).map((x) => [x.labels, x.value])).toEqual([[{ ...labels, name: 'None', queue_name: 'celery' }, 1]]);
      expect(m.value('celery_task_received_total', labels)).toBe(0);
      expect(m.series.filter((x) => x.labels['name'] === 'unknown')).toEqual([]);
    } finally {
      await daemon?.stop();
      await silent.stop();
    }
  }, 120_000);

  it("/health answers 503 while the broker is down (the chart's liveness probe restarts the pod)", async () => {
    const daemon = await startAsCeleryExporter(INVOCATIONS.chart(redis.url));
    try {
      await redis.stop();
      await waitFor('/health to answer 503', async () => (await fetch(`${BASE}/health`)).status === 503, 20_000);
    } finally {
      await daemon.stop();
      await worker.stop();
      redis = await startRedis([], Number(new URL(redis.url).port));
      worker = await startWorker({ broker: redis.url, name: 'dropin@%h', concurrency: 2 });
    }
  }, 120_000);

  /** Seven scrapes a minute apart in promtool's time, as the daemon served them. */
  async function failureRounds(): Promise<Metrics[]> {
    // One scrape a minute, in promtool's time: round i is minute i. pulse.ok always succeeds;
    // pulse.fail_value always fails from round 1; pulse.fail_key fails from round 3, so its
    // name's first events (received, failed) land between two scrapes and its failed series
    // first appears already at 1.
    const rounds: Metrics[] = [await scrape()];
    const counts = { ok: 0, fail_value: 0, fail_key: 0 };
    for (let round = 1; round <= 7; round++) {
      const calls = ['ok.delay()', 'ok.delay()', 'fail_value.delay()'];
      counts.ok += 2;
      counts.fail_value += 1;
      if (round >= 3) {
        calls.push('fail_key.delay()');
        counts.fail_key += 1;
      }
      expect(await send(redis, calls.join('\n'))).toBe(0);
      await waitFor(`round ${round} counted`, async () => {
        const m = await scrape();
        return (
          m.value('celery_task_succeeded_total', { name: 'pulse.ok' }) === counts.ok &&
          m.value('celery_task_failed_total', { name: 'pulse.fail_value' }) === counts.fail_value &&
          m.value('celery_task_failed_total', { name: 'pulse.fail_key' }) === counts.fail_key
        );
      }, 30_000);
      rounds.push(await scrape());
    }
    return rounds;
  }

  function promtoolRun(rounds: Metrics[], firing: string[]): { code: number | null; out: string } {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-mixin-'));
    writeFileSync(join(dir, 'rules.yaml'), MIXIN_FAIL_RATE_RULE);
    writeFileSync(join(dir, 'test.yaml'), promtoolTest(rounds, firing));
    const r = spawnSync(PROMTOOL, ['test', 'rules', join(dir, 'test.yaml')], { encoding: 'utf8' });
    return { code: r.status, out: r.stdout + r.stderr };
  }

  it("celery-mixin's CeleryTaskHighFailRate fires, by promtool, over the series served: for a task that always fails and one whose first failure is its name's first event", async () => {
    const daemon = await startAsCeleryExporter(INVOCATIONS.chart(redis.url));
    try {
      const rounds = await failureRounds();
      // The fail_key series did not exist before round 3, and appeared there at 1, as said above.
      expect(rounds[2]!.find('celery_task_failed_total', { name: 'pulse.fail_key' })).toEqual([]);
      expect(rounds[3]!.value('celery_task_failed_total', { name: 'pulse.fail_key', exception: 'KeyError' })).toBe(1);
      expect(rounds[3]!.value('celery_task_succeeded_total', { name: 'pulse.fail_key' })).toBe(0);

      const r = promtoolRun(rounds, ['pulse.fail_key', 'pulse.fail_value']);
      expect(r.out).toContain('SUCCESS');
      expect(r.code).toBe(0);
    } finally {
      await daemon.stop();
    }
  }, 240_000);

  it('and, as the check that this test can fail: with --no-celery-exporter-compat it fires for neither (no succeeded series to divide by)', async () => {
    const daemon = await startAsCeleryExporter({ argv: ['--no-celery-exporter-compat'], env: { CE_BROKER_URL: redis.url } });
    try {
      const rounds = await failureRounds();
      expect(rounds.at(-1)!.find('celery_task_succeeded_total', { name: 'pulse.fail_value' })).toEqual([]);
      const r = promtoolRun(rounds, []);
      expect(r.out).toContain('SUCCESS');
      expect(r.code).toBe(0);
    } finally {
      await daemon.stop();
    }
  }, 240_000);
});

/**
 * CeleryTaskHighFailRate as celery-mixin writes it (alerts/alerts.libsonnet, default selectors):
 * failed / (failed + succeeded) per job, namespace, queue and task name over 10 minutes, above 5 %,
 * for 1 minute; no fallback for a missing series. Annotations left out: only the rule's firing is
 * tested.
 */
const MIXIN_FAIL_RATE_RULE = `groups:
  - name: celery
    rules:
      - alert: CeleryTaskHighFailRate
        expr: |
          sum(increase(celery_task_failed_total{job=~".*celery.*", queue_name!~"None", name!~"None"}[10m])) by (job, namespace, queue_name, name)
          /
          (
            sum(increase(celery_task_failed_total{job=~".*celery.*", queue_name!~"None", name!~"None"}[10m])) by (job, namespace, queue_name, name)
            +
            sum(increase(celery_task_succeeded_total{job=~".*celery.*", queue_name!~"None", name!~"None"}[10m])) by (job, namespace, queue_name, name)
          )
          * 100 > 5
        for: 1m
        labels:
          severity: warning
`;

/** Every served celery_task_{failed,succeeded}_total series, round i as minute i ('_' before it existed), as job="celery-exporter". */
function promtoolTest(rounds: Metrics[], firing: string[]): string {
  const series = new Map<string, (number | undefined)[]>();
  rounds.forEach((m, i) => {
    for (const s of m.series) {
      if (s.name !== 'celery_task_failed_total' && s.name !== 'celery_task_succeeded_total') continue;
      const labels = Object.entries({ ...s.labels, job: 'celery-exporter' })
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(', ');
      const key = `${s.name}{${labels}}`;
      const values = series.get(key) ?? new Array<number | undefined>(rounds.length).fill(undefined);
      values[i] = s.value;
      series.set(key, values);
    }
  });
  const input = [...series].map(([key, values]) => `      - series: '${key}'\n        values: '${values.map((v) => (v === undefined ? '_' : String(v))).join(' ')}'`);
  const alert = (name: string): string =>
    `          - exp_labels: {alertname: CeleryTaskHighFailRate, severity: warning, job: celery-exporter, queue_name: celery, name: ${name}}`;
  return `rule_files: [rules.yaml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
${input.join('\n')}
    alert_rule_test:
      - eval_time: ${rounds.length - 1}m
        alertname: CeleryTaskHighFailRate
        exp_alerts:${firing.length === 0 ? ' []' : `\n${firing.map(alert).join('\n')}`}
`;
}

