import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { counterCell, histogramCell } from '../../src/metrics/fast-children.js';
import { serialize } from '../../src/http/exposition.js';

// The cells must write exactly what prom-client's own children write, for the same operations.
async function exposition(useCells: boolean, exemplars = false): Promise<string> {
  const r = new Registry();
  if (exemplars) r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  const c = new Counter({ name: 'c_total', help: 'c', labelNames: ['a', 'b'], registers: [r], enableExemplars: exemplars });
  const h = new Histogram({ name: 'h_seconds', help: 'h', labelNames: ['a'], buckets: [0.1, 1, 10], registers: [r], enableExemplars: exemplars });
  const cl = { a: 'x', b: 'y' };
  const inc = useCells ? counterCell(c, cl) : exemplars ? { inc: (v = 1) => c.inc({ labels: cl, value: v } as never) } : c.labels(cl);
  const obs = useCells ? histogramCell(h, { a: 'x' }) : exemplars ? { observe: (v: number) => h.observe({ labels: { a: 'x' }, value: v } as never) } : h.labels({ a: 'x' });
  // A series touched only through the family, and one never touched: neither may change.
  c.inc({ a: 'other', b: 'z' }, 3);
  counterCell(c, { a: 'never', b: 'used' });
  for (const v of [1, 1, 2.5]) inc.inc(v);
  inc.inc();
  for (const v of [0.05, 0.1, 0.5, 1, 9.99, 10, 11, 3600, 0]) obs.observe(v);
  return serialize(r, 'prometheus');
}

describe('counterCell and histogramCell', () => {
  it('produce the same series as prom-client children, and no series before the first update', async () => {
    const viaCells = await exposition(true);
    expect(viaCells).toBe(await exposition(false));
    expect(viaCells).toContain('c_total{a="x",b="y"} 5.5');
    expect(viaCells).toContain('h_seconds_bucket{le="1",a="x"} 5');
    expect(viaCells).toContain('h_seconds_count{a="x"} 9');
    expect(viaCells).not.toContain('never');
  });

  it('work on families built with exemplars enabled', async () => {
    expect(await exposition(true, true)).toBe(await exposition(false, true));
  });
});
