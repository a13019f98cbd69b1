import { Counter, Histogram, Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { negotiate, serialize } from '../../src/http/exposition.js';

function registry(): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const c = new Counter({ name: 'celery_task_failed_total', help: 'Failed "tasks"', labelNames: ['name', 'exception'], registers: [r], enableExemplars: true });
  // prom-client types exemplar labels as the metric's own label names; any names are valid in OpenMetrics.
  c.inc({ labels: { name: 'app.t', exception: 'ValueError' }, value: 2, exemplarLabels: { trace_id: 'abc' } as unknown as Record<'name', string> });
  const h = new Histogram({ name: 'celery_task_runtime_seconds', help: 'Runtime', labelNames: ['name'], buckets: [1, 5], registers: [r] });
  h.observe({ name: 'a"b\\c' }, 2);
  return r;
}

describe('serialize', () => {
  it('writes Prometheus text with counters keeping _total, and stays the same when called again', async () => {
    const r = registry();
    const once = await serialize(r, 'prometheus');
    expect(once).toContain('# TYPE celery_task_failed_total counter');
    expect(once).toContain('celery_task_failed_total{name="app.t",exception="ValueError"} 2\n');
    expect(once).toContain('celery_task_runtime_seconds_bucket{le="+Inf",name="a\\"b\\\\c"} 1');
    expect(once).not.toContain('# EOF');
    expect(once).not.toContain('trace_id');
    await serialize(r, 'openmetrics');
    expect(await serialize(r, 'prometheus')).toBe(once);
  });

  it('writes OpenMetrics with counter families without _total, exemplars and # EOF', async () => {
    const text = await serialize(registry(), 'openmetrics');
    expect(text).toContain('# TYPE celery_task_failed counter');
    expect(text).toContain('# HELP celery_task_failed Failed \\"tasks\\"');
    expect(text).toMatch(/celery_task_failed_total\{name="app.t",exception="ValueError"\} 2 # \{trace_id="abc"\} 2 \d+(\.\d+)?\n/);
    expect(text.endsWith('# EOF\n')).toBe(true);
  });

  it('negotiates on Accept', () => {
    expect(negotiate(undefined)).toBe('prometheus');
    expect(negotiate('text/plain;version=0.0.4')).toBe('prometheus');
    expect(negotiate('application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5')).toBe('openmetrics');
  });
});
