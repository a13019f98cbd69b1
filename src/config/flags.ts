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
}

export const DEFAULT_BUCKETS =
  '0.01,0.025,0.05,0.1,0.25,0.5,1,2.5,5,10,30,60,120,300,600,1800,3600';

export const FLAGS: readonly FlagDef[] = [
  {
    name: 'broker-url',
    value: '[NAME=]URL',
    repeatable: true,
    default: 'redis://localhost:6379/0',
    group: 'broker',
    help:
      'Broker to read Celery events from: redis://, rediss://, sentinel://h1:26379;sentinel://h2:26379, amqp://, amqps://. ' +
      'Repeat for several brokers; NAME= sets the `broker` label (default host:port/db).',
  },
  {
    name: 'broker-transport-option',
    value: 'KEY=VALUE',
    repeatable: true,
    group: 'broker',
    help:
      "Same meaning as Celery's broker_transport_options: global_keyprefix, fanout_prefix, fanout_patterns, " +
      'master_name (Sentinel), visibility_timeout.',
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
    value: 'NAME',
    repeatable: true,
    group: 'broker',
    help:
      'Queues whose length is always reported, besides those discovered (task-sent events, kombu bindings on Redis). ' +
      'NAME or BROKER=NAME for one broker only.',
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
    help: 'Address of the HTTP server for /metrics, /healthz and /readyz (9808: the port of celery-exporter).',
  },
  {
    name: 'metrics-path',
    value: 'PATH',
    default: '/metrics',
    group: 'http',
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
    help: 'Histogram buckets of celery_task_queue_wait_seconds.',
  },
  {
    name: 'default-queue-name',
    value: 'NAME',
    default: 'celery',
    group: 'metrics',
    help:
      'queue_name label for tasks whose queue is unknown (workers do not report it; only task-sent events ' +
      'carry it, when the client sets task_send_sent_event). Same default as celery-exporter.',
  },
  {
    name: 'generic-hostname-task-sent-metric',
    boolean: true,
    default: 'false',
    group: 'metrics',
    help:
      'Label celery_task_sent_total with hostname="generic" instead of the client node name (gen<pid>@host), ' +
      'which changes with every client process.',
  },
  {
    name: 'celery-exporter-compat',
    boolean: true,
    default: 'false',
    group: 'metrics',
    help:
      "Also expose danihodovic/celery-exporter's own series: celery_task_runtime and celery_task_queue_wait_time " +
      '(its histograms, without unit suffix, by name, hostname and queue_name), and every outcome counter of a task at 0 ' +
      'once it is seen, so its dashboards and celery-mixin alerts work unchanged.',
  },
  {
    name: 'max-tracked-tasks',
    value: 'N',
    // ~0.42 KB of heap and 184 bytes of slab each (README "Benchmarks"): 50k keep RSS near
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
    name: 'worker-forget-after',
    value: 'DURATION',
    default: '1h',
    group: 'state',
    help: 'Series of a worker silent this long are dropped, so pod churn does not grow the series count.',
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
    help: 'trace, debug, info, warn, error, fatal or silent.',
  },
  { name: 'help', boolean: true, group: 'general', help: 'Show this help and exit.' },
  { name: 'version', boolean: true, group: 'general', help: 'Show the version and exit.' },
];

export function envName(flag: string): string {
  return `CELERY_PULSE_${flag.toUpperCase().replace(/-/g, '_')}`;
}

export function helpText(version: string): string {
  const lines = [
    `celery-pulse ${version}: Prometheus metrics from Celery's event stream`,
    '',
    'Usage: celery-pulse [flags]',
    '',
    'Every flag also reads from the environment variable shown, and from --config-file.',
    'Repeatable flags take a comma-separated list from the environment.',
    '',
  ];
  for (const f of FLAGS) {
    const head = `  --${f.name}${f.value ? ` ${f.value}` : ''}`;
    const def = f.default !== undefined && !f.boolean ? ` (default ${f.default})` : '';
    lines.push(head);
    lines.push(`      ${f.help}${def}${f.repeatable ? ' Repeatable.' : ''}`);
    if (f.name !== 'help' && f.name !== 'version') lines.push(`      env ${envName(f.name)}`);
  }
  return lines.join('\n') + '\n';
}
