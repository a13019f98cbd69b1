// celery-exporter's way of configuring (its flags as cli.py declares them, its CE_* variables from
// click's auto_envvar_prefix="CE") read into celery-pulse's Config.
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { CeleryPulseError } from '../../src/errors.js';
import { parseDuration } from '../../src/config/values.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const action = loadConfig(argv, env);
  if (action.action !== 'run') throw new Error(`expected run, got ${action.action}`);
  return action.config;
}

function failure(argv: string[], env: NodeJS.ProcessEnv = {}): CeleryPulseError {
  try {
    loadConfig(argv, env);
  } catch (err) {
    if (err instanceof CeleryPulseError) return err;
    throw err;
  }
  throw new Error('expected a CeleryPulseError');
}

const EXPORTER_RUNTIME_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
const EXPORTER_WAIT_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

describe("celery-exporter's environment", () => {
  it('reads CE_BROKER_URL, CE_HOST, CE_PORT, CE_LOG_LEVEL and CE_QUEUES, and turns compat output on', () => {
    const c = run([], { CE_BROKER_URL: 'redis://cache:6380/2', CE_HOST: '127.0.0.1', CE_PORT: '9999', CE_LOG_LEVEL: 'DEBUG', CE_QUEUES: 'a,b' });
    expect(c.brokers.map((b) => b.url.display)).toEqual(['redis://cache:6380/2']);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(c.logLevel).toBe('debug');
    expect(c.queues['cache:6380/2']).toEqual(['a', 'b']);
    expect(c.celeryExporterCompat).toBe(true);
    expect(c.celeryExporterWay).toBe('CE_BROKER_URL, CE_QUEUES, CE_HOST, CE_PORT, CE_LOG_LEVEL');
    expect(c.notices.some((n) => n.startsWith("run the celery-exporter way (CE_BROKER_URL"))).toBe(true);
  });

  it('lets CELERY_PULSE_* win over the CE_* twin, with one line saying so', () => {
    const c = run([], { CE_BROKER_URL: 'redis://theirs:6379/0', CELERY_PULSE_BROKER_URL: 'redis://ours:6379/0' });
    expect(c.brokers.map((b) => b.url.display)).toEqual(['redis://ours:6379/0']);
    expect(c.notices).toContain('CELERY_PULSE_BROKER_URL is used; CE_BROKER_URL names the same setting and is ignored');
  });

  it("splits a multiple option's variable on whitespace, as click does", () => {
    const c = run([], { CE_STATIC_LABEL: 'team=core env=prod', CE_BROKER_TRANSPORT_OPTION: 'global_keyprefix=app: visibility_timeout=7200' });
    expect(c.staticLabels).toEqual({ team: 'core', env: 'prod' });
    expect(c.transport.globalKeyprefix).toBe('app:');
    expect(c.transport.visibilityTimeout).toBe(7200);
  });

  it('keeps CELERY_PULSE_LISTEN_ADDRESS over CE_PORT (same source), but a --port flag wins over the variable', () => {
    const env = { CELERY_PULSE_LISTEN_ADDRESS: '127.0.0.1:7000', CE_PORT: '9999' };
    expect(run([], env).listen).toEqual({ host: '127.0.0.1', port: 7000 });
    expect(run([], env).notices).toContain('--listen-address is used; --host/--port name the same setting and are ignored');
    // The host --port leaves out is the variable's, not --host's default 0.0.0.0.
    expect(run(['--port', '9100'], env).listen).toEqual({ host: '127.0.0.1', port: 9100 });
  });
});

