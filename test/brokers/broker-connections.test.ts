// Every broker URL form Celery users write, down to the options handed to ioredis and amqplib,
// and the rule that a password reaches neither a label, nor a log line, nor an error message.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { amqpConnectOptions } from '../../src/brokers/amqp/options.js';
import { redisEventChannels } from '../../src/brokers/redis/channels.js';
import { redisOptions, sentinelCredentials } from '../../src/brokers/redis/options.js';
import { parseBrokerUrl } from '../../src/brokers/url.js';
import { configSecrets } from '../../src/config/broker-settings.js';
import { loadConfig } from '../../src/config/config.js';
import type { Config, TransportOptions } from '../../src/config/config.js';
import { createLogger } from '../../src/log.js';

const transport = (raw: Record<string, string> = {}): TransportOptions => ({
  globalKeyprefix: '',
  fanoutPrefix: true,
  fanoutPatterns: undefined,
  masterName: raw['master_name'],
  visibilityTimeout: undefined,
  raw,
});

const pemDir = mkdtempSync(join(tmpdir(), 'pulse-tls-unit-'));
afterAll(() => rmSync(pemDir, { recursive: true, force: true }));

const pem = (() => {
  const dir = pemDir;
  const file = (name: string, text: string): string => {
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };
  return { ca: file('ca.pem', 'CA-PEM'), cert: file('cert.pem', 'CERT-PEM'), key: file('key.pem', 'KEY-PEM'), verify: true };
})();

function config(argv: string[]): Config {
  const action = loadConfig(argv, {});
  if (action.action !== 'run') throw new Error('expected a run action');
  return action.config;
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    return (err as Error).message;
  }
  return '';
}

describe('Redis connection options', () => {
  it('passes an ACL user and password, and the db', () => {
    const o = redisOptions(parseBrokerUrl('redis://app:s3cret@h:6380/4'), transport(), undefined);
    expect(o).toMatchObject({ host: 'h', port: 6380, username: 'app', password: 's3cret', db: 4 });
    expect(o.tls).toBeUndefined();
  });

  it('speaks TLS for rediss:// with the CA, certificate and key files', () => {
    const o = redisOptions(parseBrokerUrl('rediss://:pw@h:6390/0'), transport(), pem);
    expect(o.port).toBe(6390);
    expect(o.tls?.ca?.toString()).toBe('CA-PEM');
    expect(o.tls?.cert?.toString()).toBe('CERT-PEM');
    expect(o.tls?.key?.toString()).toBe('KEY-PEM');
    // rediss:// without files: TLS with the system CAs.
    expect(redisOptions(parseBrokerUrl('rediss://h/0'), transport(), undefined).tls).toEqual({ ca: undefined, cert: undefined, key: undefined, rejectUnauthorized: true });
  });

  it('resolves the master through Sentinels written as Celery writes them', () => {
    const url = parseBrokerUrl('sentinel://:masterpw@s1:26379/1;sentinel://:masterpw@s2:26380/1');
    const o = redisOptions(url, transport({ master_name: 'cluster-a' }), undefined);
    expect(o.sentinels).toEqual([{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }]);
    expect(o).toMatchObject({ name: 'cluster-a', password: 'masterpw', db: 1 });
    // kombu's URL password is the master's; Sentinels get credentials only from sentinel_kwargs.
    expect(o.sentinelPassword).toBeUndefined();
    const withKwargs = redisOptions(url, transport({ master_name: 'cluster-a', sentinel_kwargs: "{'password': 'sentpw'}" }), undefined);
    expect(withKwargs.sentinelPassword).toBe('sentpw');
    expect(redisOptions(parseBrokerUrl('sentinel://s1;sentinel://s2'), transport(), undefined)).toMatchObject({ name: 'mymaster', sentinels: [{ port: 26379 }, { port: 26379 }] });
  });

  it('also listens where kombu < 5.4 publishes events on Sentinel: a literal /{db}. prefix', () => {
    expect(redisEventChannels(2, 'celeryev', transport(), true)).toEqual({ patterns: ['/2.celeryev/*', '/{db}.celeryev/*'], channels: ['/2.celeryev', '/{db}.celeryev'] });
    expect(redisEventChannels(2, 'celeryev', { ...transport(), fanoutPrefix: false }, true).patterns).toEqual(['celeryev/*']);
    expect(redisEventChannels(2, 'celeryev', transport(), false).patterns).toEqual(['/2.celeryev/*']);
  });

  it('reads sentinel_kwargs as JSON or as a Python dict, and ignores anything else', () => {
    expect(sentinelCredentials('{"username": "u", "password": "p"}')).toEqual({ username: 'u', password: 'p' });
    expect(sentinelCredentials("{'password': 'p'}")).toEqual({ username: undefined, password: 'p' });
    expect(sentinelCredentials('not a dict')).toEqual({ username: undefined, password: undefined });
    expect(sentinelCredentials(undefined)).toEqual({ username: undefined, password: undefined });
  });
});

