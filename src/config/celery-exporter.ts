import { configError } from '../errors.js';
import { FLAGS, ceEnvName, envName } from './flags.js';
import type { FlagDef } from './flags.js';
import { parseBuckets } from './values.js';

// danihodovic/celery-exporter's way of being configured, translated into celery-pulse's settings:
// its CE_<OPTION> variables (cli.py runs click with auto_envvar_prefix="CE"), its value formats
// and the options celery-pulse has under another name or does not need.

/** Values read for each flag name, in the order given. */
export type RawValues = Map<string, string[]>;

export interface CeEnv {
  readonly values: RawValues;
  /** CE_* variables that were read (the celery-exporter way of running). */
  readonly used: readonly string[];
  /** Start-up lines: a CELERY_PULSE_* variable won over its CE_* twin. */
  readonly notices: readonly string[];
}

/**
 * The CE_* variables of celery-exporter's options. Where CELERY_PULSE_<NAME> is also set it wins
 * and a notice says so. click splits a `multiple` option's variable on whitespace
 * (ParamType.split_envvar_value); -Q is one string that celery-exporter splits on commas.
 */
export function readCeEnv(env: NodeJS.ProcessEnv): CeEnv {
  const values: RawValues = new Map();
  const used: string[] = [];
  const notices: string[] = [];
  for (const flag of FLAGS) {
    if (flag.celeryExporter === undefined) continue;
    const name = ceEnvName(flag.name);
    const v = env[name];
    // As for CELERY_PULSE_BROKER_URL: an empty URL is a secret that failed to reach the pod.
    if (v !== undefined && v.trim() === '' && flag.name === 'broker-url') throw configError('CP_ERR_MISSING_VALUE', `${name} is set but empty (--broker-url)`);
    if (v === undefined || v === '') continue;
    used.push(name);
    const own = env[envName(flag.name)];
    if (own !== undefined && own !== '') {
      notices.push(`${envName(flag.name)} is used; ${name} names the same setting and is ignored`);
      continue;
    }
    values.set(flag.name, splitCe(flag, v));
  }
  return { values, used, notices };
}

function splitCe(flag: FlagDef, v: string): string[] {
  if (flag.ceSplit === 'whitespace') return v.split(/\s+/).filter((s) => s !== '');
  if (flag.ceSplit === 'comma') return v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return [v];
}

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';

/** loguru's level names (celery-exporter's --log-level, default INFO) on pino's. */
const LEVELS: Record<string, LogLevel> = {
  trace: 'trace',
  debug: 'debug',
  info: 'info',
  success: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  fatal: 'fatal',
  critical: 'fatal',
  silent: 'silent',
};

export function parseLogLevel(value: string): LogLevel {
  const level = LEVELS[value.trim().toLowerCase()];
  if (level === undefined) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --log-level: "${value}" (trace, debug, info, warn, error, fatal, silent; or WARNING, CRITICAL, SUCCESS)`);
  }
  return level;
}

/** Whole seconds as celery-exporter takes them (click int); 0 means never, returned as Infinity. */
export function parseSecondsOrNever(flag: string, value: string): number {
  const v = value.trim();
  if (!/^\d+(\.\d+)?$/.test(v)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${flag}: "${value}" (seconds; 0 for never)`);
  const n = Number(v);
  return n === 0 ? Infinity : n;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
// Every label a served series can already carry (celery-pulse's families, prom-client's default
// process metrics, Prometheus' own): a static label of the same name would repeat it and make
// Prometheus reject the whole scrape.
const RESERVED = new Set([
  'name', 'hostname', 'queue_name', 'exception', 'broker', 'outcome', 'reason', 'state', 'type', 'metric', 'label', 'scan',
  'version', 'nodejs', 'kind', 'space', 'major', 'minor', 'patch', 'le', 'quantile', 'job', 'instance',
]);

/** `--static-label k=v` (celery-exporter: key=val, split on the one '='). */
export function parseStaticLabels(values: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    const key = eq > 0 ? v.slice(0, eq) : '';
    if (!LABEL_NAME.test(key) || key.startsWith('__')) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --static-label: "${v}" (KEY=VALUE, KEY a label name)`);
    if (RESERVED.has(key)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --static-label: "${key}" is a label celery-pulse sets itself`);
    out[key] = v.slice(eq + 1);
  }
  return out;
}

/** `--metric-prefix`: replaces the leading `celery_` of family names; must keep them valid names. */
export function parseMetricPrefix(value: string): string {
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(value)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --metric-prefix: "${value}" (letters, digits, _ and :)`);
  return value;
}

export interface SslOptions {
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /** False with `cert_reqs=CERT_NONE`. */
  readonly verify: boolean;
  /** Keys given that celery-pulse does not use. */
  readonly unused: readonly string[];
}

/**
 * `--broker-ssl-option KEY=VALUE`, celery-exporter's broker_use_ssl: the ssl.wrap_socket keys
 * naming files map onto --broker-tls-*. `cert_reqs=CERT_NONE` turns certificate verification off,
 * as it does for celery-exporter (a chart that sets it must keep working); a start-up line warns.
 */
export function parseSslOptions(values: readonly string[]): SslOptions {
  const map: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-ssl-option: "${v}" (KEY=VALUE)`);
    map[v.slice(0, eq).trim()] = v.slice(eq + 1);
  }
  const reqs = map['cert_reqs'];
  const verify = reqs === undefined || !/^(0|CERT_NONE|ssl\.CERT_NONE)$/i.test(reqs.trim());
  const used = new Set(['ca_certs', 'certfile', 'keyfile', 'cert_reqs']);
  return { ca: map['ca_certs'], cert: map['certfile'], key: map['keyfile'], verify, unused: Object.keys(map).filter((k) => !used.has(k)) };
}

/** Buckets of celery-exporter's histograms: its `--buckets` list may end in inf, which is always there. */
export function parseExporterBuckets(flag: string, value: string): number[] {
  return parseBuckets(flag, value.replace(/,\s*\+?inf\s*$/i, ''));
}
