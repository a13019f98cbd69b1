import { describe, expect, it } from 'vitest';
import { taskMetrics } from '../kit/task-metrics.js';
import { serialize } from '../../src/http/exposition.js';
import type { ExemplarSource } from '../../src/metrics/exemplars.js';
import { taskEvent as ev } from '../fixtures/events.js';

// The metrics observer with and without an exemplar source: counts must be identical, and only
// the traced build writes exemplars (the observer picks its calls at construction).

const T0 = 1_795_310_000;

async function run(exemplars: ExemplarSource | undefined): Promise<{ prom: string; om: string }> {
  const { metrics, apply } = taskMetrics(exemplars);
  for (const [i, uuid] of ['a', 'b', 'c'].entries()) {
    apply(ev('task-received', uuid, T0 + i, { name: 'app.fail' }));
    apply(ev('task-started', uuid, T0 + i + 0.1));
    apply(ev('task-failed', uuid, T0 + i + 0.6, { exception: "ValueError('x')" }));
  }
  apply(ev('task-received', 'd', T0, { name: 'app.ok' }));
  apply(ev('task-started', 'd', T0 + 0.1));
  apply(ev('task-succeeded', 'd', T0 + 2, { runtime: 2 }));
  return { prom: await serialize(metrics.registry, 'prometheus'), om: await serialize(metrics.registry, 'openmetrics') };
}

const series = (text: string) => text.split('\n').filter((l) => /^celery_task_(failed_total|runtime_seconds_(bucket|count))\{/.test(l)).map((l) => l.split(' #')[0]);

describe('exemplars on celery_task_runtime_seconds and celery_task_failed_total', () => {
  it('writes the source\'s trace ids as exemplars in OpenMetrics, with the same counts as without', async () => {
    const source: ExemplarSource = { exemplarFor: (task) => (task.uuid === 'c' ? undefined : { trace_id: `${task.uuid.repeat(32)}` }) };
    const traced = await run(source);
    const plain = await run(undefined);
    expect(series(traced.prom)).toEqual(series(plain.prom));
    expect(traced.prom).toContain('celery_task_failed_total{name="app.fail",hostname="w1@vm",queue_name="celery",exception="ValueError"} 3\n');
    expect(traced.prom).not.toContain('trace_id');
    // The last failure with a trace (b) is the counter's exemplar; c's trace was sampled out.
    expect(traced.om).toMatch(new RegExp(`celery_task_failed_total\\{name="app.fail",[^}]*\\} 3 # \\{trace_id="${'b'.repeat(32)}"\\} 1 \\d`));
    expect(traced.om).toMatch(new RegExp(`celery_task_runtime_seconds_bucket\\{le="1",name="app.fail",queue_name="celery",outcome="failed"\\} 3 # \\{trace_id="${'b'.repeat(32)}"\\} 0.5`));
    expect(traced.om).toMatch(new RegExp(`celery_task_runtime_seconds_bucket\\{le="10",name="app.ok",queue_name="celery",outcome="succeeded"\\} 1 # \\{trace_id="${'d'.repeat(32)}"\\} 2 `));
    expect(plain.om).not.toContain('trace_id');
  });
});
