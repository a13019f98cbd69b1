// Every setting celery-pulse has, declared once: the flag, its environment twin, its config-file
// key and its help text all come from this table (the redis_exporter habit).

export interface FlagDef {
  /** Flag name without dashes; the env twin is CELERY_PULSE_<NAME> and the config-file key is the name. */
  readonly name: string;
  readonly help: string;
  /** Placeholder shown in --help; absent for boolean flags. */
  readonly value?: string;
  readonly boolean?: boolean;
  readonly repeatable?: boolean;
  /** Default as the user would type it. */
  readonly default?: string;
  readonly group: 'broker' | 'http' | 'metrics' | 'state' | 'traces' | 'general';
  /** Other spellings of the flag: Prometheus exporter conventions (`web.listen-address`). */
  readonly aliases?: readonly string[];
  /** One-letter form (`-Q`), as celery-exporter spells it. */
  readonly short?: string;
  /**
   * danihodovic/celery-exporter has this option: it is also read from CE_<NAME> (click's
   * auto_envvar_prefix="CE"). 'only': celery-pulse did not have it, so using it means the daemon is
   * run the celery-exporter way (config/celery-exporter.ts). `ceSplit` is how CE_<NAME> holds
   * several values: click splits a `multiple` option's variable on whitespace; -Q on commas.
   */
  readonly celeryExporter?: 'shared' | 'only';
  readonly ceSplit?: 'whitespace' | 'comma';
}

const DEFAULT_BUCKETS =
  '0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600';

/** celery-exporter's runtime buckets: prometheus_client's Histogram.DEFAULT_BUCKETS (5 ms to 10 s). */
const CELERY_EXPORTER_BUCKETS = '0.005,0.01,0.025,0.05,0.075,0.1,0.25,0.5,0.75,1,2.5,5,7.5,10';
/** celery-exporter's DEFAULT_QUEUE_WAIT_BUCKETS (exporter.py), +Inf left out (always added). */
export const CELERY_EXPORTER_QUEUE_WAIT_BUCKETS = '0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800';

