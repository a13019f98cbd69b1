// Where the repository and the daemon are, found from this file: the benchmark runs compiled
// from node_modules/.cache, where the test kit's own ROOT would be wrong.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'celery-pulse') return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

export const REPO_ROOT = findRoot();
/** The built daemon under test: CELERY_PULSE_DAEMON, else the repository's dist/cli.js. */
export const DAEMON_CLI = process.env['CELERY_PULSE_DAEMON'] ?? join(REPO_ROOT, 'dist', 'cli.js');