describe('AMQP connection options', () => {
  it('defaults to guest on the default vhost, as kombu does', () => {
    const o = amqpConnectOptions(parseBrokerUrl('amqp://rabbit'), undefined, 'test');
    expect(o.connect).toMatchObject({ protocol: 'amqp', hostname: 'rabbit', port: 5672, username: 'guest', password: 'guest', vhost: '/' });
    // Small requests go out at once (Nagle held each passive declare ~40 ms: bench/, scrape phase).
    expect(o.socket.noDelay).toBe(true);
  });

  it('passes credentials and the vhost from the path', () => {
    expect(amqpConnectOptions(parseBrokerUrl('amqp://u:p%2Fw@rabbit:5673/prod'), undefined, 'test').connect).toMatchObject({
      username: 'u',
      password: 'p/w',
      port: 5673,
      vhost: 'prod',
    });
    expect(amqpConnectOptions(parseBrokerUrl('pyamqp://u:p@rabbit//'), undefined, 'test').connect.vhost).toBe('/');
  });

  it('speaks TLS for amqps:// with the CA, certificate and key files', () => {
    const o = amqpConnectOptions(parseBrokerUrl('amqps://u:p@rabbit/%2F'), pem, 'test');
    expect(o.connect).toMatchObject({ protocol: 'amqps', port: 5671, vhost: '/' });
    expect([o.socket.ca, o.socket.cert, o.socket.key].map(String)).toEqual(['CA-PEM', 'CERT-PEM', 'KEY-PEM']);
    // Plain amqp:// never reads the files.
    expect(amqpConnectOptions(parseBrokerUrl('amqp://u:p@rabbit//'), pem, 'test').socket.ca).toBeUndefined();
  });
});

describe('broker settings', () => {
  it('names brokers without credentials, for the `broker` label', () => {
    const c = config(['--broker-url', 'redis://u:topsecret1@r1:6379/2', '--broker-url', 'amqp://u:topsecret2@q1/prod', '--broker-url', 'x=sentinel://:topsecret3@s1;sentinel://:topsecret3@s2']);
    expect(c.brokers.map((b) => b.name)).toEqual(['r1:6379/2', 'q1:5672/prod', 'x']);
    expect(JSON.stringify(c.brokers.map((b) => [b.name, b.url.display]))).not.toMatch(/topsecret/);
  });

  it('assigns --queues to every broker, or to one with BROKER=NAME', () => {
    const c = config(['--broker-url', 'a=redis://h/0', '--broker-url', 'b=amqp://h//', '--queues', 'celery', '--queues', 'b=reports', '--queues', 'x=y']);
    expect(c.queues).toEqual({ a: ['celery', 'x=y'], b: ['celery', 'reports', 'x=y'] });
    expect(errorOf(() => config(['--queues', 'bad name']))).toMatch(/--queues/);
  });

  it('attaches the management API to the AMQP broker, credentials kept apart', () => {
    const c = config(['--broker-url', 'amqp://h//', '--rabbitmq-management-url', 'https://mon:mgmtpw@h:15671/rmq/']);
    const endpoint = c.rabbitmqManagement['h:5672'];
    expect(endpoint).toMatchObject({ baseUrl: 'https://h:15671/rmq', username: 'mon', password: 'mgmtpw', display: 'https://mon:****@h:15671/rmq/' });
    const two = ['--broker-url', 'a=amqp://h1//', '--broker-url', 'b=amqp://h2//'];
    expect(errorOf(() => config([...two, '--rabbitmq-management-url', 'http://u:mgmtpw@h:15672']))).toMatch(/several AMQP brokers/);
    expect(Object.keys(config([...two, '--rabbitmq-management-url', 'b=http://h2:15672']).rabbitmqManagement)).toEqual(['b']);
    expect(errorOf(() => config(['--rabbitmq-management-url', 'http://u:mgmtpw@h:15672']))).toMatch(/no amqp/);
    for (const bad of ['ftp://u:mgmtpw@h', 'nonsense:mgmtpw@']) {
      const message = errorOf(() => config(['--broker-url', 'amqp://h//', '--rabbitmq-management-url', bad]));
      expect(message).toMatch(/--rabbitmq-management-url/);
      expect(message).not.toContain('mgmtpw');
    }
  });

  it('checks TLS files once at start-up', () => {
    expect(config(['--broker-tls-ca', pem.ca, '--broker-tls-cert', pem.cert, '--broker-tls-key', pem.key]).tls).toEqual(pem);
    expect(errorOf(() => config(['--broker-tls-ca', '/nonexistent/ca.pem']))).toMatch(/--broker-tls-ca: cannot read/);
    expect(errorOf(() => config(['--broker-tls-cert', pem.cert]))).toMatch(/give both or neither/);
  });

  it('turns queue metrics off with --no-queue-metrics and bounds the wait', () => {
    expect(config([]).queueMetrics).toBe(true);
    expect(config(['--no-queue-metrics']).queueMetrics).toBe(false);
    expect(config([]).queueMetricsTimeout).toBe(2);
    expect(config(['--queue-metrics-timeout', '500ms']).queueMetricsTimeout).toBe(0.5);
    expect(loadConfig([], { CELERY_PULSE_QUEUE_METRICS: 'false' })).toMatchObject({ config: { queueMetrics: false } });
  });

  it('scrubs every configured password from log lines', () => {
    const c = config([
      '--broker-url', 'redis://:brokerpw1@r:6379/0',
      '--broker-url', 'q=amqp://u:brokerpw2@q//',
      '--rabbitmq-management-url', 'q=http://mon:mgmtpw3@q:15672',
      '--broker-transport-option', 'sentinel_kwargs={"password": "sentpw4"}',
    ]);
    expect(configSecrets(c).sort()).toEqual(['brokerpw1', 'brokerpw2', 'mgmtpw3', 'sentpw4']);
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', configSecrets(c), sink);
    logger.warn({ err: 'AUTH failed for brokerpw1', detail: 'mgmtpw3 sentpw4' }, 'broker q said brokerpw2');
    logger.flush();
    expect(out).toContain('broker q said');
    expect(out).not.toMatch(/brokerpw1|brokerpw2|mgmtpw3|sentpw4/);
  });
});
