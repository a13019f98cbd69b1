// Dashboards and alert rules end to end: a real Prometheus (1 s scrapes, our rules loaded) scrapes
// the daemon while a real Celery worker runs known workloads against a real redis-server. Every
// query of every dashboard panel is run through Prometheus' HTTP API as Grafana would (variables
// at "All", $__rate_interval for a 1 s scrape); a query error, or no data for a panel whose data
// this workload produces, fails. celery-exporter's celery-mixin query shapes are run too, with
// --celery-exporter-compat.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ROOT, freePort, runWorkload, sleep, startDaemon, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, RedisServer } from './harness.js';
import { startPrometheus } from './prometheus.js';
import type { PrometheusServer, RangeSeries } from './prometheus.js';
import { loadDashboards, substituteVariables } from '../dashboards/dashboard-queries.js';

/**
 * Panel queries (dashboard uid / panel title / refId) whose data this workload cannot produce, and
 * why. Everything else must return data.
 */
const NOT_PRODUCED: Record<string, string> = {
  'celery-pulse-overview/Events lost/A': 'decode errors: the workload sends only valid events (hostile input has its own test)',
  'celery-pulse-task/Lost, stalled and duplicate runs/B': 'duplicate executions need a broker redelivery (visibility_timeout) (detectors-worker-loss.test.ts)',
  'celery-pulse-queues/Consumers/A': 'consumer counts come from RabbitMQ only; this test runs on Redis',
};

const dashboards = loadDashboards();
const JOB = 'celery-pulse';

