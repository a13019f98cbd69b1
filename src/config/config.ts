import { parseBrokerUrl } from '../brokers/url.js';
import type { BrokerUrl } from '../brokers/url.js';
import { configError } from '../errors.js';
import { parseManagementUrls, parseQueues, parseTlsFiles } from './broker-settings.js';
import { CELERY_EXPORTER_QUEUE_WAIT_BUCKETS, FLAGS } from './flags.js';
import { parseArgv, readConfigFile, readEnv } from './sources.js';
import { parseExporterBuckets, parseLogLevel, parseMetricPrefix, parseSecondsOrNever, parseSslOptions, parseStaticLabels, readCeEnv } from './celery-exporter.js';
import { parseExpectedTasks, parseStalled } from './detector-settings.js';
import { parseWorkerPatterns } from '../filter/hostname-pattern.js';
import { loadWebConfig } from '../http/web-config.js';
import { parseTraceConfig } from './trace-settings.js';
import { parseDuration, parseListenAddress, parseBuckets, parsePositiveInt, parsePositiveNumber } from './values.js';

export type { BrokerConfig, Config, TransportOptions } from './config-shape.js';
import type { BrokerConfig, CliAction, Config, TransportOptions } from './config-shape.js';

const byName = new Map(FLAGS.map((f) => [f.name, f]));

/** Where a setting's value came from: a higher rank wins. */
type Rank = 0 | 1 | 2 | 3;

interface Sources {
  /** The setting's values (flag > environment > config file > default). */
  value(name: string): string[];
  /** 3 flag, 2 environment, 1 config file, 0 default. */
  rank(name: string): Rank;
}

/**
 * Reads argv, then the environment, then the config file, into one validated and frozen Config.
 * Precedence: flag > environment > config file > default. Throws a CeleryPulseError naming the
 * first bad flag or value.
 */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): CliAction {
  const { values: fromArgs, exporterSpellings } = parseArgv(argv);
  if (fromArgs.has('help')) return { action: 'help' };
  if (fromArgs.has('version')) return { action: 'version' };
  const fromEnv = readEnv(env);
  const ce = readCeEnv(env);
  for (const [name, v] of ce.values) if (!fromEnv.has(name)) fromEnv.set(name, v);
  const configPath = last(fromArgs.get('config-file')) ?? last(fromEnv.get('config-file'));
  const fromFile = configPath !== undefined ? readConfigFile(configPath) : new Map<string, string[]>();
  const sources: Sources = {
    value: (name) => {
      const v = fromArgs.get(name) ?? fromEnv.get(name) ?? fromFile.get(name);
      if (v !== undefined) return v;
      const def = byName.get(name)?.default;
      return def !== undefined ? [def] : [];
    },
    rank: (name) => (fromArgs.has(name) ? 3 : fromEnv.has(name) ? 2 : fromFile.has(name) ? 1 : 0),
  };
  const exporterFlags = [...new Set([...[...fromArgs.keys()].filter((n) => byName.get(n)?.celeryExporter === 'only').map((n) => `--${n}`), ...exporterSpellings])];
  const way = [...ce.used, ...exporterFlags];
  return { action: 'run', config: deepFreeze(buildConfig(sources, env, way.length > 0 ? way.join(', ') : undefined, ce.notices)) };
}

function last(values: string[] | undefined): string | undefined {
  return values === undefined ? undefined : values[values.length - 1];
}

type ValueOf = (name: string) => string[];

function one(value: ValueOf, name: string): string {
  const v = last(value(name));
  if (v === undefined) throw configError('CP_ERR_MISSING_VALUE', `--${name} is required`);
  return v;
}

function bool(value: ValueOf, name: string): boolean {
  const v = one(value, name).toLowerCase();
  if (['true', '1', 'yes', 'on', 't', 'y'].includes(v)) return true;
  if (['false', '0', 'no', 'off', 'f', 'n'].includes(v)) return false;
  throw configError('CP_ERR_FLAG_VALUE', `invalid value for --${name}: "${v}" (true or false)`);
}

