import { describe, expect, it } from 'vitest';
import { taskMetrics } from '../../kit/task-metrics.js';
import { serialize } from '../../../src/http/exposition.js';
import type { ExemplarSource } from '../../../src/metrics/exemplars.js';
import { parseMetrics } from '../../kit/metrics-text.js';
import { taskEvent as ev } from '../../fixtures/events.js';

// celery_task_runtime_seconds by outcome: a burst of fast retries lands under outcome="retried"
// and leaves the succeeded runtimes (the ones CeleryTaskDurationAnomaly watches) as they were.

const T0 = 1_795_310_000;

async function run(exemplars?: ExemplarSource) {
  const { metrics, apply } = taskMetrics(exemplars);
  // Task a: three attempts retried after 50 ms each, then a 5 s success. Task b: a 5 s success.
  // Task c: fails after 2 s.
  let t = T0;
  apply(ev('task-received', 'a', t, { name: 'app.sync' }));
  for (let retry = 0; retry < 3; retry++) {
    if (retry > 0) apply(ev('task-received', 'a', t, { name: 'app.sync', retries: retry }));
    apply(ev('task-started', 'a', t + 0.01));
    apply(ev('task-retried', 'a', t + 0.06, { exception: "ConnectionError('x')" }));
    t += 1;
  }
  apply(ev('task-received', 'a', t, { name: 'app.sync', retries: 3 }));
  apply(ev('task-started', 'a', t + 0.01));
  apply(ev('task-succeeded', 'a', t + 5.01, { runtime: 5 }));
  apply(ev('task-received', 'b', t, { name: 'app.sync' }));
  apply(ev('task-started', 'b', t + 0.01));
  apply(ev('task-succeeded', 'b', t + 5.01, { runtime: 5 }));
  apply(ev('task-received', 'c', t, { name: 'app.sync' }));
  apply(ev('task-started', 'c', t + 0.01));
  apply(ev('task-failed', 'c', t + 2.01, { exception: "ValueError('x')" }));
  return { prom: parseMetrics(await serialize(metrics.registry, 'prometheus')), om: await serialize(metrics.registry, 'openmetrics') };
}

describe('celery_task_runtime_seconds by outcome', () => {
  it('counts each finished attempt once, under the outcome it ended with', async () => {
    const { prom: m } = await run();
    const sync = { name: 'app.sync', queue_name: 'celery' };
    expect(m.value('celery_task_runtime_seconds_count', { ...sync, outcome: 'retried' })).toBe(3);
    expect(m.value('celery_task_runtime_seconds_count', { ...sync, outcome: 'succeeded' })).toBe(2);
    expect(m.value('celery_task_runtime_seconds_count', { ...sync, outcome: 'failed' })).toBe(1);
    expect(m.value('celery_task_runtime_seconds_count')).toBe(6);
    // The retries are all under 100 ms; no success is.
    expect(m.value('celery_task_runtime_seconds_bucket', { ...sync, outcome: 'retried', le: '0.1' })).toBe(3);
    expect(m.value('celery_task_runtime_seconds_bucket', { ...sync, outcome: 'succeeded', le: '1' })).toBe(0);
    expect(m.value('celery_task_runtime_seconds_bucket', { ...sync, outcome: 'succeeded', le: '10' })).toBe(2);
    expect(m.value('celery_task_runtime_seconds_sum', { ...sync, outcome: 'succeeded' })).toBe(10);
    expect(m.value('celery_task_runtime_seconds_sum', { ...sync, outcome: 'failed' })).toBe(2);
  });

  it('puts each exemplar on the series of its outcome, with the same counts as without exemplars', async () => {
    const source: ExemplarSource = { exemplarFor: (task) => ({ trace_id: task.uuid.repeat(32) }) };
    const traced = await run(source);
    const plain = await run();
    expect(traced.prom.series.filter((s) => s.name.startsWith('celery_task_runtime_seconds'))).toEqual(plain.prom.series.filter((s) => s.name.startsWith('celery_task_runtime_seconds')));
    expect(traced.om).toMatch(new RegExp(`celery_task_runtime_seconds_bucket\\{le="0.1",name="app.sync",queue_name="celery",outcome="retried"\\} 3 # \\{trace_id="${'a'.repeat(32)}"\\} 0\\.0\\d+ `));
    expect(traced.om).toMatch(new RegExp(`celery_task_runtime_seconds_bucket\\{le="10",name="app.sync",queue_name="celery",outcome="succeeded"\\} 2 # \\{trace_id="${'b'.repeat(32)}"\\} 5 `));
    expect(traced.om).toMatch(new RegExp(`celery_task_runtime_seconds_bucket\\{le="10",name="app.sync",queue_name="celery",outcome="failed"\\} 1 # \\{trace_id="${'c'.repeat(32)}"\\} 2`));
  });
});