describe('dashboards and alert rules against a real Prometheus scraping celery-pulse', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let worker: CeleryWorker;
  /** Consumes queue `doomed` only, and is SIGKILLed in the middle of its task: a lost task. */
  let doomed: CeleryWorker;
  let prom: PrometheusServer;
  let start: number;
  let end: number;

  const scraped = async (expr: string, want: number): Promise<boolean> => (await prom.query(expr)).some((s) => s.value === want);

  beforeAll(async () => {
    redis = await startRedis();
    const silentCollector = await freePort();
    daemon = await startDaemon([
      '--broker-url', redis.url,
      '--log-level', 'error',
      '--celery-exporter-compat',
      '--queues', 'backlog',
      '--stalled-threshold', '2s',
      '--expect-task', 'pulse.tick=1.25s',
      // Exemplars carry the trace ids of the spans; nothing listens there, spans are dropped.
      '--traces', '--otlp-endpoint', `http://127.0.0.1:${silentCollector}`,
    ]);
    prom = await startPrometheus({ targets: [`127.0.0.1:${daemon.port}`], job: JOB, ruleFiles: [join(ROOT, 'alerts', 'celery-pulse.rules.yaml')] });
    start = Math.floor(Date.now() / 1000) - 1;
    [worker, doomed] = await Promise.all([
      startWorker({ broker: redis.url, name: 'dash1@%h', concurrency: 2 }),
      // Threads pool: heartbeats keep coming while its task runs, until the SIGKILL.
      startWorker({ broker: redis.url, name: 'doomed@%h', pool: 'threads', concurrency: 1, queues: ['doomed'], extraArgs: ['--heartbeat-interval', '1'] }),
    ]);
    // Round 1, then round 2 once Prometheus has scraped round 1: series born in round 1 move in
    // round 2, so rates and quantiles have something to show.
    await Promise.all([runWorkload(redis.url, 'basic'), runWorkload(redis.url, 'to_queue', { PULSE_QUEUE: 'backlog' })]);
    await waitFor('round 1 in Prometheus', () => scraped('sum(celery_task_succeeded_total)', 7), 60_000, 250);
    await sleep(2000);
    await runWorkload(redis.url, 'to_queue', { PULSE_QUEUE: 'doomed', PULSE_COUNT: '1', PULSE_SLEEP_SECONDS: '60' });
    await waitFor('the doomed task to start', async () => (await daemon.metrics()).value('celery_task_started_total', { hostname: doomed.hostname }) === 1, 20_000, 100);
    doomed.proc.signal('SIGKILL');
    await Promise.all([
      runWorkload(redis.url, 'basic'),
      runWorkload(redis.url, 'to_queue', { PULSE_QUEUE: 'backlog' }),
      runWorkload(redis.url, 'sleepers', { PULSE_SLEEPERS: '1', PULSE_SLEEP_SECONDS: '4' }),
      // Beat-like: 7 sends 1.25 s apart, enough for the cadence detector (6 intervals of >= 1 s).
      runWorkload(redis.url, 'periodic', { PULSE_PERIOD: '1.25', PULSE_TICKS: '7' }),
    ]);
    // 14 of basic, the sleeper and 7 ticks.
    await waitFor('round 2 in Prometheus', () => scraped('sum(celery_task_succeeded_total)', 14 + 1 + 7), 60_000, 250);
    await waitFor('the lost task in Prometheus', () => scraped('sum(celery_task_lost_total{name="pulse.sleep", queue_name="doomed"})', 1), 30_000, 250);
    await sleep(2000);
    end = Math.ceil(Date.now() / 1000);
  });

  afterAll(async () => {
    await worker?.stop();
    await doomed?.stop();
    await prom?.stop();
    await daemon?.stop();
    await redis?.stop();
  });

  const hasData = (series: RangeSeries[]): boolean => series.some((s) => s.values.some((v) => !Number.isNaN(v)));

  it('scraped exactly the counts the workloads produced', async () => {
    const value = async (expr: string): Promise<number[]> => (await prom.query(expr)).map((s) => s.value);
    expect(await value('sum(celery_task_failed_total{name="pulse.fail_value"})')).toEqual([6]);
    expect(await value('sum(celery_task_retried_total{name="pulse.flaky_retry"})')).toEqual([8]);
    expect(await value('sum(celery_queue_length{queue_name="backlog"})')).toEqual([20]);
    expect(await value('sum(celery_task_runtime_seconds_count{name="pulse.ok", outcome="succeeded"})')).toEqual([10]);
    const byOutcome = async (name: string): Promise<Record<string, number>> =>
      Object.fromEntries((await prom.query(`sum by (outcome) (celery_task_runtime_seconds_count{name="${name}"})`)).map((s) => [s.metric['outcome'], s.value]));
    expect(await byOutcome('pulse.flaky_retry')).toEqual({ retried: 8, succeeded: 4 });
    expect(await byOutcome('pulse.fail_value')).toEqual({ failed: 6 });
    expect(await value('sum(celery_task_expected_interval_seconds{name="pulse.tick"})')).toEqual([1.25]);
    expect(await value('sum by (reason) (celery_task_lost_total{name="pulse.sleep", queue_name="doomed"})')).toEqual([1]);
    expect(await value(`celery_worker_up{hostname="${doomed.hostname}"}`)).toEqual([0]);
  });

  it('loads all 19 rules and evaluates every one without error', async () => {
    const rules = await prom.rules();
    expect(rules.length).toBe(19);
    for (const r of rules) expect(r.health, `${r.name}: ${r.lastError ?? ''}`).toBe('ok');
  });

  it('has data for every panel query this workload produces, and every query is accepted', async () => {
    const empty: string[] = [];
    let queries = 0;
    for (const d of dashboards) {
      for (const p of d.json.panels) {
        if (p.type === 'row') continue;
        for (const t of p.targets) {
          const key = `${d.json.uid}/${p.title}/${t.refId}`;
          const expr = substituteVariables(t.expr, { rateInterval: '4s', range: `${end - start}s` });
          const series = await prom.queryRange(expr, start, end, 1);
          queries++;
          if (!hasData(series) && NOT_PRODUCED[key] === undefined) empty.push(`${key}: ${expr}`);
        }
      }
    }
    expect(empty).toEqual([]);
    expect(queries).toBeGreaterThanOrEqual(60);
  });

  it('fills every dashboard variable but cluster and namespace (one Prometheus, no Kubernetes here) from label_values()', async () => {
    for (const d of dashboards) {
      for (const v of d.json.templating.list) {
        if (v.type !== 'query') continue;
        const m = /^label_values\((.+), (\w+)\)$/.exec((v.query as { query: string }).query);
        expect(m, `${d.file}: $${v.name}`).not.toBeNull();
        const values = await prom.labelValues(m![2]!, substituteVariables(m![1]!, { rateInterval: '4s', range: '1h' }));
        if (v.name === 'namespace' || v.name === 'cluster') expect(values).toEqual([]);
        else expect(values.length, `${d.file}: $${v.name}`).toBeGreaterThan(0);
      }
    }
  });

  it('lists as not produced only panel queries that exist and really have no data', async () => {
    for (const key of Object.keys(NOT_PRODUCED)) {
      const [uid, title, refId] = key.split('/');
      const target = dashboards.find((d) => d.json.uid === uid)?.json.panels.find((p) => p.title === title)?.targets.find((t) => t.refId === refId);
      expect(target, key).toBeDefined();
      const series = await prom.queryRange(substituteVariables(target!.expr, { rateInterval: '4s', range: `${end - start}s` }), start, end, 1);
      expect(hasData(series), key).toBe(false);
    }
  });

  it('shows the stalled sleeper, the detected cadence and the backlog on their panels', async () => {
    const max = async (expr: string): Promise<number> => Math.max(...(await prom.queryRange(expr, start, end, 1)).flatMap((s) => s.values));
    // The sleeper on the default queue; the doomed sleeper is stalled too until its worker is
    // declared dead, and the two may overlap for a moment, so each queue is checked on its own.
    expect(await max('sum(celery_task_stalled{name="pulse.sleep", queue_name="celery"})')).toBe(1);
    expect(await max('sum(celery_task_stalled{name="pulse.sleep", queue_name="doomed"})')).toBeLessThanOrEqual(1);
    expect(await max('max(celery_task_detected_interval_seconds{name="pulse.tick"})')).toBeCloseTo(1.25, 1);
    expect(await max('sum(celery_queue_length{queue_name="backlog"})')).toBe(20);
  });

  it('fires the alerts the workload calls for, with their labels and runbook links', async () => {
    // No history yet: every (task, exception) is new. Compat's exception="" zero series is not.
    const alerts = await waitFor('CeleryTaskNewExceptionClass to fire', async () => {
      const a = await prom.alerts();
      return a.some((x) => x.labels['alertname'] === 'CeleryTaskNewExceptionClass' && x.state === 'firing') ? a : undefined;
    }, 20_000, 500);
    const newExceptions = alerts.filter((a) => a.labels['alertname'] === 'CeleryTaskNewExceptionClass').map((a) => `${a.labels['name']}:${a.labels['exception']}`).sort();
    expect(newExceptions).toEqual(['pulse.fail_key:KeyError', 'pulse.fail_value:ValueError']);
    // 6 of 6 pulse.fail_value runs failed: pending for its `for`, with the documented annotations.
    const ratio = alerts.find((a) => a.labels['alertname'] === 'CeleryTaskFailureRatioHigh' && a.labels['name'] === 'pulse.fail_value');
    expect(ratio).toMatchObject({
      state: 'pending',
      labels: { severity: 'warning', job: JOB, queue_name: 'celery', name: 'pulse.fail_value' },
      annotations: {
        summary: 'A Celery task fails too often.',
        runbook_url: expect.stringMatching(/RUNBOOK\.md#celerytaskfailureratiohigh$/),
        dashboard_url: `http://localhost:3000/d/celery-pulse-task?orgId=1&var-job=${JOB}&var-queue_name=celery&var-name=pulse.fail_value`,
      },
    });
    // The SIGKILLed worker: its task lost at once (critical), the worker down pending for its `for`.
    const lost = alerts.filter((a) => a.labels['alertname'] === 'CeleryTaskLost');
    expect(lost.map((a) => [a.state, a.labels['severity'], a.labels['name'], a.labels['queue_name'], a.annotations['description']])).toEqual([
      ['firing', 'critical', 'pulse.sleep', 'doomed', `1 pulse.sleep tasks on queue doomed (${JOB}) were received or started by a worker that went down, with no outcome, in the last 15m.`],
    ]);
    const down = alerts.filter((a) => a.labels['alertname'] === 'CeleryWorkerDown');
    expect(down.map((a) => [a.state, a.labels['hostname']])).toEqual([['pending', doomed.hostname]]);
    expect(alerts.filter((a) => a.labels['name'] === 'pulse.ok')).toEqual([]);
    expect(alerts.filter((a) => ['CeleryPulseExporterDown', 'CeleryPulseBrokerDisconnected', 'CeleryPulseLosingEvents'].includes(a.labels['alertname']!))).toEqual([]);
  });

  it('links runtimes to traces: exemplars with trace ids reach Prometheus, on the series of each outcome', async () => {
    const runtime = dashboards.find((d) => d.json.uid === 'celery-pulse-task')!.json.panels.find((p) => p.title === 'Runtime percentiles by outcome')!;
    const target = runtime.targets.find((t) => (t as { exemplar?: boolean }).exemplar === true)!;
    const found = await prom.exemplars(substituteVariables(target.expr, { rateInterval: '4s', range: '1h' }), start, end);
    const traceIds = found.flatMap((s) => s.exemplars.map((e) => e.labels['trace_id']));
    expect(traceIds.length).toBeGreaterThan(0);
    expect(new Set(found.map((s) => s.seriesLabels['outcome']))).toEqual(new Set(['succeeded', 'failed', 'retried']));
    for (const id of traceIds) expect(id).toMatch(/^[0-9a-f]{32}$/);
  });

  describe("celery-exporter's celery-mixin, unchanged (--celery-exporter-compat)", () => {
    // Our own queries, in the shapes, with the names and label sets, that celery-mixin's dashboards
    // and alerts use (its job=~".*celery.*" selector and its "None" exclusions included).
    const sel = 'job=~".*celery.*", queue_name!~"None"';
    const byTask = `${sel}, name!~"None"`;
    const instant = async (expr: string): Promise<Record<string, number>> =>
      Object.fromEntries((await prom.query(expr)).map((s) => [Object.values(s.metric).join(',') || 'total', Math.round(s.value * 1000) / 1000]));

    it('overview stats: workers, active tasks, queues, success rate, average runtime', async () => {
      expect(await instant(`count(celery_worker_up{${sel}} == 1)`)).toEqual({ total: 1 });
      expect(await instant(`sum(celery_worker_tasks_active{${sel}})`)).toEqual({ total: 0 });
      expect(await instant(`count(group by (queue_name) (celery_queue_length{${sel}}))`)).toEqual({ total: 3 });
      expect(await instant(`topk(10, sum by (queue_name) (celery_queue_length{${sel}}))`)).toEqual({ backlog: 20, celery: 0, doomed: 0 });
      // Counters as celery-exporter's: every outcome of a seen task exists, at 0 if need be.
      expect(await instant(`sum by (name) (celery_task_failed_total{${byTask}, name=~"pulse.ok|pulse.fail_value"})`)).toEqual({ 'pulse.ok': 0, 'pulse.fail_value': 6 });
      const avg = await instant(`sum(rate(celery_task_runtime_sum{${sel}}[1w])) / sum(rate(celery_task_runtime_count{${sel}}[1w])) > 0`);
      expect(Object.keys(avg)).toEqual(['total']);
    });

    it('its histograms without unit suffix count exactly the successes, by name, hostname and queue_name', async () => {
      expect(await instant(`sum by (name) (celery_task_runtime_count{${byTask}})`)).toEqual(await instant(`sum by (name) (celery_task_succeeded_total{${byTask}}) > 0`));
      expect(await instant(`sum by (name) (celery_task_runtime_count{${byTask}, name="pulse.ok"})`)).toEqual({ 'pulse.ok': 10 });
      const hosts = await prom.query(`count by (hostname, queue_name) (celery_task_runtime_bucket{${byTask}})`);
      expect(hosts.map((s) => s.metric)).toEqual([{ hostname: worker.hostname, queue_name: 'celery' }]);
      expect(await instant(`sum(celery_task_queue_wait_time_count{${byTask}, name="pulse.ok"})`)).toEqual({ total: 10 });
    });

    it('runtime quantiles and rates over time, as its panels draw them', async () => {
      const shapes = [
        `histogram_quantile(0.95, sum(irate(celery_task_runtime_bucket{${byTask}}[4s])) by (name, job, le))`,
        `histogram_quantile(0.50, sum(irate(celery_task_runtime_bucket{${sel}}[4s])) by (job, le))`,
        `topk(10, sum(rate(celery_task_received_total{${sel}}[1m])) by (name))`,
        `sum(round(increase(celery_task_retried_total{${byTask}}[4s]))) by (name)`,
        `round(sum(increase(celery_task_failed_total{${byTask}}[1w])) by (name, exception))`,
        // A task that never failed still has a success rate: 1.
        `sum(rate(celery_task_succeeded_total{${byTask}, name="pulse.ok"}[4s])) / (sum(rate(celery_task_succeeded_total{${byTask}, name="pulse.ok"}[4s])) + sum(rate(celery_task_failed_total{${byTask}, name="pulse.ok"}[4s])))`,
      ];
      for (const expr of shapes) expect(hasData(await prom.queryRange(expr, start, end, 1)), expr).toBe(true);
      const okRate = await prom.queryRange(shapes[5]!, start, end, 1);
      expect(new Set(okRate.flatMap((s) => s.values).filter((v) => !Number.isNaN(v)))).toEqual(new Set([1]));
    });

    it('its alert expressions: high fail rate per task, queue length, worker down', async () => {
      const failRate = await instant(
        `sum(increase(celery_task_failed_total{${byTask}}[10m])) by (job, namespace, queue_name, name) / ` +
          `(sum(increase(celery_task_failed_total{${byTask}}[10m])) by (job, namespace, queue_name, name) + ` +
          `sum(increase(celery_task_succeeded_total{${byTask}}[10m])) by (job, namespace, queue_name, name)) * 100 > 5`,
      );
      expect(failRate).toEqual({ [`${JOB},pulse.fail_value,celery`]: 100, [`${JOB},pulse.fail_key,celery`]: 100 });
      expect(await instant(`sum(celery_queue_length{${sel}}) by (job, namespace, queue_name) > 15`)).toEqual({ [`${JOB},backlog`]: 20 });
      expect(await instant(`celery_worker_up{job=~".*celery.*"} == 1`)).toEqual({ [`celery_worker_up,${worker.hostname},127.0.0.1:${daemon.port},${JOB}`]: 1 });
      // CeleryWorkerDown's expression, for the SIGKILLed worker.
      expect(await instant(`celery_worker_up{job=~".*celery.*"} == 0`)).toEqual({ [`celery_worker_up,${doomed.hostname},127.0.0.1:${daemon.port},${JOB}`]: 0 });
    });
  });
});
