import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, sourceFiles } from '../kit/source-files.js';

// prom-client's private fields are not an API (issue #22): a minor release may rename them and
// the exposition would break silently. Our hot families live in src/metrics/store/ instead.
const PRIVATE_FIELDS = ['hashMap', 'bucketValues', 'bucketExemplars', 'sortedLabelNames', 'upperBounds', 'enableExemplars'];
// `x.hashMap`, `x?.hashMap`, `x['hashMap']`, `{ hashMap } = x`, `'hashMap' in x`: any read of the name.
const READ = new RegExp(`(\\??\\.\\s*(${PRIVATE_FIELDS.join('|')})\\b)|\\[\\s*['"\`](${PRIVATE_FIELDS.join('|')})['"\`]\\s*\\]|\\{[^}]*\\b(${PRIVATE_FIELDS.join('|')})\\b[^}]*\\}\\s*=|['"\`](${PRIVATE_FIELDS.join('|')})['"\`]\\s+in\\b`);

function reads(text: string): string[] {
  return text.split('\n').filter((line) => READ.test(line));
}

describe('src/', () => {
  it("reads none of prom-client's private fields", () => {
    const found = sourceFiles(SRC).flatMap((file) => reads(readFileSync(file, 'utf8')).map((line) => `${relative(SRC, file)}: ${line.trim()}`));
    expect(found).toEqual([]);
  });

  it('the check sees each way of reading one', () => {
    for (const line of [
      'const m = counter.hashMap;',
      'h?.upperBounds.length',
      "metric['bucketValues']",
      'const { hashMap, upperBounds } = metric as never;',
      "if ('enableExemplars' in c) {}",
      'x.sortedLabelNames',
    ]) {
      expect(reads(line), line).toEqual([line]);
    }
    expect(reads('const hashMapLike = 1; // the bucketValues of a histogram')).toEqual([]);
  });
});
