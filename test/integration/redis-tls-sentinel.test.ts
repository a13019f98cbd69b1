// Redis reached the harder ways Celery users write: through Sentinel (a real redis-server master
// with a password and a real Sentinel) and over mutual TLS (a real redis-server with a private CA
// that requires client certificates). Real Celery clients publish; exact counts come out.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeCertificates } from '../kit/certificates.js';
import { Proc, freePort, runWorkload, startDaemon, waitFor } from './harness.js';
import type { DaemonProc } from './harness.js';

const IDLE = 'pulse.idle';
const MASTER_PASSWORD = 'M4ster-pw';

function redisCli(args: string[]): string {
  try {
    return execFileSync('redis-cli', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

describe('Redis through Sentinel and over mutual TLS', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-tls-sentinel-'));
  const procs: Proc[] = [];
  const daemons: DaemonProc[] = [];
  let sentinelUrl = '';
  let tlsUrl = '';
  let certs: ReturnType<typeof makeCertificates>;

  beforeAll(async () => {
    certs = makeCertificates(dir);
    const [masterPort, sentinelPort, tlsPort] = [await freePort(), await freePort(), await freePort()];
    procs.push(new Proc('redis-server', ['--port', String(masterPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--requirepass', MASTER_PASSWORD]));
    writeFileSync(
      join(dir, 'sentinel.conf'),
      [`port ${sentinelPort}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor pulsemaster 127.0.0.1 ${masterPort} 1`, `sentinel auth-pass pulsemaster ${MASTER_PASSWORD}`, ''].join('\n'),
    );
    procs.push(new Proc('redis-server', [join(dir, 'sentinel.conf'), '--sentinel']));
    procs.push(
      new Proc('redis-server', [
        '--port', '0', '--tls-port', String(tlsPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
        '--tls-cert-file', certs.serverCert, '--tls-key-file', certs.serverKey, '--tls-ca-cert-file', certs.ca, '--tls-auth-clients', 'yes',
      ]),
    );
    await waitFor('the master, its Sentinel and the TLS server', () => {
      const master = redisCli(['-p', String(masterPort), '-a', MASTER_PASSWORD, '--no-auth-warning', 'PING']) === 'PONG';
      const sentinel = redisCli(['-p', String(sentinelPort), 'SENTINEL', 'get-master-addr-by-name', 'pulsemaster']).includes(String(masterPort));
      const tls = redisCli(['-p', String(tlsPort), '--tls', '--cacert', certs.ca, '--cert', certs.clientCert, '--key', certs.clientKey, 'PING']) === 'PONG';
      return master && sentinel && tls;
    }, 20_000);
    sentinelUrl = `sentinel://:${MASTER_PASSWORD}@127.0.0.1:${sentinelPort}/0;sentinel://:${MASTER_PASSWORD}@127.0.0.1:${await freePort()}/0`;
    tlsUrl = `rediss://127.0.0.1:${tlsPort}/0`;
  });

  afterAll(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('finds the master through Sentinel, a dead Sentinel listed beside the live one', async () => {
    const daemon = await startDaemon(['--broker-url', sentinelUrl, '--broker-transport-option', 'master_name=pulsemaster', '--queues', IDLE, '--log-level', 'debug']);
    daemons.push(daemon);
    await runWorkload(sentinelUrl, 'to_queue', { PULSE_MASTER_NAME: 'pulsemaster', PULSE_QUEUE: IDLE, PULSE_COUNT: '6' });
    const m = await waitFor('the task-sent events and the queue', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_sent_total', { queue_name: IDLE }) === 6 && cur.value('celery_queue_length', { queue_name: IDLE }) === 6 ? cur : undefined;
    });
    expect(m.value('celery_pulse_broker_up')).toBe(1);
    expect(m.value('celery_pulse_decode_errors_total')).toBe(0);
    expect(daemon.proc.output).not.toContain(MASTER_PASSWORD);
    expect(await daemon.scrape()).not.toContain(MASTER_PASSWORD);
  });

  it('speaks mutual TLS with the CA, certificate and key flags', async () => {
    const tlsArgs = ['--broker-tls-ca', certs.ca, '--broker-tls-cert', certs.clientCert, '--broker-tls-key', certs.clientKey];
    const daemon = await startDaemon(['--broker-url', tlsUrl, ...tlsArgs, '--queues', IDLE, '--log-level', 'warn']);
    daemons.push(daemon);
    await runWorkload(tlsUrl, 'to_queue', { PULSE_SSL_CA: certs.ca, PULSE_SSL_CERT: certs.clientCert, PULSE_SSL_KEY: certs.clientKey, PULSE_QUEUE: IDLE, PULSE_COUNT: '10' });
    const m = await waitFor('the task-sent events and the queue over TLS', async () => {
      const cur = await daemon.metrics();
      return cur.value('celery_task_sent_total', { queue_name: IDLE }) === 10 && cur.value('celery_queue_length', { queue_name: IDLE }) === 10 ? cur : undefined;
    });
    expect(m.value('celery_pulse_queue_scrape_success')).toBe(1);
    // Without the client certificate the server refuses the handshake: never up, and said so.
    const refused = await startDaemon(['--broker-url', tlsUrl, '--broker-tls-ca', certs.ca, '--log-level', 'warn'], {}, { waitReady: false });
    daemons.push(refused);
    const r = await waitFor('a failed queue scrape', async () => {
      const cur = await refused.metrics();
      return cur.value('celery_pulse_queue_scrape_success') === 0 ? cur : undefined;
    });
    expect(r.value('celery_pulse_broker_up')).toBe(0);
  });
});
