// RabbitMQ over mutual TLS: a real rabbitmq-server with an AMQPS listener that requires a client
// certificate from a private CA. The daemon consumes events and reads queue depth over amqps://
// with the --broker-tls-* files, while a real Celery client publishes over plain AMQP to the same
// node; exact counts come out. Without a client certificate the handshake is refused, and the
// daemon says so instead of pretending to be connected.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../kit/certificates.js';
import type { Certificates } from '../kit/certificates.js';
import { runWorkload, startDaemon, startRabbit, waitFor } from './harness.js';
import type { DaemonProc, RabbitServer } from './harness.js';

const IDLE = 'pulse.idle';

describe('RabbitMQ over mutual TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-amqps-'));
  const daemons: DaemonProc[] = [];
  let certs: Certificates;
  let rabbit: RabbitServer;

  beforeAll(async () => {
    certs = makeCertificates(dir);
    rabbit = await startRabbit({ tls: certs });
  });

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await rabbit?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('consumes events and reads queue depth over amqps:// with the CA, certificate and key flags', async () => {
    const tlsArgs = ['--broker-tls-ca', certs.ca, '--broker-tls-cert', certs.clientCert, '--broker-tls-key', certs.clientKey];
    const daemon = await startDaemon(['--broker-url', rabbit.tlsUrl!, ...tlsArgs, '--queues', IDLE, '--log-level', 'warn']);
    daemons.push(daemon);
    await runWorkload(rabbit.url, 'to_queue', { PULSE_QUEUE: IDLE, PULSE_COUNT: '10' });
    const m = await waitFor('the task-sent events and the queue over TLS', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_sent_total', { queue_name: IDLE }) === 10 && cur.value('celery_queue_length', { queue_name: IDLE }) === 10 ? cur : undefined;
    });
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.value('celery_pulse_queue_scrape_success')).toBe(1);
    // The server really is speaking TLS to the daemon: its connections say so (the management
    // plugin lists a connection once its stats were first emitted, within seconds).
    type Connection = { ssl: boolean; port: number; client_properties?: Record<string, unknown> };
    const ours = await waitFor('the daemon\'s connections in the management API', async () => {
      const connections = (await rabbit.api('GET', '/api/connections')) as Connection[];
      const found = connections.filter((c) => String(c.client_properties?.['connection_name'] ?? '').startsWith('celery-pulse'));
      return found.length >= 2 ? found : undefined;
    });
    expect(ours.map((c) => c.client_properties?.['connection_name']).sort()).toEqual(['celery-pulse-events', 'celery-pulse-queues']);
    for (const c of ours) {
      expect(c.ssl).toBe(true);
      expect(c.port).toBe(rabbit.tlsPort);
    }
  });

  it("verifies the broker's certificate unless celery-exporter's cert_reqs=CERT_NONE says not to", async () => {
    // No CA given: the test CA is not among the system's, so a verifying client refuses the broker.
    const client = ['--broker-ssl-option', `certfile=${certs.clientCert}`, '--broker-ssl-option', `keyfile=${certs.clientKey}`];
    const verifying = await startDaemon(['--broker-url', rabbit.tlsUrl!, ...client, '--no-queue-metrics', '--log-level', 'warn'], {}, { waitReady: false });
    daemons.push(verifying);
    await waitFor('a refused handshake', () => /"err":"[^"]*(certificate|self[- ]signed)[^"]*","msg":"could not start consuming Celery events"/i.test(verifying.proc.output));
    expect((await verifying.metrics()).value('celery_pulse_broker_up')).toBe(0);
    const trusting = await startDaemon(['--broker-url', rabbit.tlsUrl!, ...client, '--broker-ssl-option', 'cert_reqs=CERT_NONE', '--no-queue-metrics', '--log-level', 'info']);
    daemons.push(trusting);
    expect((await trusting.metrics()).value('celery_pulse_broker_up')).toBe(1);
    expect(trusting.proc.output).toMatch(/"level":(40|"warn")[^\n]*"msg":"--broker-ssl-option cert_reqs=CERT_NONE: the broker certificate is not verified/);
  });

  it('is never up without a client certificate: the server refuses the handshake', async () => {
    const refused = await startDaemon(['--broker-url', rabbit.tlsUrl!, '--broker-tls-ca', certs.ca, '--queues', IDLE, '--log-level', 'warn'], {}, { waitReady: false });
    daemons.push(refused);
    const r = await waitFor('a failed queue scrape', async () => {
      const cur = await refused.metrics();
      return cur.value('celery_pulse_queue_scrape_success') === 0 ? cur : undefined;
    });
    expect(r.value('celery_pulse_broker_up')).toBe(0);
    // Said in a line an operator can act on (at each retry, backing off), the broker named, its password not.
    expect(refused.proc.output).toMatch(/"err":"[^"]*certificate required[^"]*","msg":"could not start consuming Celery events"/);
    expect(refused.proc.output).toContain(`"broker":"127.0.0.1:${rabbit.tlsPort}"`);
    expect(refused.proc.output).not.toContain('guest:guest');
  });
});
