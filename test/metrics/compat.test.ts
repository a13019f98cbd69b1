import { describe, expect, it } from 'vitest';
import { serialize } from '../../src/http/exposition.js';
import type { TaskEvent } from '../../src/protocol/events.js';
import type { ExemplarSource } from '../../src/metrics/exemplars.js';
import { loadConfig } from '../../src/config/config.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import { CeleryState } from '../../src/state/machine.js';
import { taskEvent as ev } from '../fixtures/events.js';

// --celery-exporter-compat: celery-exporter's histogram names and its zero-initialised counters,
// next to ours and without changing them; nothing of it without the flag.

const T0 = 1_795_310_000;


async function run(compat: boolean, exemplars?: ExemplarSource): Promise<string> {
  const metrics = new CeleryMetrics({
    runtimeBuckets: [0.1, 1, 10],
    queueWaitBuckets: [1, 10],
    defaultQueueName: 'celery',
    genericHostnameTaskSent: false,
    brokerLabel: false,
    version: 'test',
    celeryExporterCompat: compat,
  });
  const state = new CeleryState(metrics.forBroker('b', exemplars), { maxTasks: 100, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600 });
  const apply = (e: TaskEvent) => state.apply(e, e.timestamp);
  // Two successes (2 s and 0.5 s, each waited 3 s since task-sent), one failure after 0.5 s.
  for (const [i, uuid] of ['a', 'b'].entries()) {
    apply(ev('task-sent', uuid, T0, { name: 'app.ok', queue: 'default', hostname: 'gen1@client' }));
    apply(ev('task-received', uuid, T0 + 1, { name: 'app.ok' }));
    apply(ev('task-started', uuid, T0 + 3));
    apply(ev('task-succeeded', uuid, T0 + 5, { runtime: i === 0 ? 2 : 0.5 }));
  }
  apply(ev('task-received', 'c', T0, { name: 'app.fail' }));
  apply(ev('task-started', 'c', T0 + 0.1));
  apply(ev('task-failed', 'c', T0 + 0.6, { exception: "ValueError('x')" }));
  return serialize(metrics.registry, 'prometheus');
}

const lines = (text: string, prefix: string) => text.split('\n').filter((l) => l.startsWith(prefix)).sort();