function buildConfig(sources: Sources, env: NodeJS.ProcessEnv, celeryExporterWay: string | undefined, envNotices: readonly string[]): Config {
  const { value, rank } = sources;
  const notices = [...envNotices];
  const { transport, unused: unusedTransport } = parseTransportOptions(value('broker-transport-option'));
  if (unusedTransport.length > 0) notices.push(`broker transport options not used by celery-pulse: ${unusedTransport.join(', ')}`);
  const logLevel = parseLogLevel(one(value, 'log-level'));
  const logFormat = one(value, 'log-format');
  if (logFormat !== 'json' && logFormat !== 'logfmt') throw configError('CP_ERR_FLAG_VALUE', `invalid value for --log-format: "${logFormat}" (json or logfmt)`);
  const metricsPath = one(value, 'metrics-path');
  if (!/^\/[\w./-]*$/.test(metricsPath) || ['/', '/health', '/healthz', '/readyz'].includes(metricsPath)) {
    throw configError('CP_ERR_FLAG_VALUE', `invalid value for --metrics-path: "${metricsPath}"`);
  }
  const exchange = one(value, 'event-exchange');
  if (!/^[\w.:-]+$/.test(exchange)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --event-exchange: "${exchange}"`);
  const brokers = parseBrokers(value('broker-url'));
  const webConfigFile = last(value('web-config-file'));
  const ssl = parseSslOptions(value('broker-ssl-option'));
  if (ssl.unused.length > 0) notices.push(`broker SSL options not used by celery-pulse: ${ssl.unused.join(', ')}`);
  if (rank('accept-content') > 0) notices.push('--accept-content is not needed: Celery events are always JSON (event_serializer)');
  if (rank('retry-interval') > 0) notices.push('--retry-interval is not needed: celery-pulse always reconnects to a lost broker, with backoff from 0.2 s to 1.5 s');
  const queueWaitBuckets = one(value, 'queue-wait-buckets');
  const compat = rank('celery-exporter-compat') > 0 ? bool(value, 'celery-exporter-compat') : celeryExporterWay !== undefined;
  if (celeryExporterWay !== undefined) {
    notices.push(
      compat
        ? `run the celery-exporter way (${celeryExporterWay}): celery-exporter's series are served too (--celery-exporter-compat)`
        : `run the celery-exporter way (${celeryExporterWay}), but --celery-exporter-compat is off: celery-exporter's histograms are not served`,
    );
  }
  return {
    brokers,
    transport,
    eventExchange: exchange,
    listen: listenAddress(sources, notices),
    metricsPath,
    runtimeBuckets: parseBuckets('runtime-buckets', one(value, 'runtime-buckets')),
    // celery-exporter's form may end in inf (str(float('inf'))), which every histogram has anyway.
    queueWaitBuckets: parseExporterBuckets('queue-wait-buckets', queueWaitBuckets),
    defaultQueueName: nonEmpty('default-queue-name', one(value, 'default-queue-name')),
    genericHostnameTaskSent: bool(value, 'generic-hostname-task-sent-metric'),
    genericHostnameWorkerTask: bool(value, 'generic-hostname-worker-task-metric'),
    celeryExporterCompat: compat,
    compatRuntimeBuckets: parseExporterBuckets('buckets', one(value, 'buckets')),
    compatQueueWaitBuckets: parseExporterBuckets('queue-wait-buckets', rank('queue-wait-buckets') > 0 ? queueWaitBuckets : CELERY_EXPORTER_QUEUE_WAIT_BUCKETS),
    metricPrefix: parseMetricPrefix(one(value, 'metric-prefix')),
    staticLabels: parseStaticLabels(value('static-label')),
    workerTimeout: preferOwn(sources, notices, 'worker-timeout-heartbeats', 'worker-timeout') ? undefined : parseSecondsOrNever('worker-timeout', one(value, 'worker-timeout')),
    inspectInterval: parseDuration('inspect-interval', one(value, 'inspect-interval'), 86400),
    inspectTimeout: parseDuration('inspect-timeout', one(value, 'inspect-timeout'), 60),
    logFormat,
    celeryExporterWay,
    notices,
    warnings: ssl.verify ? [] : ['--broker-ssl-option cert_reqs=CERT_NONE: the broker certificate is not verified (anyone on the path can read the broker traffic); give --broker-tls-ca instead'],
    maxTrackedTasks: parsePositiveInt('max-tracked-tasks', one(value, 'max-tracked-tasks')),
    taskTtl: parseDuration('task-ttl', one(value, 'task-ttl')),
    finishedTaskTtl: parseDuration('finished-task-ttl', one(value, 'finished-task-ttl')),
    unknownTaskGrace: parseDuration('unknown-task-grace', one(value, 'unknown-task-grace'), 3600),
    workerTimeoutHeartbeats: parsePositiveNumber('worker-timeout-heartbeats', one(value, 'worker-timeout-heartbeats')),
    workerForgetAfter: preferOwn(sources, notices, 'worker-forget-after', 'purge-offline-worker-metrics')
      ? parseDuration('worker-forget-after', one(value, 'worker-forget-after'))
      : parseSecondsOrNever('purge-offline-worker-metrics', one(value, 'purge-offline-worker-metrics')),
    stalled: parseStalled(value('stalled-threshold'), one(value, 'stalled-runtime-factor')),
    expectTasks: parseExpectedTasks(value('expect-task')),
    enableEvents: bool(value, 'enable-events'),
    enableEventsInterval: parseDuration('enable-events-interval', one(value, 'enable-events-interval'), 86400),
    maxFrameBytes: parsePositiveInt('max-frame-bytes', one(value, 'max-frame-bytes')),
    logLevel,
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
    tls: parseTlsFiles(last(value('broker-tls-ca')) ?? ssl.ca, last(value('broker-tls-cert')) ?? ssl.cert, last(value('broker-tls-key')) ?? ssl.key, ssl.verify),
    queueMetrics: bool(value, 'queue-metrics'),
    onlyWorkers: parseWorkerPatterns(value('only-worker')),
    queueMetricsTimeout: parseDuration('queue-metrics-timeout', one(value, 'queue-metrics-timeout'), 60),
    // celery-exporter splits -Q/--queues on commas: `--queues a,b` is two queues.
    queues: parseQueues(value('queues').flatMap((v) => v.split(',')).filter((v) => v.trim() !== ''), brokers),
    rabbitmqManagement: parseManagementUrls(value('rabbitmq-management-url'), brokers),
  };
}

