import { configError } from '../errors.js';
import { parseDuration } from './values.js';

// Parsers for the silent-failure detector flags (src/detectors/). Each throws a CeleryPulseError naming the flag.

export interface StalledSettings {
  /** Global threshold, seconds. */
  readonly threshold: number;
  /** Per task name, seconds. */
  readonly perTask: Readonly<Record<string, number>>;
  /** Multiple of a name's observed runtime; 0: off. */
  readonly runtimeFactor: number;
}

/** The global default when only NAME=DURATION values are given. */
const DEFAULT_STALLED_THRESHOLD = 3600;

/** `--stalled-threshold`: `DURATION` (global, the last one wins) and `NAME=DURATION` overrides. */
export function parseStalled(values: readonly string[], factor: string): StalledSettings {
  let threshold = DEFAULT_STALLED_THRESHOLD;
  const perTask: Record<string, number> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    if (eq === -1) {
      threshold = parseDuration('stalled-threshold', v);
      continue;
    }
    perTask[taskName('stalled-threshold', v, eq)] = parseDuration('stalled-threshold', v.slice(eq + 1));
  }
  const f = Number(factor.trim());
  if (factor.trim() === '' || !Number.isFinite(f) || f < 0) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --stalled-runtime-factor: "${factor}" (a number, 0 to turn learning off)`);
  }
  return { threshold, perTask, runtimeFactor: f };
}

/** `--expect-task NAME=INTERVAL`, repeatable. */
export function parseExpectedTasks(values: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) {
    const eq = v.lastIndexOf('=');
    if (eq === -1) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --expect-task: "${v}" (NAME=INTERVAL, e.g. reports.daily=1d)`);
    out[taskName('expect-task', v, eq)] = parseDuration('expect-task', v.slice(eq + 1));
  }
  return out;
}

function taskName(flag: string, v: string, eq: number): string {
  const name = v.slice(0, eq).trim();
  if (name === '') throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${flag}: "${v}" (empty task name)`);
  return name;
}
