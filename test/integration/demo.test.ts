// The demo, run as a newcomer runs it (`bash demo/run.sh`), on free ports: its flaky workload
// makes the shipped rules fire in its Prometheus, and the alert reaches its Alertmanager's API.
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc, ROOT, freePort, waitFor } from './harness.js';

interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  status: { state: string };
}
interface PromAlert {
  labels: Record<string, string>;
  state: string;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

// Bounded: the demo's text promises the first alert within a minute; start-up of five processes
// on a busy 2-core machine takes some of the rest.
const ALERT_TIMEOUT_MS = 120_000;

describe('the demo (demo/run.sh)', () => {
  let demo: Proc;
  const ports: Record<string, number> = {};

  beforeAll(async () => {
    for (const name of ['redis', 'pulse', 'prometheus', 'alertmanager']) ports[name] = await freePort();
    demo = new Proc('bash', [join(ROOT, 'demo', 'run.sh')], {
      env: {
        DEMO_REDIS_PORT: String(ports['redis']),
        DEMO_LISTEN_ADDRESS: `127.0.0.1:${ports['pulse']}`,
        DEMO_PROMETHEUS_PORT: String(ports['prometheus']),
        DEMO_ALERTMANAGER_PORT: String(ports['alertmanager']),
        DEMO_BUILD: '0',
      },
    });
    await waitFor('the demo to print its URLs', () => {
      if (!demo.running) throw new Error(`demo exited:\n${demo.output}`);
      return demo.output.includes('Ctrl-C stops the demo.');
    }, 60_000, 200);
  }, 90_000);

  afterAll(async () => {
    await demo?.stop(20_000);
  });

  it('prints where Prometheus and Alertmanager are', () => {
    expect(demo.output).toContain(`Prometheus:    http://127.0.0.1:${ports['prometheus']}/alerts`);
    expect(demo.output).toContain(`Alertmanager:  http://127.0.0.1:${ports['alertmanager']}/#/alerts`);
  });

  it('an alert of the shipped rules fires in Prometheus and reaches Alertmanager within two minutes', async () => {
    const am = `http://127.0.0.1:${ports['alertmanager']}`;
    const received = await waitFor('CeleryTaskNewExceptionClass in Alertmanager', async () => {
      const alerts = (await (await fetch(`${am}/api/v2/alerts`)).json()) as AmAlert[];
      const found = alerts.filter((a) => a.labels['alertname'] === 'CeleryTaskNewExceptionClass');
      return found.length > 0 ? found : undefined;
    }, ALERT_TIMEOUT_MS, 1000);
    for (const a of received) {
      expect(a.status.state).toBe('active');
      expect(a.labels).toMatchObject({ job: 'celery-pulse', severity: 'info' });
      expect(['pulse.flaky:TimeoutError', 'pulse.fail_value:ValueError', 'pulse.fail_key:KeyError']).toContain(`${a.labels['name']}:${a.labels['exception']}`);
      expect(a.annotations['summary']).toBe('A Celery task failed with an exception it had not raised before.');
      expect(a.annotations['dashboard_url']).toContain(`/d/celery-pulse-task?orgId=1&var-job=celery-pulse&var-name=${a.labels['name']}`);
    }
    const prom = `http://127.0.0.1:${ports['prometheus']}`;
    const promAlerts = async (): Promise<PromAlert[]> => ((await (await fetch(`${prom}/api/v1/alerts`)).json()) as { data: { alerts: PromAlert[] } }).data.alerts;
    expect((await promAlerts()).some((a) => a.labels['alertname'] === 'CeleryTaskNewExceptionClass' && a.state === 'firing')).toBe(true);
    // The flaky task retries about twice per run: its storm is on its way, pending for its `for: 5m`.
    const storm = await waitFor('CeleryTaskRetryStorm pending for pulse.flaky', async () => (await promAlerts()).find((a) => a.labels['alertname'] === 'CeleryTaskRetryStorm' && a.labels['name'] === 'pulse.flaky'), 60_000, 1000);
    expect(storm.state).toBe('pending');
  }, ALERT_TIMEOUT_MS + 90_000);

  it('stops everything it started on SIGTERM', async () => {
    await demo.stop(20_000);
    for (const [name, port] of Object.entries(ports)) expect(await listening(port), name).toBe(false);
  }, 30_000);
});
