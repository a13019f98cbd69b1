// Writes the dashboards as Grafana JSON into dashboards/, one file per dashboard.
//
//   node dashboards/src/build.ts           (npm run dashboards) regenerate the committed JSON
//   node dashboards/src/build.ts --check   exit 1 if the committed JSON differs from this source
//
// Runs on Node's own type stripping (no build step); typechecked by dashboards/src/tsconfig.json.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { overview } from './overview.ts';
import { queues } from './queues.ts';
import { task } from './task.ts';
import { workers } from './workers.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), '..');

export const DASHBOARDS: Record<string, Record<string, unknown>> = {
  'celery-pulse-overview.json': overview,
  'celery-pulse-task.json': task,
  'celery-pulse-workers.json': workers,
  'celery-pulse-queues.json': queues,
};

const check = process.argv.includes('--check');
let stale = 0;
for (const [file, json] of Object.entries(DASHBOARDS)) {
  const path = join(DIR, file);
  const text = JSON.stringify(json, null, 2) + '\n';
  if (!check) {
    writeFileSync(path, text);
    continue;
  }
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // missing counts as stale
  }
  if (current !== text) {
    console.error(`${path} is out of date: run npm run dashboards`);
    stale++;
  }
}
process.exitCode = stale === 0 ? 0 : 1;
