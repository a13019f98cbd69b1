import { fs } from '../builtins.js';
import type * as Yaml from 'yaml';
import { lazyModule } from '../lazy-module.js';
import { parseBrokerUrl, redactSecrets } from '../brokers/url.js';
import type { BrokerUrl } from '../brokers/url.js';
import { configError } from '../errors.js';
import { parseManagementUrls, parseQueues, parseTlsFiles } from './broker-settings.js';
import type { ManagementEndpoint, TlsFiles } from './broker-settings.js';
import { FLAGS, envName } from './flags.js';
import { parseExpectedTasks, parseStalled } from './detector-settings.js';
import type { StalledSettings } from './detector-settings.js';
import { parseWorkerPatterns } from '../filter/hostname-pattern.js';
import { loadWebConfig } from '../http/web-config.js';
import type { WebConfig } from '../http/web-config.js';
import type { FlagDef } from './flags.js';
import { parseTraceConfig } from './trace-settings.js';
import type { TraceConfig } from './trace-settings.js';
import { parseDuration, parseListenAddress, parseBuckets, parsePositiveInt, parsePositiveNumber } from './values.js';

const yaml = lazyModule<typeof Yaml>('yaml');

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
const LOG_LEVELS = new Set<string>(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']);

export interface BrokerConfig {
  /** Value of the `broker` label; never contains credentials. */
  readonly name: string;
  readonly url: BrokerUrl;
}

/** kombu's Redis transport options that change where events and queues live. */
export interface TransportOptions {
  readonly globalKeyprefix: string;
  /** `true` = kombu's '/{db}.', `false` = none, or a custom prefix (may contain {db}). */
  readonly fanoutPrefix: string | boolean;
  /** undefined = not set: listen both with and without routing keys. */
  readonly fanoutPatterns: boolean | undefined;
  readonly masterName: string | undefined;
  readonly visibilityTimeout: number | undefined;
  readonly raw: Readonly<Record<string, string>>;
}

export interface Config {
  readonly brokers: readonly BrokerConfig[];
  readonly transport: TransportOptions;
  readonly eventExchange: string;
  readonly listen: { readonly host: string; readonly port: number };
  readonly metricsPath: string;
  readonly runtimeBuckets: readonly number[];
  readonly queueWaitBuckets: readonly number[];
  readonly defaultQueueName: string;
  readonly genericHostnameTaskSent: boolean;
  readonly celeryExporterCompat: boolean;
  readonly maxTrackedTasks: number;
  readonly taskTtl: number;
  readonly finishedTaskTtl: number;
  readonly unknownTaskGrace: number;
  readonly workerTimeoutHeartbeats: number;
  readonly workerForgetAfter: number;
  /** Stalled-task thresholds (--stalled-threshold, --stalled-runtime-factor). */
  readonly stalled: StalledSettings;
  /** Periodic tasks' expected intervals in seconds, by name (--expect-task). */
  readonly expectTasks: Readonly<Record<string, number>>;
  /** Send the enable_events broadcast, and every how many seconds (--enable-events, --enable-events-interval). */
  readonly enableEvents: boolean;
  readonly enableEventsInterval: number;
  readonly maxFrameBytes: number;
  readonly logLevel: LogLevel;
  /** Seconds between liveness PINGs on a Redis event connection (also the PING's deadline). */
  readonly brokerPingInterval: number;
  /** Cap on distinct values per label per metric family (sinks/label-guard.ts). */
  readonly maxLabelValues: number;
  /** OpenTelemetry traces (--traces and the OTEL_* variables; config/trace-settings.ts). */
  readonly traces: TraceConfig;
  /** TLS and basic auth of the HTTP server, from --web-config-file; undefined: plain HTTP, no auth. */
  readonly webConfig: WebConfig | undefined;
  /** PEM files for rediss:// and amqps:// brokers. */
  readonly tls: TlsFiles;
  /** Collect queue depth at scrape time (--no-queue-metrics turns it off). */
  readonly queueMetrics: boolean;
  /** --only-worker patterns; empty: every worker's events (standalone). */
  readonly onlyWorkers: readonly string[];
  /** Seconds a scrape waits for one broker's queue figures. */
  readonly queueMetricsTimeout: number;
  /** Queues always reported, by broker name (from --queues). */
  readonly queues: Readonly<Record<string, readonly string[]>>;
  /** RabbitMQ management API, by broker name. */
  readonly rabbitmqManagement: Readonly<Record<string, ManagementEndpoint>>;
}

export type CliAction = { readonly action: 'help' } | { readonly action: 'version' } | { readonly action: 'run'; readonly config: Config };

type RawValues = Map<string, string[]>;

const byName = new Map(FLAGS.map((f) => [f.name, f]));

/**
 * Reads argv, then the environment, then the config file, into one validated and frozen Config.
 * Precedence: flag > environment > config file > default. Throws a CeleryPulseError naming the
 * first bad flag or value.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): CliAction {
  const fromArgs = parseArgv(argv);
  if (fromArgs.has('help')) return { action: 'help' };
  if (fromArgs.has('version')) return { action: 'version' };
  const fromEnv = readEnv(env);
  const configPath = last(fromArgs.get('config-file')) ?? last(fromEnv.get('config-file'));
  const fromFile = configPath !== undefined ? readConfigFile(configPath) : new Map<string, string[]>();
  const value = (name: string): string[] => {
    const v = fromArgs.get(name) ?? fromEnv.get(name) ?? fromFile.get(name);
    if (v !== undefined) return v;
    const def = byName.get(name)?.default;
    return def !== undefined ? [def] : [];
  };
  return { action: 'run', config: deepFreeze(buildConfig(value, env)) };
}

function parseArgv(argv: readonly string[]): RawValues {
  const out: RawValues = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw configError('CP_ERR_UNKNOWN_FLAG', `unexpected argument "${redactSecrets(arg)}" (flags start with --)`);
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let flag = byName.get(name);
    if (flag === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.boolean) {
      flag = byName.get(name.slice(3));
      name = name.slice(3);
      if (inline !== undefined) throw configError('CP_ERR_FLAG_VALUE', `flag --no-${name} takes no value`);
      inline = 'false';
    }
    if (flag === undefined) throw configError('CP_ERR_UNKNOWN_FLAG', `unknown flag --${name} (see --help)`);
    let v: string;
    if (inline !== undefined) v = inline;
    else if (flag.boolean) v = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw configError('CP_ERR_MISSING_VALUE', `flag --${name} needs a value (${flag.value ?? 'VALUE'})`);
      v = next;
      i++;
    }
    // The last of two values would win silently: `--queue-metrics --no-queue-metrics` or two
    // --listen-address are a mistake in a manifest, not a choice.
    if (!flag.repeatable && out.has(flag.name)) throw configError('CP_ERR_FLAG_CONFLICT', `flag --${flag.name} given twice (once only)`);
    add(out, flag, v, 'flag');
  }
  return out;
}

function readEnv(env: NodeJS.ProcessEnv): RawValues {
  const out: RawValues = new Map();
  for (const flag of FLAGS) {
    if (flag.name === 'help' || flag.name === 'version') continue;
    const v = env[envName(flag.name)];
    // An empty broker URL is a secret that failed to reach the pod, not a wish for the default.
    if (v !== undefined && v.trim() === '' && flag.name === 'broker-url') throw configError('CP_ERR_MISSING_VALUE', `${envName(flag.name)} is set but empty (--broker-url)`);
    if (v === undefined || v === '') continue;
    const values = flag.repeatable ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : [v];
    for (const item of values) add(out, flag, item, 'env');
  }
  return out;
}

function readConfigFile(path: string): RawValues {
  let doc: unknown;
  try {
    doc = yaml().parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: ${redactSecrets(reason ?? '')}`);
  }
  const out: RawValues = new Map();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: expected a mapping of flag names to values`);
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const flag = byName.get(key.replace(/_/g, '-'));
    if (flag === undefined || flag.name === 'help' || flag.name === 'version' || flag.name === 'config-file') {
      throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: unknown setting "${key}"`);
    }
    const items = Array.isArray(raw) ? raw : [raw];
    if (items.length > 1 && !flag.repeatable) throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: "${key}" takes one value`);
    for (const item of items) {
      if (item === null || typeof item === 'object') throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: "${key}" must be a string, number or boolean`);
      add(out, flag, String(item), 'file');
    }
  }
  return out;
}

function add(out: RawValues, flag: FlagDef, value: string, _source: string): void {
  const list = out.get(flag.name);
  if (list === undefined || !flag.repeatable) out.set(flag.name, [value]);
  else list.push(value);
}

function last(values: string[] | undefined): string | undefined {
  return values === undefined ? undefined : values[values.length - 1];
}

function one(value: (name: string) => string[], name: string): string {
  const v = last(value(name));
  if (v === undefined) throw configError('CP_ERR_MISSING_VALUE', `--${name} is required`);
  return v;
}

function bool(value: (name: string) => string[], name: string): boolean {
  const v = one(value, name).toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(v)) return true;
  if (['false', '0', 'no', 'off'].includes(v)) return false;
  throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${name}: "${v}" (true or false)`);
}

function buildConfig(value: (name: string) => string[], env: NodeJS.ProcessEnv): Config {
  const transport = parseTransportOptions(value('broker-transport-option'));
  const logLevel = one(value, 'log-level');
  if (!LOG_LEVELS.has(logLevel)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --log-level: "${logLevel}" (trace, debug, info, warn, error, fatal, silent)`);
  const metricsPath = one(value, 'metrics-path');
  if (!/^\/[\w./-]*$/.test(metricsPath) || ['/', '/healthz', '/readyz'].includes(metricsPath)) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --metrics-path: "${metricsPath}"`);
  }
  const exchange = one(value, 'event-exchange');
  if (!/^[\w.:-]+$/.test(exchange)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --event-exchange: "${exchange}"`);
  const brokers = parseBrokers(value('broker-url'));
  const webConfigFile = last(value('web-config-file'));
  return {
    brokers,
    transport,
    eventExchange: exchange,
    listen: parseListenAddress('listen-address', one(value, 'listen-address')),
    metricsPath,
    runtimeBuckets: parseBuckets('runtime-buckets', one(value, 'runtime-buckets')),
    queueWaitBuckets: parseBuckets('queue-wait-buckets', one(value, 'queue-wait-buckets')),
    defaultQueueName: nonEmpty('default-queue-name', one(value, 'default-queue-name')),
    genericHostnameTaskSent: bool(value, 'generic-hostname-task-sent-metric'),
    celeryExporterCompat: bool(value, 'celery-exporter-compat'),
    maxTrackedTasks: parsePositiveInt('max-tracked-tasks', one(value, 'max-tracked-tasks')),
    taskTtl: parseDuration('task-ttl', one(value, 'task-ttl')),
    finishedTaskTtl: parseDuration('finished-task-ttl', one(value, 'finished-task-ttl')),
    unknownTaskGrace: parseDuration('unknown-task-grace', one(value, 'unknown-task-grace'), 3600),
    workerTimeoutHeartbeats: parsePositiveNumber('worker-timeout-heartbeats', one(value, 'worker-timeout-heartbeats')),
    workerForgetAfter: parseDuration('worker-forget-after', one(value, 'worker-forget-after')),
    stalled: parseStalled(value('stalled-threshold'), one(value, 'stalled-runtime-factor')),
    expectTasks: parseExpectedTasks(value('expect-task')),
    enableEvents: bool(value, 'enable-events'),
    enableEventsInterval: parseDuration('enable-events-interval', one(value, 'enable-events-interval'), 86400),
    maxFrameBytes: parsePositiveInt('max-frame-bytes', one(value, 'max-frame-bytes')),
    logLevel: logLevel as LogLevel,
    brokerPingInterval: parseDuration('broker-ping-interval', one(value, 'broker-ping-interval'), 3600),
    maxLabelValues: parsePositiveInt('max-label-values', one(value, 'max-label-values')),
    traces: parseTraceConfig(
      {
        traces: bool(value, 'traces'),
        otlpEndpoint: last(value('otlp-endpoint')),
        taskArgs: bool(value, 'traces-task-args'),
        maxSpanAge: parseDuration('traces-max-span-age', one(value, 'traces-max-span-age')),
      },
      env,
    ),
    webConfig: webConfigFile === undefined ? undefined : loadWebConfig(webConfigFile),
    tls: parseTlsFiles(last(value('broker-tls-ca')), last(value('broker-tls-cert')), last(value('broker-tls-key'))),
    queueMetrics: bool(value, 'queue-metrics'),
    onlyWorkers: parseWorkerPatterns(value('only-worker')),
    queueMetricsTimeout: parseDuration('queue-metrics-timeout', one(value, 'queue-metrics-timeout'), 60),
    queues: parseQueues(value('queues'), brokers),
    rabbitmqManagement: parseManagementUrls(value('rabbitmq-management-url'), brokers),
  };
}

function nonEmpty(name: string, v: string): string {
  if (v.trim() === '') throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${name}: empty`);
  return v;
}

const BROKER_NAME = /^([A-Za-z_][\w.-]{0,62})=(.+)$/;

function parseBrokers(values: string[]): BrokerConfig[] {
  if (values.length === 0) throw configError('CP_ERR_MISSING_VALUE', '--broker-url is required');
  const brokers = values.map((v) => {
    const m = BROKER_NAME.exec(v);
    const urlText = m ? m[2]! : v;
    let url: BrokerUrl;
    try {
      url = parseBrokerUrl(urlText);
    } catch (err) {
      throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-url: ${(err as Error).message}`);
    }
    const endpoint = url.endpoints[0]!;
    const where = url.kind === 'redis' ? `/${url.db}` : url.vhost === '/' ? '' : `/${url.vhost}`;
    return { name: m ? m[1]! : `${endpoint.host}:${endpoint.port}${where}`, url };
  });
  const seen = new Set<string>();
  for (const b of brokers) {
    if (seen.has(b.name)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-url: two brokers named "${b.name}" (use NAME=URL)`);
    seen.add(b.name);
  }
  return brokers;
}

function parseTransportOptions(values: string[]): TransportOptions {
  const raw: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-transport-option: "${v}" (KEY=VALUE)`);
    raw[v.slice(0, eq).trim()] = v.slice(eq + 1);
  }
  const known = new Set(['global_keyprefix', 'fanout_prefix', 'fanout_patterns', 'master_name', 'visibility_timeout', 'sentinel_kwargs', 'priority_steps', 'sep']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-transport-option: unknown option "${key}"`);
  }
  const boolish = (key: string): boolean | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    const l = v.toLowerCase();
    if (['true', '1', 'yes'].includes(l)) return true;
    if (['false', '0', 'no', ''].includes(l)) return false;
    return undefined;
  };
  const fanoutPrefixRaw = raw['fanout_prefix'];
  const fanoutPrefix = fanoutPrefixRaw === undefined ? true : (boolish('fanout_prefix') ?? fanoutPrefixRaw);
  const fanoutPatternsRaw = raw['fanout_patterns'];
  const fanoutPatterns = boolish('fanout_patterns');
  if (fanoutPatternsRaw !== undefined && fanoutPatterns === undefined) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-transport-option: fanout_patterns="${fanoutPatternsRaw}" (true or false)`);
  }
  const vt = raw['visibility_timeout'];
  return {
    globalKeyprefix: raw['global_keyprefix'] ?? '',
    fanoutPrefix,
    fanoutPatterns,
    masterName: raw['master_name'],
    visibilityTimeout: vt === undefined ? undefined : parsePositiveNumber('broker-transport-option visibility_timeout', vt),
    raw,
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