/**
 * Whether celery-pulse's own setting `own` is used rather than celery-exporter's `theirs` for the
 * same thing (in other units). `theirs` is used only when given from a higher source than `own`;
 * given from the same or a lower one, `own` wins and a notice says so.
 */
function preferOwn(sources: Sources, notices: string[], own: string, theirs: string): boolean {
  const ownRank = sources.rank(own);
  const theirRank = sources.rank(theirs);
  if (theirRank === 0) return true;
  if (theirRank > ownRank) return false;
  notices.push(`--${own} is used; --${theirs} names the same setting and is ignored`);
  return true;
}

/** --listen-address, else celery-exporter's --host and --port (see preferOwn). */
function listenAddress(sources: Sources, notices: string[]): { host: string; port: number } {
  const exporterRank = Math.max(sources.rank('host'), sources.rank('port'));
  const own = parseListenAddress('listen-address', one(sources.value, 'listen-address'));
  if (exporterRank === 0) return own;
  if (exporterRank <= sources.rank('listen-address')) {
    notices.push('--listen-address is used; --host/--port name the same setting and are ignored');
    return own;
  }
  // The half not given comes from --listen-address, not from --host's default: `--port 9000`
  // over a file's 127.0.0.1:9808 must not start listening on every interface.
  const host = sources.rank('host') > 0 ? one(sources.value, 'host').trim() : own.host.includes(':') ? `[${own.host}]` : own.host;
  const port = sources.rank('port') > 0 ? one(sources.value, 'port').trim() : String(own.port);
  if (host === '' || /[\s[\]]/.test(host) && !/^\[[0-9a-fA-F:.]+\]$/.test(host)) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --host: "${host}"`);
  if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --port: "${port}" (0 to 65535)`);
  return { host: host.replace(/^\[(.*)\]$/, '$1'), port: Number(port) };
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

function parseTransportOptions(values: string[]): { transport: TransportOptions; unused: string[] } {
  const raw: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw configError('CP_ERR_FLAG_VALUE', `invalid value for --broker-transport-option: "${v}" (KEY=VALUE)`);
    raw[v.slice(0, eq).trim()] = jsonString(v.slice(eq + 1));
  }
  const known = new Set(['global_keyprefix', 'fanout_prefix', 'fanout_patterns', 'master_name', 'visibility_timeout', 'sentinel_kwargs', 'priority_steps', 'sep']);
  // celery-exporter hands any option to kombu: an option celery-pulse has no use for is named, not refused.
  const unused = Object.keys(raw).filter((key) => !known.has(key));
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
  const transport = {
    globalKeyprefix: raw['global_keyprefix'] ?? '',
    fanoutPrefix,
    fanoutPatterns,
    masterName: raw['master_name'],
    visibilityTimeout: vt === undefined ? undefined : parsePositiveNumber('broker-transport-option visibility_timeout', vt),
    raw,
  };
  return { transport, unused };
}

/** celery-exporter reads option values as JSON when they parse: `"abc"` is the string abc. */
function jsonString(value: string): string {
  if (!/^".*"$/s.test(value)) return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return typeof parsed === 'string' ? parsed : value;
  } catch {
    return value;
  }
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