describe("celery-exporter's flags", () => {
  it('accepts every flag of its cli.py with its value format', () => {
    const c = run([
      '--broker-url=redis://r:6379/1',
      '--broker-transport-option', 'master_name=mymaster',
      '--broker-transport-option', 'sentinel_kwargs={"password": "sentinelpass"}',
      '--broker-ssl-option', 'ssl_version=2',
      '--accept-content', 'json,pickle',
      '--retry-interval', '5',
      '--host', '127.0.0.1',
      '--port', '9900',
      '--buckets', '0.1,1,10',
      '--queue-wait-buckets', '1,60',
      '--log-level', 'WARNING',
      '--worker-timeout', '60',
      '--purge-offline-worker-metrics', '0',
      '--generic-hostname-task-sent-metric',
      '--generic-hostname-worker-task-metric',
      '-Q', 'high,low',
      '--metric-prefix', 'myapp_',
      '--default-queue-name', 'default',
      '--static-label', 'team=core',
    ]);
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9900 });
    expect(c.compatRuntimeBuckets).toEqual([0.1, 1, 10]);
    expect(c.compatQueueWaitBuckets).toEqual([1, 60]);
    expect(c.queueWaitBuckets).toEqual([1, 60]);
    expect(c.logLevel).toBe('warn');
    expect(c.workerTimeout).toBe(60);
    expect(c.workerForgetAfter).toBe(Infinity);
    expect(c.genericHostnameTaskSent).toBe(true);
    expect(c.genericHostnameWorkerTask).toBe(true);
    expect(c.queues['r:6379/1']).toEqual(['high', 'low']);
    expect(c.metricPrefix).toBe('myapp_');
    expect(c.defaultQueueName).toBe('default');
    expect(c.staticLabels).toEqual({ team: 'core' });
    expect(c.transport.masterName).toBe('mymaster');
    expect(c.celeryExporterCompat).toBe(true);
    expect(c.notices).toContain('broker SSL options not used by celery-pulse: ssl_version');
    expect(c.notices).toContain('--accept-content is not needed: Celery events are always JSON (event_serializer)');
    expect(c.notices.filter((n) => n.startsWith('--retry-interval'))).toHaveLength(1);
  });

  it('reads transport option values as JSON where they parse, as celery-exporter does', () => {
    const c = run(['--broker-transport-option', 'global_keyprefix="app:"', '--broker-transport-option', 'fanout_patterns=true']);
    expect(c.transport.globalKeyprefix).toBe('app:');
    expect(c.transport.fanoutPatterns).toBe(true);
  });

  it('splits --queues and -Q on commas (a,b is two queues), and takes -Qa,b', () => {
    expect(run(['--queues', 'a,b'], {}).queues['localhost:6379/0']).toEqual(['a', 'b']);
    expect(run(['-Qa,b'], {}).queues['localhost:6379/0']).toEqual(['a', 'b']);
    // --queues is celery-pulse's own flag too: it alone is not the celery-exporter way; -Q is.
    expect(run(['--queues', 'a']).celeryExporterWay).toBeUndefined();
    expect(run(['-Q', 'a']).celeryExporterWay).toBe('-Q');
  });

  it("takes bucket lists in celery-exporter's form, ending in inf", () => {
    const c = run(['--buckets', '0.1,1,inf', '--queue-wait-buckets', '1,60,inf']);
    expect(c.compatRuntimeBuckets).toEqual([0.1, 1]);
    expect(c.queueWaitBuckets).toEqual([1, 60]);
    expect(c.compatQueueWaitBuckets).toEqual([1, 60]);
  });

  it('uses celery-exporter buckets for its histograms unless told otherwise', () => {
    const c = run(['--port', '9808']);
    expect(c.compatRuntimeBuckets).toEqual(EXPORTER_RUNTIME_BUCKETS);
    expect(c.compatQueueWaitBuckets).toEqual(EXPORTER_WAIT_BUCKETS);
    expect(c.queueWaitBuckets[0]).toBe(0.01);
  });

  it('--no-celery-exporter-compat keeps compat output off when run the celery-exporter way', () => {
    const c = run(['--no-celery-exporter-compat'], { CE_BROKER_URL: 'redis://r:6379/0' });
    expect(c.celeryExporterCompat).toBe(false);
    expect(c.notices.some((n) => n.includes('--celery-exporter-compat is off'))).toBe(true);
    expect(run([]).celeryExporterCompat).toBe(false);
  });

  it('takes log levels in any case, loguru names included', () => {
    expect(run(['--log-level', 'INFO']).logLevel).toBe('info');
    expect(run(['--log-level', 'Critical']).logLevel).toBe('fatal');
    expect(run(['--log-level', 'SUCCESS']).logLevel).toBe('info');
    expect(failure(['--log-level', 'LOUD']).message).toContain('invalid value for --log-level: "LOUD"');
  });

  it('--worker-timeout 0 never times a worker out; --worker-timeout-heartbeats from the same source wins', () => {
    expect(run(['--worker-timeout', '0']).workerTimeout).toBe(Infinity);
    expect(run([]).workerTimeout).toBeUndefined();
    const both = run(['--worker-timeout', '60', '--worker-timeout-heartbeats', '4']);
    expect(both.workerTimeout).toBeUndefined();
    expect(both.notices).toContain('--worker-timeout-heartbeats is used; --worker-timeout names the same setting and is ignored');
  });

  it('turns certificate verification off only for cert_reqs=CERT_NONE, and warns', () => {
    expect(run([]).tls.verify).toBe(true);
    expect(run(['--broker-ssl-option', 'cert_reqs=CERT_REQUIRED']).tls.verify).toBe(true);
    const off = run(['--broker-ssl-option', 'cert_reqs=CERT_NONE']);
    expect(off.tls.verify).toBe(false);
    expect(off.warnings).toHaveLength(1);
    expect(off.warnings[0]).toMatch(/^--broker-ssl-option cert_reqs=CERT_NONE: the broker certificate is not verified/);
    expect(run([]).warnings).toEqual([]);
  });

  it('takes the half of the listen address --host/--port leave out from --listen-address, not from a default', () => {
    const env = { CELERY_PULSE_LISTEN_ADDRESS: '127.0.0.1:9808' };
    expect(run(['--port', '9000'], env).listen).toEqual({ host: '127.0.0.1', port: 9000 });
    expect(run(['--host', '127.0.0.2'], { CELERY_PULSE_LISTEN_ADDRESS: '127.0.0.1:9100' }).listen).toEqual({ host: '127.0.0.2', port: 9100 });
  });

  it('refuses an empty CE_BROKER_URL as it does an empty CELERY_PULSE_BROKER_URL', () => {
    expect(failure([], { CE_BROKER_URL: ' ' }).message).toBe('CE_BROKER_URL is set but empty (--broker-url)');
  });

  it('refuses a static label that a served series already has', () => {
    for (const key of ['outcome', 'reason', 'state', 'type', 'version', 'kind']) expect(failure(['--static-label', `${key}=x`]).message).toContain('--static-label');
  });

  it('refuses what it cannot honour, naming the flag', () => {
    expect(failure(['--static-label', 'hostname=x']).message).toContain('--static-label');
    expect(failure(['--metric-prefix', 'my-app']).message).toContain('--metric-prefix');
    expect(failure(['--port', '70000']).message).toContain('--port');
    expect(failure(['-Z']).message).toBe('unknown flag -Z (see --help)');
  });
});

describe('Prometheus exporter conventions', () => {
  it('takes --web.*, --log.* and -h', () => {
    const c = run(['--web.listen-address', ':9100', '--web.telemetry-path', '/prom', '--log.level', 'error', '--log.format', 'logfmt']);
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(c.metricsPath).toBe('/prom');
    expect(c.logLevel).toBe('error');
    expect(c.logFormat).toBe('logfmt');
    expect(loadConfig(['-h'], {}).action).toBe('help');
    expect(failure(['--log.format', 'xml']).message).toContain('--log-format');
  });

  it('reads durations in Prometheus form', () => {
    expect(parseDuration('task-ttl', '1h30m')).toBe(5400);
    expect(parseDuration('task-ttl', '1d12h')).toBe(129600);
    expect(parseDuration('task-ttl', '2m500ms')).toBe(120.5);
    expect(parseDuration('task-ttl', '1w')).toBe(604800);
    expect(parseDuration('task-ttl', '1.5h')).toBe(5400);
    expect(() => parseDuration('task-ttl', '30m1h')).toThrow('--task-ttl');
    expect(run(['--task-ttl', '1h30m']).taskTtl).toBe(5400);
  });
});
