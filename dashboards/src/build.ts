// Writes the dashboards as Grafana JSON into dashboards/, one file per dashboard.
//
//   node dashboards/src/build.ts           (npm run dashboards) regenerate the committed JSON
//   node dashboards/src/build.ts --check   exit 1 if the committed JSON differs from this source
//   node dashboards/src/build.ts --multi-cluster --out-dir DIR   with the cluster selector shown
//
// Runs on Node's own type stripping (no build step); typechecked by dashboards/src/tsconfig.json.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
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

const args = process.argv.slice(2);
const check = args.includes('--check');
const multiCluster = args.includes('--multi-cluster');
const outDirAt = args.indexOf('--out-dir');
const outDir = outDirAt >= 0 ? args[outDirAt + 1] : DIR;
const unknown = args.filter((a, i) => !['--check', '--multi-cluster', '--out-dir'].includes(a) && args[i - 1] !== '--out-dir');
if (unknown.length > 0 || outDir === undefined || (check && (multiCluster || outDirAt >= 0))) {
  console.error('usage: node dashboards/src/build.ts [--check | [--multi-cluster] [--out-dir DIR]]');
  process.exit(2);
}

/** The dashboard with its cluster variable shown, for a Grafana that reads several clusters. */
function showCluster(json: Record<string, unknown>): Record<string, unknown> {
  const templating = json['templating'] as { list: Record<string, unknown>[] };
  return { ...json, templating: { list: templating.list.map((v) => (v['name'] === 'cluster' ? { ...v, hide: 0 } : v)) } };
}

let stale = 0;
for (const [file, board] of Object.entries(DASHBOARDS)) {
  const path = join(outDir, file);
  const text = JSON.stringify(multiCluster ? showCluster(board) : board, null, 2) + '\n';
  if (!check) {
    mkdirSync(outDir, { recursive: true });
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
