// celery_active_worker_count and celery_active_process_count (celery-exporter's per-queue worker
// gauges), gathered by the daemon's background pidbox inspection (active_queues, stats) with
// replies, from real Celery workers on a real redis-server and a real rabbitmq-server.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDaemon, startRabbit, startRedis, startWorker, waitFor } from './harness.js';
import type { CeleryWorker, DaemonProc, Metrics } from './harness.js';

// Worker A: concurrency 2 on q.alpha and q.beta; worker B: concurrency 3 on q.beta only.
// q.idle is named with --queues and consumed by nobody.
const EXPECTED = {
  'q.alpha': { workers: 1, processes: 2 },
  'q.beta': { workers: 2, processes: 5 },
  'q.idle': { workers: 0, processes: 0 },
} as const;

function figures(m: Metrics): Record<string, { workers: number; processes: number }> {
  const out: Record<string, { workers: number; processes: number }> = {};
  for (const s of m.find('celery_active_worker_count')) out[s.labels['queue_name']!] = { workers: s.value, processes: m.value('celery_active_process_count', { queue_name: s.labels['queue_name']! }) };
  return out;
}

// The third case: kombu's global_keyprefix (celery-exporter's README example), which prefixes
// the reply binding set and the reply list on Redis.
const CASES = [
  { kind: 'redis', keyprefix: undefined },
  { kind: 'rabbitmq', keyprefix: undefined },
  { kind: 'redis', keyprefix: 'danihodovic' },
] as const;

for (const { kind, keyprefix } of CASES) {
  describe(`worker inspection on ${kind}${keyprefix ? ` with global_keyprefix=${keyprefix}` : ''}`, () => {
    let broker: { url: string; stop(): Promise<void>; cli?: (...args: string[]) => string; ctl?: (...args: string[]) => string; api?: (method: string, path: string) => Promise<unknown> };
    let daemon: DaemonProc;
    const workers: CeleryWorker[] = [];

    beforeAll(async () => {
      broker = kind === 'redis' ? await startRedis() : await startRabbit();
      const env = keyprefix ? { PULSE_KEYPREFIX: keyprefix } : {};
      const prefixArgs = keyprefix ? ['--broker-transport-option', `global_keyprefix=${keyprefix}`] : [];
      workers.push(await startWorker({ broker: broker.url, name: 'inspect-a@%h', concurrency: 2, queues: ['q.alpha', 'q.beta'], env }));
      workers.push(await startWorker({ broker: broker.url, name: 'inspect-b@%h', concurrency: 3, queues: ['q.beta'], env }));
      daemon = await startDaemon(['--broker-url', broker.url, ...prefixArgs, '--queues', 'q.idle', '--inspect-interval', '1s', '--inspect-timeout', '1s', '--log-level', 'warn']);
    }, 120_000);

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.stop()));
      await daemon?.stop();
      await broker?.stop();
    });

    it('counts the workers and pool processes of each queue, and keeps a queue nobody consumes at 0', async () => {
      const got = await waitFor('both workers inspected', async () => {
        const f = figures(await daemon.metrics());
        return f['q.beta']?.workers === 2 ? f : undefined;
      }, 30_000);
      expect(got).toEqual(EXPECTED);
    });

    it('answers a scrape without asking the workers (the figures are the last inspection\'s)', async () => {
      // Asking inline would wait out --inspect-timeout (1 s) for active_queues replies: a scrape
      // that returns sooner did not ask.
      const started = performance.now();
      const m = await daemon.metrics();
      expect(performance.now() - started).toBeLessThan(1000);
      expect(figures(m)).toEqual(EXPECTED);
    });

    if (kind === 'redis') {
      it('leaves no reply binding or reply list behind (at most the one of an inspection in flight)', () => {
        const prefix = keyprefix ?? '';
        const members = broker.cli!('SMEMBERS', `${prefix}_kombu.binding.reply.celery.pidbox`).split('\n').filter((l) => l.trim() !== '');
        expect(members.length).toBeLessThanOrEqual(1);
        const lists = broker.cli!('KEYS', `${prefix}*.reply.celery.pidbox`).split('\n').filter((l) => l.trim() !== '');
        expect(lists.length).toBeLessThanOrEqual(1);
      });
    }

    if (kind === 'rabbitmq') {
      it('leaves no reply queue behind on RabbitMQ, round after round (at most the one of an inspection in flight)', async () => {
        type Overview = { churn_rates?: { queue_created?: number } };
        const created = async (): Promise<number> => ((await broker.api!('GET', '/api/overview')) as Overview).churn_rates?.queue_created ?? 0;
        const queues = (): string[] => broker.ctl!('list_queues', '--quiet', '--no-table-headers', 'name').split('\n').map((l) => l.trim()).filter((l) => l !== '');
        const isReply = (name: string): boolean => name.endsWith('.reply.celery.pidbox');
        const others = queues().filter((q) => !isReply(q)).sort();
        const before = await created();
        // Each rabbitmqctl call takes ~2 s: five looks span several 1 s inspection rounds. Each
        // shows at most the reply queue of the round in flight, and no other queue appears.
        for (let look = 0; look < 5; look++) {
          const now = queues();
          expect(now.filter(isReply).length, `look ${look}: ${now.join(' ')}`).toBeLessThanOrEqual(1);
          expect(now.filter((q) => !isReply(q)).sort()).toEqual(others);
        }
        // The rounds did run, each with a reply queue of its own (the management API's counts of
        // created queues are sampled: read until they show).
        await waitFor('the broker to account for the rounds', async () => (await created()) - before >= 6, 20_000, 1000);
      });
    }

    it('follows a worker that stops', async () => {
      await workers.pop()!.stop();
      const got = await waitFor('worker B gone from the figures', async () => {
        const f = figures(await daemon.metrics());
        return f['q.beta']?.workers === 1 ? f : undefined;
      }, 30_000);
      expect(got).toEqual({ ...EXPECTED, 'q.beta': { workers: 1, processes: 2 } });
    });
  });
}
