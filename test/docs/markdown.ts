// Just enough Markdown for checking links: headings and inline links outside code.

/** Lines of a page with fenced code blocks removed. */
function proseLines(text: string): string[] {
  let fenced = false;
  return text.split('\n').filter((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/**
 * The anchors GitHub gives a page's headings: the heading's text (inline markup dropped) in lower
 * case, characters other than letters, digits, spaces, `-` and `_` removed, spaces as `-`, and
 * `-1`, `-2`, … after repeats.
 */
export function githubSlugs(text: string): Set<string> {
  const slugs = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text)) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const plain = m[1]!
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/`([^`]*)`/g, '$1')
      .replace(/(\*\*|\*|__)(.*?)\1/g, '$2');
    const base = plain.toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

/** Targets of the page's inline links `[text](target)`, outside code blocks and code spans. */
export function markdownLinks(text: string): string[] {
  const links: string[] = [];
  for (const line of proseLines(text)) {
    // A code span inside link text (`[`b`](b.md)`) keeps the link; one around it hides it.
    const prose = line.replace(/(\[?)`[^`]*`/g, (_m, bracket: string) => (bracket === '' ? '' : `${bracket}code`));
    for (const m of prose.matchAll(/\[[^\]]*\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) links.push(m[1]!);
  }
  return links;
}
