import { redactSecrets } from '../brokers/url.js';

// Task args/kwargs reach the event stream as Python repr strings (`argsrepr`, `kwargsrepr`:
// "('a', 1)", "{'password': 'hunter2', 'n': 2}"), cut by Celery at ~1024 characters, possibly
// mid-literal. They are exported only when the user opts in, and even then a value under a
// secret-looking name is replaced before it leaves the process.

/** Names whose values are replaced: substrings, case-insensitive (`db_password`, `X-Api-Key`, `authToken`). */
const SECRET_NAME = /pass|pwd|token|secret|key|auth|cookie|credential|session|signature|private|bearer/i;
export const REDACTED = "'[REDACTED]'";
export const DEFAULT_MAX_REPR_CHARS = 1024;

const OPEN: Record<string, string> = { '(': ')', '[': ']', '{': '}' };
const CLOSERS = new Set([')', ']', '}']);

/**
 * Replaces the value of every dict entry (`'token': …`) and keyword (`password=…`) whose name looks
 * secret, scrubs credentials from URLs (`redis://user:pw@…`), then caps the length.
 */
export function scrubRepr(repr: string, maxChars = DEFAULT_MAX_REPR_CHARS): string {
  let out = '';
  let i = 0;
  const n = repr.length;
  while (i < n) {
    const c = repr[i]!;
    if (c === "'" || c === '"') {
      const end = stringEnd(repr, i);
      const key = repr.slice(i + 1, end - 1);
      out += repr.slice(i, end);
      i = end;
      const colon = skipSpaces(repr, i);
      if (repr[colon] === ':' && SECRET_NAME.test(key)) {
        const valueStart = skipSpaces(repr, colon + 1);
        out += repr.slice(i, valueStart) + REDACTED;
        i = valueEnd(repr, valueStart);
      }
      continue;
    }
    if (isIdentStart(c) && (i === 0 || !isIdentPart(repr[i - 1]!))) {
      let j = i + 1;
      while (j < n && isIdentPart(repr[j]!)) j++;
      const name = repr.slice(i, j);
      const eq = skipSpaces(repr, j);
      if (repr[eq] === '=' && repr[eq + 1] !== '=' && SECRET_NAME.test(name)) {
        const valueStart = skipSpaces(repr, eq + 1);
        out += repr.slice(i, valueStart) + REDACTED;
        i = valueEnd(repr, valueStart);
        continue;
      }
      out += name;
      i = j;
      continue;
    }
    out += c;
    i++;
  }
  out = redactSecrets(out);
  return out.length > maxChars ? `${out.slice(0, maxChars)}…` : out;
}

/** Index just past the string literal opening at `start` (to the end of input when Celery cut it). */
function stringEnd(s: string, start: number): number {
  const quote = s[start];
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i];
    if (c === '\\') i++;
    else if (c === quote) return i + 1;
  }
  return s.length;
}

/** Index just past the value starting at `start`: a literal, a bracketed structure, or a bare token. */
function valueEnd(s: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < s.length) {
    const c = s[i]!;
    if (c === "'" || c === '"') {
      i = stringEnd(s, i);
      if (depth === 0) return i;
      continue;
    }
    if (OPEN[c] !== undefined) depth++;
    else if (CLOSERS.has(c)) {
      if (depth === 0) return i;
      depth--;
      if (depth === 0) return i + 1;
    } else if (c === ',' && depth === 0) return i;
    i++;
  }
  return s.length;
}

function skipSpaces(s: string, i: number): number {
  while (i < s.length && (s[i] === ' ' || s[i] === '\n' || s[i] === '\t')) i++;
  return i;
}

function isIdentStart(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c === '_';
}

function isIdentPart(c: string): boolean {
  return isIdentStart(c) || (c >= '0' && c <= '9');
}
