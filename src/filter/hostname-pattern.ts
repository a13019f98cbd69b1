import { configError } from '../errors.js';

// Celery node names are `name@host` (celery/utils/nodenames.py); in a pod the host part is the
// pod name, so a sidecar selects its own worker with an exact name (`celery@$(POD_NAME)`) or a
// glob (`celery@*`). Globs rather than regular expressions: a node name has no structure a glob
// cannot express, a glob cannot be written to backtrack for ever, and `.` (common in host names)
// means itself.

const MAX_PATTERN_LENGTH = 256;

/** Checks the --only-worker values once, at start-up; returns them as given. */
export function parseWorkerPatterns(values: readonly string[]): readonly string[] {
  for (const v of values) {
    if (v.trim() === '' || v.length > MAX_PATTERN_LENGTH || /\s/.test(v)) {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --only-worker: "${v}" (a node name or glob such as celery@* , without spaces)`);
    }
    if (/\$\(|\$\{/.test(v)) {
      // Kubernetes expands $(VAR) only from variables declared earlier in the same container.
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --only-worker: "${v}" (an unexpanded variable: declare POD_NAME before this variable in the container's env)`);
    }
  }
  return values;
}

/**
 * One matcher for all patterns: `*` is any run of characters (none included), `?` one character,
 * everything else itself; the whole node name must match, case-sensitively as Celery compares.
 */
export function compileHostnamePatterns(patterns: readonly string[]): (hostname: string) => boolean {
  const exact = new Set(patterns.filter((p) => !/[*?]/.test(p)));
  const globs = patterns.filter((p) => /[*?]/.test(p)).map(globSource);
  if (globs.length === 0) return (hostname) => exact.has(hostname);
  const re = new RegExp(`^(?:${globs.join('|')})$`, 's');
  return (hostname) => exact.has(hostname) || re.test(hostname);
}

function globSource(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return out;
}
