// Every flag and every metric family the daemon serves is documented in the README: checked
// against a real daemon with each optional family turned on (traces, celery-exporter's histograms,
// sidecar filtering, an expected periodic task, queue metrics) on a real redis-server.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FLAGS } from '../../src/config/flags.js';
import { ROOT, startDaemon, startRedis } from './harness.js';
import type { DaemonProc, RedisServer } from './harness.js';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
/** The first cell of every table row of the README. */
const firstCells = [...README.matchAll(/^\|([^|\n]*)\|/gm)].map((m) => m[1]!);
/** Backquoted names in those cells: metric names, and flags (`--name VALUE`, `--a`, `--no-a`). */
const documented = new Set(firstCells.flatMap((c) => [...c.matchAll(/`([^`]+)`/g)].map((m) => m[1]!)));
const documentedFlags = new Set([...documented].flatMap((d) => [...d.matchAll(/(?:^|\s|,)(--[a-z][a-z-]*)/g)].map((m) => m[1]!)));

describe('the README documents what the daemon has', () => {
  let redis: RedisServer;
  let daemon: DaemonProc;
  let families: string[];

  beforeAll(async () => {
    redis = await startRedis();
    daemon = await startDaemon([
      '--broker-url', redis.url, '--log-level', 'warn',
      '--traces', '--otlp-endpoint', 'http://127.0.0.1:9', '--celery-exporter-compat',
      '--only-worker', 'celery@*', '--expect-task', 'app.nightly=1d', '--queues', 'celery',
    ]);
    const text = await daemon.scrape();
    families = [...text.matchAll(/^# HELP (\S+) /gm)].map((m) => m[1]!);
  });

  afterAll(async () => {
    await daemon?.stop();
    await redis?.stop();
  });

  it('every flag, in the flags table', () => {
    expect(FLAGS.length).toBeGreaterThan(30);
    expect(FLAGS.map((f) => f.name).filter((name) => !documentedFlags.has(`--${name}`))).toEqual([]);
  });

  it('every metric family served, in a metrics table (prom-client\'s process_* and nodejs_* in one row)', () => {
    expect(families.length).toBeGreaterThan(60);
    expect(families).toContain('celery_pulse_event_loop_busy_seconds_total');
    expect(families).toContain('celery_pulse_messages_filtered_total');
    const covered = (n: string): boolean => documented.has(n) || (/^(process|nodejs)_/.test(n) && documented.has(`${n.split('_')[0]!}_*`));
    expect(families.filter((n) => !covered(n))).toEqual([]);
  });
});
