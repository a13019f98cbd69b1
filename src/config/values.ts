import { configError } from '../errors.js';

// Parsers for flag values. Each throws a CeleryPulseError that names the flag.

function bad(flag: string, value: string, expected: string): never {
  throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${flag}: "${value}" (${expected})`);
}

const DURATION_UNITS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400, w: 604800, y: 31536000 };
/** Prometheus' duration form (model.ParseDuration): whole numbers of units, largest first. */
const PROMETHEUS_DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const PROMETHEUS_UNITS = ['y', 'w', 'd', 'h', 'm', 's', 'ms'] as const;

/**
 * The longest duration any flag takes unless it names a shorter bound: durations only compared
 * with clocks (TTLs, thresholds) make no sense beyond a year. Durations that arm a Node timer must
 * stay far below its limit too: setTimeout/setInterval fire at once past 2^31-1 ms (24.8 days).
 */
const MAX_DURATION_SECONDS = 365 * 86400;

/** `250ms`, `30s`, `1.5h`, `1h30m` (Prometheus' form), `1w`, or plain seconds, at most `maxSeconds`; returns seconds. */
export function parseDuration(flag: string, value: string, maxSeconds = MAX_DURATION_SECONDS): number {
  const text = value.trim();
  const single = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)?$/.exec(text);
  const compound = single === null && text !== '' ? PROMETHEUS_DURATION.exec(text) : null;
  if (single === null && compound === null) bad(flag, value, 'a duration such as 30s, 5m, 1h30m');
  const seconds =
    single !== null
      ? Number(single[1]) * (DURATION_UNITS[single[2] ?? 's'] ?? 1)
      : PROMETHEUS_UNITS.reduce((sum, unit, i) => sum + Number(compound![i + 1] ?? 0) * DURATION_UNITS[unit]!, 0);
  if (!Number.isFinite(seconds) || seconds <= 0) bad(flag, value, 'a duration above zero');
  if (seconds > maxSeconds) bad(flag, value, `at most ${formatDuration(maxSeconds)}`);
  return seconds;
}

function formatDuration(seconds: number): string {
  for (const [unit, size] of [['d', 86400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

export function parsePositiveInt(flag: string, value: string): number {
  if (!/^\d+$/.test(value.trim())) bad(flag, value, 'a whole number');
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) bad(flag, value, 'a whole number above zero');
  return n;
}

export function parsePositiveNumber(flag: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) bad(flag, value, 'a number above zero');
  return n;
}

/** `HOST:PORT`, `:PORT` or `[v6]:PORT`. */
export function parseListenAddress(flag: string, value: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  if (!m) bad(flag, value, 'HOST:PORT');
  const port = Number(m[3]);
  if (port > 65535) bad(flag, value, 'a port from 0 to 65535');
  const host = m[1] ?? (m[2] === '' || m[2] === undefined ? '0.0.0.0' : m[2]);
  return { host, port };
}

/** Comma-separated upper bounds in seconds, strictly increasing. */
export function parseBuckets(flag: string, value: string): number[] {
  const parts = value.split(',').map((s) => s.trim());
  const buckets = parts.map(Number);
  if (parts.some((p) => p === '') || buckets.some((b) => !Number.isFinite(b) || b <= 0)) {
    bad(flag, value, 'comma-separated positive numbers of seconds');
  }
  for (let i = 1; i < buckets.length; i++) {
    if (buckets[i]! <= buckets[i - 1]!) bad(flag, value, 'bucket bounds must increase');
  }
  return buckets;
}