describe('--celery-exporter-compat', () => {
  it("exposes celery-exporter's histograms by name, hostname and queue_name, runtimes of successes only", async () => {
    const text = await run(true);
    const ok = 'name="app.ok",hostname="w1@vm",queue_name="default"';
    expect(lines(text, 'celery_task_runtime_')).toEqual([
      `celery_task_runtime_bucket{le="+Inf",${ok}} 2`,
      `celery_task_runtime_bucket{le="0.1",${ok}} 0`,
      `celery_task_runtime_bucket{le="1",${ok}} 1`,
      `celery_task_runtime_bucket{le="10",${ok}} 2`,
      `celery_task_runtime_count{${ok}} 2`,
      `celery_task_runtime_seconds_bucket{le="+Inf",name="app.fail",queue_name="celery",outcome="failed"} 1`,
      `celery_task_runtime_seconds_bucket{le="+Inf",name="app.ok",queue_name="default",outcome="succeeded"} 2`,
      `celery_task_runtime_seconds_bucket{le="0.1",name="app.fail",queue_name="celery",outcome="failed"} 0`,
      `celery_task_runtime_seconds_bucket{le="0.1",name="app.ok",queue_name="default",outcome="succeeded"} 0`,
      `celery_task_runtime_seconds_bucket{le="1",name="app.fail",queue_name="celery",outcome="failed"} 1`,
      `celery_task_runtime_seconds_bucket{le="1",name="app.ok",queue_name="default",outcome="succeeded"} 1`,
      `celery_task_runtime_seconds_bucket{le="10",name="app.fail",queue_name="celery",outcome="failed"} 1`,
      `celery_task_runtime_seconds_bucket{le="10",name="app.ok",queue_name="default",outcome="succeeded"} 2`,
      `celery_task_runtime_seconds_count{name="app.fail",queue_name="celery",outcome="failed"} 1`,
      `celery_task_runtime_seconds_count{name="app.ok",queue_name="default",outcome="succeeded"} 2`,
      `celery_task_runtime_seconds_sum{name="app.fail",queue_name="celery",outcome="failed"} 0.5`,
      `celery_task_runtime_seconds_sum{name="app.ok",queue_name="default",outcome="succeeded"} 2.5`,
      `celery_task_runtime_sum{${ok}} 2.5`,
    ]);
    // Queue waits: 3 s from task-sent for app.ok; 0.1 s from task-received for app.fail (never sent).
    const fail = 'name="app.fail",hostname="w1@vm",queue_name="celery"';
    expect(lines(text, 'celery_task_queue_wait_time_count')).toEqual([`celery_task_queue_wait_time_count{${fail}} 1`, `celery_task_queue_wait_time_count{${ok}} 2`]);
    expect(lines(text, 'celery_task_queue_wait_time_bucket{le="1"')).toEqual([`celery_task_queue_wait_time_bucket{le="1",${fail}} 1`, `celery_task_queue_wait_time_bucket{le="1",${ok}} 0`]);
    expect(lines(text, 'celery_task_queue_wait_time_bucket{le="10"')).toEqual([`celery_task_queue_wait_time_bucket{le="10",${fail}} 1`, `celery_task_queue_wait_time_bucket{le="10",${ok}} 2`]);
    expect(lines(text, `celery_task_queue_wait_time_sum{${ok}}`)).toEqual([`celery_task_queue_wait_time_sum{${ok}} 6`]);
  });

  it("creates every outcome counter of a task at 0 when it is first seen, like celery-exporter (sent excepted)", async () => {
    const text = await run(true);
    const ok = 'name="app.ok",hostname="w1@vm",queue_name="default"';
    expect(lines(text, 'celery_task_failed_total')).toEqual([
      `celery_task_failed_total{name="app.fail",hostname="w1@vm",queue_name="celery",exception=""} 0`,
      `celery_task_failed_total{name="app.fail",hostname="w1@vm",queue_name="celery",exception="ValueError"} 1`,
      `celery_task_failed_total{${ok},exception=""} 0`,
    ]);
    expect(lines(text, 'celery_task_succeeded_total')).toEqual([
      `celery_task_succeeded_total{name="app.fail",hostname="w1@vm",queue_name="celery"} 0`,
      `celery_task_succeeded_total{${ok}} 2`,
    ]);
    expect(lines(text, 'celery_task_revoked_total')).toHaveLength(2);
    expect(lines(text, 'celery_task_retried_total')).toHaveLength(2);
    // Clients' node names are not multiplied into the other counters.
    expect(text).not.toContain('hostname="gen1@client",queue_name="default"} 0');
  });

  it('works the same with exemplars on (their counter takes a different inc call)', async () => {
    const text = await run(true, { exemplarFor: () => ({ trace_id: 'a'.repeat(32) }) });
    expect(lines(text, 'celery_task_failed_total')).toEqual(lines(await run(true), 'celery_task_failed_total'));
  });

  it('adds nothing without the flag', async () => {
    const text = await run(false);
    expect(text).not.toMatch(/^celery_task_runtime(_bucket|_sum|_count)\{/m);
    expect(text).not.toContain('celery_task_queue_wait_time');
    expect(text).not.toContain('exception=""');
    expect(lines(text, 'celery_task_succeeded_total')).toEqual([`celery_task_succeeded_total{name="app.ok",hostname="w1@vm",queue_name="default"} 2`]);
  });
});

describe('the --celery-exporter-compat flag', () => {
  const compat = (argv: string[], env: NodeJS.ProcessEnv = {}): boolean => {
    const r = loadConfig(argv, env);
    if (r.action !== 'run') throw new Error(r.action);
    return r.config.celeryExporterCompat;
  };

  it('is off by default, on with the flag or its environment twin, and rejects other values', () => {
    expect(compat([])).toBe(false);
    expect(compat(['--celery-exporter-compat'])).toBe(true);
    expect(compat([], { CELERY_PULSE_CELERY_EXPORTER_COMPAT: 'true' })).toBe(true);
    expect(compat(['--no-celery-exporter-compat'], { CELERY_PULSE_CELERY_EXPORTER_COMPAT: 'true' })).toBe(false);
    expect(() => compat(['--celery-exporter-compat=maybe'])).toThrow(/--celery-exporter-compat/);
  });
});
