// Every relative link of the manual resolves: the file exists, and a `#anchor` names a heading of
// the page it points to, slugged as GitHub does. Topics moved from the README to docs/ and
// bench/README.md, so a stale `#section` would otherwise go unnoticed.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { githubSlugs, markdownLinks } from './markdown.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PAGES = [
  'README.md',
  'docs/traces.md',
  'docs/brokers.md',
  'docs/security.md',
  'docs/deployment.md',
  'docs/dashboards-and-alerts.md',
  'docs/migrating-from-celery-exporter.md',
  'docs/celery-versions.md',
  'docs/how-it-works.md',
  'bench/README.md',
  'alerts/RUNBOOK.md',
];

describe('markdown helpers', () => {
  it('slug headings as GitHub does, duplicates numbered', () => {
    const page = [
      '# celery-pulse',
      '## Runtime: Node.js 24 LTS',
      '## Protecting /metrics: `--web-config-file`',
      '## Silent failures: how they behave',
      '```sh',
      '# not a heading',
      '```',
      '## Notes',
      '## Notes',
      '### [Linked](x.md) *and* **bold** snake_case',
    ].join('\n');
    expect([...githubSlugs(page)]).toEqual([
      'celery-pulse',
      'runtime-nodejs-24-lts',
      'protecting-metrics---web-config-file',
      'silent-failures-how-they-behave',
      'notes',
      'notes-1',
      'linked-and-bold-snake_case',
    ]);
  });

  it('find links outside code, with or without an anchor', () => {
    const page = 'See [a](docs/a.md#x), [`b`](b.md) and [web](https://example.com).\n`[no](code.md)`\n```\n[no](fence.md)\n```\n[c](#local)';
    expect(markdownLinks(page)).toEqual(['docs/a.md#x', 'b.md', 'https://example.com', '#local']);
  });
});

describe('the manual\'s relative links resolve', () => {
  for (const page of PAGES) {
    it(page, () => {
      const text = readFileSync(join(ROOT, page), 'utf8');
      const broken: string[] = [];
      for (const link of markdownLinks(text)) {
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
        const [path = '', anchor] = link.split('#', 2);
        const target = path === '' ? join(ROOT, page) : join(dirname(join(ROOT, page)), decodeURIComponent(path));
        if (!existsSync(target)) {
          broken.push(`${link}: no file ${relative(ROOT, target)}`);
          continue;
        }
        if (anchor !== undefined && !githubSlugs(readFileSync(target, 'utf8')).has(anchor)) {
          broken.push(`${link}: no heading #${anchor} in ${relative(ROOT, target)}`);
        }
      }
      expect(broken).toEqual([]);
    });
  }
});