export const FLAGS: readonly FlagDef[] = [
  {
    name: 'broker-url',
    value: '[NAME=]URL',
    repeatable: true,
    default: 'redis://localhost:6379/0',
    group: 'broker',
    celeryExporter: 'shared',
    help:
      'Broker to read Celery events from: redis://, rediss://, sentinel://h1:26379;sentinel://h2:26379, amqp://, amqps://. ' +
      'Repeat for several brokers; NAME= sets the `broker` label (default host:port/db).',
  },
  {
    name: 'broker-transport-option',
    value: 'KEY=VALUE',
    repeatable: true,
    group: 'broker',
    celeryExporter: 'shared',
    ceSplit: 'whitespace',
    help:
      "Same meaning as Celery's broker_transport_options: global_keyprefix, fanout_prefix, fanout_patterns, " +
      'master_name (Sentinel), visibility_timeout, sentinel_kwargs. VALUE may be JSON (as celery-exporter reads it); ' +
      'other options are accepted and named in one start-up line as not used.',
  },
  {
    name: 'broker-ssl-option',
    value: 'KEY=VALUE',
    repeatable: true,
    group: 'broker',
    celeryExporter: 'only',
    ceSplit: 'whitespace',
    help:
      "celery-exporter's form of Celery's broker_use_ssl: ca_certs, certfile and keyfile set --broker-tls-ca, " +
      '--broker-tls-cert and --broker-tls-key; cert_reqs=CERT_NONE turns certificate verification off, with a start-up warning; ' +
      'other keys are named in one start-up line as not used.',
  },
  {
    name: 'accept-content',
    value: 'LIST',
    group: 'broker',
    celeryExporter: 'only',
    help:
      "celery-exporter's Celery accept_content (json,pickle). Accepted for compatibility: Celery events are always " +
      'JSON (event_serializer), so one start-up line says the value is not needed.',
  },
  {
    name: 'retry-interval',
    value: 'SECONDS',
    default: '0',
    group: 'broker',
    celeryExporter: 'only',
    help:
      "celery-exporter's wait before reconnecting (0: exit on a broker error). Accepted for compatibility: celery-pulse " +
      'always reconnects, with backoff from 0.2 s to 1.5 s, and one start-up line says so.',
  },
  {
    name: 'event-exchange',
    value: 'NAME',
    default: 'celeryev',
    group: 'broker',
    help: "Celery's event_exchange setting, if the application renamed it.",
  },
  {
    name: 'broker-tls-ca',
    value: 'PATH',
    group: 'broker',
    help: 'PEM file of the CA certificates that sign the broker certificate (rediss://, amqps://, https:// management API).',
  },
  {
    name: 'broker-tls-cert',
    value: 'PATH',
    group: 'broker',
    help: 'PEM client certificate for brokers that require mutual TLS (with --broker-tls-key).',
  },
  {
    name: 'broker-tls-key',
    value: 'PATH',
    group: 'broker',
    help: 'PEM private key of --broker-tls-cert.',
  },
  {
    name: 'queue-metrics',
    boolean: true,
    default: 'true',
    group: 'broker',
    help: 'Read queue lengths, unacknowledged messages and consumers from the brokers at scrape time (--no-queue-metrics: events only).',
  },
  {
    name: 'queues',
    value: 'NAME[,NAME…]',
    repeatable: true,
    short: 'Q',
    group: 'broker',
    celeryExporter: 'shared',
    ceSplit: 'comma',
    help:
      'Queues whose length is always reported, besides those discovered (task-sent events, kombu bindings on Redis, ' +
      'worker inspection). Comma-separated as celery-exporter takes them; NAME or BROKER=NAME for one broker only.',
  },
  {
    name: 'queue-metrics-timeout',
    value: 'DURATION',
    default: '2s',
    group: 'broker',
    help: 'Longest a scrape waits for one broker\'s queue figures; a broker slower than this is skipped for that scrape.',
  },
  {
    name: 'rabbitmq-management-url',
    value: '[NAME=]URL',
    repeatable: true,
    group: 'broker',
    help:
      'RabbitMQ management API (http://user:pass@host:15672) for unacknowledged counts. NAME= picks the broker when ' +
      'several are AMQP; without credentials those of the broker URL are used.',
  },
  {
    name: 'listen-address',
    value: 'HOST:PORT',
    default: '0.0.0.0:9808',
    group: 'http',
    aliases: ['web.listen-address'],
    help:
      'Address of the HTTP server for /metrics, /health, /healthz and /readyz (9808: the port of celery-exporter). ' +
      'Wins over --host and --port from the same or a lower source.',
  },
  {
    name: 'host',
    value: 'HOST',
    default: '0.0.0.0',
    group: 'http',
    celeryExporter: 'only',
    help: "celery-exporter's listen host: the HOST of --listen-address.",
  },
  {
    name: 'port',
    value: 'PORT',
    default: '9808',
    group: 'http',
    celeryExporter: 'only',
    help: "celery-exporter's listen port: the PORT of --listen-address.",
  },
  {
    name: 'metrics-path',
    value: 'PATH',
    default: '/metrics',
    group: 'http',
    aliases: ['web.telemetry-path'],
    help: 'Path under which metrics are served.',
  },
  {
    name: 'runtime-buckets',
    value: 'SECONDS,…',
    default: DEFAULT_BUCKETS,
    group: 'metrics',
    help: 'Histogram buckets of celery_task_runtime_seconds.',
  },
  {
    name: 'queue-wait-buckets',
    value: 'SECONDS,…',
    default: DEFAULT_BUCKETS,
    group: 'metrics',
    celeryExporter: 'shared',
    help:
      'Histogram buckets of celery_task_queue_wait_seconds and, when set, of the compatible celery_task_queue_wait_time ' +
      "(else celery-exporter's own 0.05 s to 30 min).",
  },
  {
    name: 'buckets',
    value: 'SECONDS,…',
    default: CELERY_EXPORTER_BUCKETS,
    group: 'metrics',
    celeryExporter: 'only',
    help: "celery-exporter's runtime buckets: those of the compatible celery_task_runtime histogram.",
  },
  {
    name: 'default-queue-name',
    value: 'NAME',
    default: 'celery',
    group: 'metrics',
    celeryExporter: 'shared',
    help:
      'queue_name label for tasks whose queue is unknown (workers do not report it; only task-sent events ' +
      'carry it, when the client sets task_send_sent_event). Same default as celery-exporter.',
  },
  {
    name: 'generic-hostname-task-sent-metric',
    boolean: true,
    default: 'false',
    group: 'metrics',
    celeryExporter: 'shared',
    help:
      'Label celery_task_sent_total with hostname="generic" instead of the client node name (gen<pid>@host), ' +
      'which changes with every client process.',
  },
  {
    name: 'generic-hostname-worker-task-metric',
    boolean: true,
    default: 'false',
    group: 'metrics',
    celeryExporter: 'only',
    help:
      'Label the worker-side task counters and celery_task_runtime with hostname="generic" instead of the worker node ' +
      'name (celery_task_sent_total: see --generic-hostname-task-sent-metric).',
  },
  {
    name: 'metric-prefix',
    value: 'PREFIX',
    default: 'celery_',
    group: 'metrics',
    celeryExporter: 'only',
    help: 'Replaces the leading celery_ of every metric family name (celery_pulse_ families included), as celery-exporter does.',
  },
  {
    name: 'static-label',
    value: 'KEY=VALUE',
    repeatable: true,
    group: 'metrics',
    celeryExporter: 'only',
    ceSplit: 'whitespace',
    help: 'A label with a fixed value added to every series served.',
  },
  {
    name: 'celery-exporter-compat',
    boolean: true,
    default: 'false',
    group: 'metrics',
    help:
      'On by default when the daemon is run the celery-exporter way (a CE_* variable or a celery-exporter-only flag); ' +
      "--no-celery-exporter-compat keeps it off. Also expose danihodovic/celery-exporter's own series: celery_task_runtime and celery_task_queue_wait_time " +
      '(its histograms, without unit suffix, by name, hostname and queue_name), and every outcome counter of a task at 0 ' +
      'once it is seen, tasks never named as name="None", so its dashboards and celery-mixin alerts work unchanged.',
  },
  {
    name: 'max-tracked-tasks',
    value: 'N',
    // ~0.42 KB of heap and 184 bytes of slab each (bench/README.md): 50k keep RSS near
    // 137-150 MB, inside the manifests' 256Mi limit, and hold tens of seconds of finished tasks
    // at thousands a second.
    default: '50000',
    group: 'state',
    help: 'Most task ids remembered at once (finished ones are forgotten first).',
  },
  {
    name: 'task-ttl',
    value: 'DURATION',
    default: '24h',
    group: 'state',
    help: 'How long an unfinished task is remembered after its last event.',
  },
  {
    name: 'finished-task-ttl',
    value: 'DURATION',
    default: '10m',
    group: 'state',
    help: 'How long a finished task is remembered, to recognise duplicate and late events.',
  },
  {
    name: 'unknown-task-grace',
    value: 'DURATION',
    default: '5s',
    group: 'state',
    help:
      'How long an event for a task not yet named (its task-received not seen) is held before it is counted ' +
      'with name="unknown".',
  },
  {
    name: 'worker-timeout-heartbeats',
    value: 'N',
    default: '3',
    group: 'state',
    help: "A worker is down after this many of its own heartbeat intervals (freq) pass in silence.",
  },
  {
    name: 'worker-timeout',
    value: 'SECONDS',
    group: 'state',
    celeryExporter: 'only',
    help:
      "celery-exporter's form: a worker is down after this many seconds of silence (0: never), instead of " +
      '--worker-timeout-heartbeats (which wins when both are set).',
  },
  {
    name: 'worker-forget-after',
    value: 'DURATION',
    default: '1h',
    group: 'state',
    help: 'Series of a worker silent this long are dropped, so pod churn does not grow the series count.',
  },
  {
    name: 'purge-offline-worker-metrics',
    value: 'SECONDS',
    group: 'state',
    celeryExporter: 'only',
    help: "celery-exporter's form of --worker-forget-after, in seconds (0: never); --worker-forget-after wins when both are set.",
  },
  {
    name: 'inspect-interval',
    value: 'DURATION',
    default: '30s',
    group: 'broker',
    help:
      'How often workers are asked (pidbox broadcasts active_queues and stats, in the background, never during a scrape) ' +
      'for celery_active_worker_count and celery_active_process_count; replies are awaited at most --inspect-timeout.',
  },
  {
    name: 'inspect-timeout',
    value: 'DURATION',
    default: '2s',
    group: 'broker',
    help: 'How long one worker inspection, and each request of the task seeding at start-up and reconnection, waits for replies (a worker that has not answered by then is not counted).',
  },
  {
    name: 'stalled-threshold',
    value: '[NAME=]DURATION',
    repeatable: true,
    default: '1h',
    group: 'state',
    help:
      'A task in STARTED longer than this is stalled (celery_task_stalled). DURATION alone sets the global threshold; ' +
      'NAME=DURATION overrides it for one task name. Names without an override use a multiple of their own runtime ' +
      '(--stalled-runtime-factor) once 20 runs were seen, else the global one.',
  },
  {
    name: 'stalled-runtime-factor',
    value: 'N',
    default: '10',
    group: 'state',
    help:
      "Learned stalled threshold: N times the task name's 95th percentile runtime over its last 100 successes (at least 10 s). " +
      '0 turns learning off.',
  },
  {
    name: 'expect-task',
    value: 'NAME=INTERVAL',
    repeatable: true,
    group: 'state',
    help:
      'A periodic task (Celery Beat) expected every INTERVAL: exported as celery_task_expected_interval_seconds so one ' +
      'alert rule can fire when time() - celery_task_last_received_timestamp_seconds exceeds it.',
  },
  {
    name: 'enable-events',
    boolean: true,
    default: 'false',
    group: 'broker',
    help:
      "Send Celery's enable_events remote-control broadcast at start-up, on every reconnection and every " +
      '--enable-events-interval, so workers started without -E send task events (Redis brokers).',
  },
  {
    name: 'enable-events-interval',
    value: 'DURATION',
    default: '1m',
    group: 'broker',
    help: 'How often --enable-events repeats the broadcast, for workers started since.',
  },
  {
    name: 'max-frame-bytes',
    value: 'BYTES',
    default: '4194304',
    group: 'state',
    help: 'Broker messages larger than this are counted as decode errors and skipped unread.',
  },
  {
    name: 'only-worker',
    value: 'HOSTNAME-PATTERN',
    repeatable: true,
    group: 'state',
    help:
      'Sidecar mode: count only the events of workers whose node name matches (exact, or a glob with * and ?, ' +
      'e.g. celery@$(POD_NAME) or celery@*); task-sent is counted by the instance whose worker took the task.',
  },
  {
    name: 'broker-ping-interval',
    value: 'DURATION',
    default: '5s',
    group: 'broker',
    help:
      'How often the event connection proves the broker alive: a Redis PING (answered within the same time) or the ' +
      'AMQP heartbeat (missed twice). A paused or cut-off broker is reported down and reconnected.',
  },
  {
    name: 'max-label-values',
    value: 'N',
    default: '1000',
    group: 'metrics',
    help:
      'Most distinct values of each label (task name, hostname, queue, exception) per metric family; later values are ' +
      'recorded as "__overflow__" and counted in celery_pulse_label_overflow_total.',
  },
  {
    name: 'web-config-file',
    value: 'PATH',
    group: 'http',
    aliases: ['web.config.file'],
    help:
      'Prometheus exporter-toolkit web config (YAML): tls_server_config (cert_file, key_file, client_ca_file, ' +
      'client_auth_type) and basic_auth_users (bcrypt hashes). Protects every endpoint.',
  },
  {
    name: 'traces',
    boolean: true,
    default: 'false',
    group: 'traces',
    help:
      'Export OpenTelemetry spans built from the events over OTLP/HTTP: a publish span per task-sent and a process ' +
      'span per attempt. Endpoint, headers, service name, resource, sampler and batching from the standard OTEL_* variables.',
  },
  {
    name: 'otlp-endpoint',
    value: 'URL',
    group: 'traces',
    help:
      'Base URL of the OTLP/HTTP receiver (/v1/traces is appended), e.g. http://otel-collector:4318. ' +
      'Default: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318.',
  },
  {
    name: 'traces-task-args',
    boolean: true,
    default: 'false',
    group: 'traces',
    help:
      'Add task args and kwargs (Celery\'s repr strings) to spans, values of secret-looking keys (password, token, ' +
      'secret, key, authorization, cookie, …) replaced and each capped at 1024 characters.',
  },
  {
    name: 'traces-max-span-age',
    value: 'DURATION',
    default: '24h',
    group: 'traces',
    help: 'A task attempt with no outcome after this long has its span ended (ERROR, celery_pulse.end_reason=max-age).',
  },
  {
    name: 'config-file',
    value: 'PATH',
    group: 'general',
    help: 'YAML file of settings with the same names as the flags (flags and environment win).',
  },
  {
    name: 'log-level',
    value: 'LEVEL',
    default: 'info',
    group: 'general',
    aliases: ['log.level'],
    celeryExporter: 'shared',
    help:
      "trace, debug, info, warn, error, fatal or silent, in any case; celery-exporter's SUCCESS, WARNING and CRITICAL " +
      'mean info, warn and fatal.',
  },
  {
    name: 'log-format',
    value: 'FORMAT',
    default: 'json',
    group: 'general',
    aliases: ['log.format'],
    help: 'json (one object a line) or logfmt (key=value pairs).',
  },
  { name: 'help', boolean: true, short: 'h', group: 'general', help: 'Show this help and exit.' },
  { name: 'version', boolean: true, group: 'general', help: 'Show the version and exit.' },
];

