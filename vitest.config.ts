import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

// Integration tests start real brokers and Celery workers, so they run a few files at a time on
// these 2-core machines and get generous timeouts.
const integration = { testTimeout: 180_000, hookTimeout: 120_000, pool: 'forks', maxWorkers: 2 } as const;

// Current Celery's interpreter: the venv .ci/celery.sh builds (same default path), or another.
const currentCeleryPython =
  process.env['CELERY_PULSE_TEST_PYTHON_CURRENT'] ?? join(process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'celery-pulse', 'celery5.6.3', 'bin', 'python');

// The tests that assert exact counts against real workers (and the Beat alarm, with a real Beat),
// and those on behaviour that changed in Celery 5.5+, run a second time against current Celery
// (the first run uses Debian's 5.2).
const exactCountFiles = [
  'redis-pipeline', 'amqp-pipeline', 'traces', 'traces-amqp', 'two-brokers', 'redis-queues',
  'detectors-worker-loss', 'detectors-redelivery', 'detectors-periodic', 'task-seeding', 'beat-stopped', 'celery-*',
].map((f) => `test/integration/${f}.test.ts`);
// Behaviour Debian's Celery 5.2 does not have (soft shutdown, native delayed delivery): current Celery only.
const celery55Files = ['test/integration/celery55-*.test.ts'];

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**'],
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: celery55Files,
          globalSetup: ['test/integration/celery-under-test.ts'],
          ...integration,
        },
      },
      {
        test: {
          name: 'integration-celery-current',
          include: [...exactCountFiles, ...celery55Files],
          env: { CELERY_PULSE_TEST_PYTHON: currentCeleryPython },
          globalSetup: ['test/integration/celery-under-test.ts'],
          // After the other projects, so the machine runs no more integration files at once than before.
          sequence: { groupOrder: 1 },
          ...integration,
        },
      },
    ],
  },
});
