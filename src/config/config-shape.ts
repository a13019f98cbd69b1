import type { BrokerUrl } from '../brokers/url.js';
import type { LogLevel } from './celery-exporter.js';
import type { StalledSettings } from './detector-settings.js';
import type { WebConfig } from '../http/web-config.js';
import type { TraceConfig } from './trace-settings.js';

// The validated, frozen configuration (config.ts builds it once at start-up). Types only, apart
// from the parsing, so that broker drivers can name their settings without importing the parser.

export type LogFormat = 'json' | 'logfmt';

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
  /** --generic-hostname-worker-task-metric: worker-side task series say hostname="generic". */
  readonly genericHostnameWorkerTask: boolean;
  readonly celeryExporterCompat: boolean;
  /** Buckets of celery-exporter's own histograms (--buckets, and --queue-wait-buckets when given). */
  readonly compatRuntimeBuckets: readonly number[];
  readonly compatQueueWaitBuckets: readonly number[];
  /** Replaces the leading `celery_` of family names at exposition (--metric-prefix). */
  readonly metricPrefix: string;
  /** Labels added to every series served (--static-label). */
  readonly staticLabels: Readonly<Record<string, string>>;
  /** Seconds of silence after which a worker is down (--worker-timeout), overriding the heartbeat factor; Infinity: never. */
  readonly workerTimeout: number | undefined;
  /** Seconds between background worker inspections, and the wait for their replies. */
  readonly inspectInterval: number;
  readonly inspectTimeout: number;
  readonly logFormat: LogFormat;
  /**
   * Why the daemon counts as run the celery-exporter way (the CE_* variables or celery-exporter-only
   * flags given); undefined when it is not.
   */
  readonly celeryExporterWay: string | undefined;
  /** Start-up lines about how settings were read (a variable that lost to its twin, an option not needed). */
  readonly notices: readonly string[];
  /** Start-up lines about a setting that weakens security, logged as warnings. */
  readonly warnings: readonly string[];
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
  /** Cap on distinct values per label per metric family (metrics/label-guard.ts). */
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

/** PEM files for TLS brokers (paths; read when a connection is made). */
export interface TlsFiles {
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  /**
   * Whether the broker's certificate is checked. Off only by celery-exporter's
   * `--broker-ssl-option cert_reqs=CERT_NONE`, kept for drop-in compatibility.
   */
  readonly verify: boolean;
}

/** A RabbitMQ management API base URL with its credentials taken out. */
export interface ManagementEndpoint {
  /** `http(s)://host:port[/prefix]`, no credentials, no trailing slash. */
  readonly baseUrl: string;
  readonly username: string | undefined;
  readonly password: string | undefined;
  /** For logs: the URL with `****` for the password. */
  readonly display: string;
}