export function envName(flag: string): string {
  return `CELERY_PULSE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/** celery-exporter's variable for the same option (click auto_envvar_prefix="CE"). */
export function ceEnvName(flag: string): string {
  return `CE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function helpText(version: string): string {
  const lines = [
    `celery-pulse ${version}: Prometheus metrics from Celery's event stream`,
    '',
    'Usage: celery-pulse [flags]',
    '',
    'Every flag also reads from the environment variable shown, and from --config-file.',
    "celery-exporter's options also read its CE_* variable; CELERY_PULSE_* wins when both are set.",
    'Durations: 30s, 5m, 1h30m, 250ms, 1d (or plain seconds).',
    'Repeatable flags take a comma-separated list from the environment.',
    '',
  ];
  for (const f of FLAGS) {
    const spellings = [...(f.short ? [`-${f.short}`] : []), `--${f.name}`, ...(f.aliases ?? []).map((a) => `--${a}`)];
    const head = `  ${spellings.join(', ')}${f.value ? ` ${f.value}` : ''}`;
    const def = f.default !== undefined && !f.boolean ? ` (default ${f.default})` : '';
    lines.push(head);
    lines.push(`      ${f.help}${def}${f.repeatable ? ' Repeatable.' : ''}`);
    if (f.name !== 'help' && f.name !== 'version') lines.push(`      env ${envName(f.name)}${f.celeryExporter ? `, ${ceEnvName(f.name)}` : ''}`);
  }
  return lines.join('\n') + '\n';
}
