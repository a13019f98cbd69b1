import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LAUNCH_ENV, NODE_FLAGS } from '../../src/heap-tuning.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const read = (path: string): string => readFileSync(join(ROOT, path), 'utf8');

// V8 reads the young-generation cap only at start-up, and glibc its arena limit, so every way of
// starting the daemon must pass src/heap-tuning.ts's NODE_FLAGS and LAUNCH_ENV itself.
describe('every launcher passes the heap flags', () => {
  const flags = NODE_FLAGS.join(' ');
  const env = Object.entries(LAUNCH_ENV)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');

  it('the bin (a shell script), npm start and the demo', () => {
    const pkg = JSON.parse(read('package.json')) as { bin: Record<string, string>; scripts: Record<string, string> };
    const bin = read(pkg.bin['celery-pulse']!);
    expect(bin).toContain(`export ${env}\n`);
    expect(bin).toContain(`exec node ${flags} "$here/../dist/cli.js" "$@"`);
    expect(pkg.scripts['start']).toBe(`${env} node ${flags} dist/cli.js`);
    expect(read('demo/run.sh')).toContain(`${env} node ${flags} dist/cli.js`);
  });

  it('the container image', () => {
    const entrypoint = /^ENTRYPOINT (.*)$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(entrypoint ?? '[]')).toEqual(['node', ...NODE_FLAGS, 'dist/cli.js']);
  });
});
