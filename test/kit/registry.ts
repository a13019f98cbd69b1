import { Registry } from 'prom-client';
import type { OpenMetricsContentType } from 'prom-client';
import { serialize } from '../../src/http/exposition.js';

/** An empty registry of the kind the daemon serves from (OpenMetrics, so exemplars are kept). */
export function openMetricsRegistry(): Registry<OpenMetricsContentType> {
  const r = new Registry<OpenMetricsContentType>();
  r.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return r;
}

/** The sample lines of a scrape of `r` (no comments, no blank lines), optionally filtered by name[]. */
export async function sampleLines(r: Registry<OpenMetricsContentType>, format: 'prometheus' | 'openmetrics' = 'prometheus', names?: Set<string>): Promise<string[]> {
  return (await serialize(r, format, { names })).split('\n').filter((l) => l !== '' && !l.startsWith('#'));
}
