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
  readonly group: 'broker' | 'http' | 'metrics' | 'state' | 'general';
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
    name: 'max-tracked-tasks',
    value: 'N',
    default: '100000',
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
    name: 'max-frame-bytes',
    value: 'BYTES',
    default: '4194304',
    group: 'state',
    help: 'Broker messages larger than this are counted as decode errors and skipped unread.',
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
