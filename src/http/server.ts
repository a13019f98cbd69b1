import { http } from '../builtins.js';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { RateLimitedLog } from '../log.js';
import { OPENMETRICS_CONTENT_TYPE, PROMETHEUS_CONTENT_TYPE, mayHave, negotiate, requestedNames, serialize, unprefixed } from './exposition.js';
import type { MetricSource, Relabel } from './exposition.js';
import { AccessControl, tlsServerOptions } from './access.js';
import type { WebConfig } from './web-config.js';
import { SharedRender } from './shared-render.js';
import { shedIdleConnections } from './connections.js';
import type { Collectors, FamilyFilter } from '../metrics/collector.js';

export interface HttpOptions {
  readonly host: string;
  readonly port: number;
  readonly metricsPath: string;
  readonly registry: MetricSource;
  /** Brings the scrape-time families up to date at the start of each rendering of /metrics. */
  readonly collectors?: Pick<Collectors, 'update'> | undefined;
  /** Names of event sources not attached yet; empty when ready. */
  readonly notReady: () => string[];
  /** --metric-prefix and --static-label. */
  readonly relabel?: Relabel | undefined;
  readonly version: string;
  readonly logger: Logger;
  /** TLS and basic auth (--web-config-file); every endpoint is protected when set. */
  readonly webConfig?: WebConfig | undefined;
}

// Limits that keep a misbehaving client from holding the exporter: Prometheus sends small GETs.
const MAX_HEADER_BYTES = 16 * 1024;
const REQUEST_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 5_000;
// Node checks the two timeouts above only this often (its default is 30 s).
const CONNECTIONS_CHECKING_INTERVAL_MS = 1000;
// Beyond this many open connections the longest-idle ones are closed (connections.ts).
const MAX_CONNECTIONS = 256;
// Longer than Prometheus' scrape interval, so its keep-alive connection is reused.
const KEEP_ALIVE_TIMEOUT_MS = 65_000;
// On shutdown, requests in flight get this long to finish; then every connection is cut, so a
// client stuck mid-request (server.close() waits for it) cannot hold a SIGTERMed pod.
const CLOSE_GRACE_MS = 1000;

export interface HttpServer {
  readonly server: Server;
  /** The bound port (useful with port 0). */
  readonly port: number;
  close(): Promise<void>;
}

/**
 * /metrics, /healthz (liveness: the process answers), /readyz (every event source attached),
 * /health (celery-exporter's probe: 200 while connected to the brokers, 503 otherwise; its chart
 * points both its liveness and readiness probes there) and /.
 */
export async function startHttpServer(options: HttpOptions): Promise<HttpServer> {
  const limits = {
    maxHeaderSize: MAX_HEADER_BYTES,
    requestTimeout: REQUEST_TIMEOUT_MS,
    headersTimeout: HEADERS_TIMEOUT_MS,
    connectionsCheckingInterval: CONNECTIONS_CHECKING_INTERVAL_MS,
  };
  const web = options.webConfig;
  const access = web !== undefined ? new AccessControl(web, options.logger) : undefined;
  const refusals = new RateLimitedLog(options.logger);
  const renders = new SharedRender();
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    for (const [name, value] of Object.entries(web?.headers ?? {})) res.setHeader(name, value);
    guarded(access, refusals, options, renders, req, res).catch((err: unknown) => {
      options.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'HTTP handler failed');
      if (!res.headersSent) send(res, req, 500, 'text/plain; charset=utf-8', 'internal error\n');
      else res.destroy();
    });
  };
  const server = web?.tls !== undefined ? createHttpsServer({ ...limits, ...tlsServerOptions(web.tls) }, listener) : http.createServer(limits, listener);
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  shedIdleConnections(server, MAX_CONNECTIONS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      }),
  };
}

async function guarded(access: AccessControl | undefined, refusals: RateLimitedLog, options: HttpOptions, renders: SharedRender, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const refused = access !== undefined ? await access.check(req) : undefined;
  if (refused === undefined) return handle(options, renders, req, res);
  refusals.warn(`http:${refused.reason}`, { reason: refused.reason, remote: req.socket.remoteAddress }, 'refused an HTTP request');
  if (refused.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="celery-pulse", charset="UTF-8"');
  const body = refused.status === 401 ? 'unauthorized\n' : refused.status === 429 ? 'too many authentication attempts\n' : 'forbidden\n';
  return send(res, req, refused.status, 'text/plain; charset=utf-8', body);
}

async function handle(options: HttpOptions, renders: SharedRender, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    return send(res, req, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
  }
  switch (path) {
    case options.metricsPath:
      return metrics(options, renders, req, res);
    case '/healthz':
      return send(res, req, 200, 'text/plain; charset=utf-8', 'ok\n');
    case '/readyz': {
      const waiting = options.notReady();
      if (waiting.length === 0) return send(res, req, 200, 'text/plain; charset=utf-8', 'ready\n');
      return send(res, req, 503, 'text/plain; charset=utf-8', `not attached to: ${waiting.join(', ')}\n`);
    }
    case '/health': {
      const waiting = options.notReady();
      if (waiting.length === 0) return send(res, req, 200, 'text/plain; charset=utf-8', 'Connected to the broker\n');
      return send(res, req, 503, 'text/plain; charset=utf-8', `Failed to connect to broker: ${waiting.join(', ')}\n`);
    }
    case '/':
      return send(res, req, 200, 'text/html; charset=utf-8', landingPage(options));
    default:
      return send(res, req, 404, 'text/plain; charset=utf-8', 'not found\n');
  }
}

/**
 * /metrics, optionally restricted with `name[]` parameters. The collectors of the families asked
 * for run first (a scrape of other families does not query the brokers' queue depths), then the
 * text is written in time slices (exposition.ts), so broker frames keep flowing during a large
 * scrape; if the client goes away meanwhile the work stops. Concurrent scrapes of one filter
 * share the rendering, collectors included. HEAD answers with the headers only and collects
 * nothing: collecting can query the brokers, and its Content-Length would be stale by the next GET.
 */
async function metrics(options: HttpOptions, renders: SharedRender, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const format = negotiate(req.headers.accept);
  const contentType = format === 'openmetrics' ? OPENMETRICS_CONTENT_TYPE : PROMETHEUS_CONTENT_TYPE;
  if (req.method === 'HEAD') {
    res.statusCode = 200;
    res.setHeader('Content-Type', contentType);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.end();
    return;
  }
  const gone = new AbortController();
  const onClose = (): void => {
    if (!res.writableEnded) gone.abort(new Error('client went away'));
  };
  res.once('close', onClose);
  try {
    const names = requestedNames(req.url);
    const key = `${format}\u0000${names === undefined ? '*' : [...names].sort().join('\u0000')}`;
    const wanted = names === undefined ? undefined : unprefixed(names, options.relabel);
    const wants: FamilyFilter = wanted === undefined ? undefined : (family) => mayHave(family, wanted);
    const render = async (signal: AbortSignal): Promise<string> => {
      await options.collectors?.update(wants);
      return serialize(options.registry, format, { names, signal, relabel: options.relabel });
    };
    const body = await renders.get(key, render, gone.signal);
    send(res, req, 200, contentType, body);
  } catch (err) {
    if (gone.signal.aborted) return;
    throw err;
  } finally {
    res.off('close', onClose);
  }
}

function send(res: ServerResponse, req: IncomingMessage, status: number, contentType: string, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('Content-Type', contentType);
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.end(req.method === 'HEAD' ? undefined : body);
}

function landingPage(options: HttpOptions): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>celery-pulse</title></head>
<body>
<h1>celery-pulse ${options.version}</h1>
<p>Prometheus metrics from Celery's event stream.</p>
<ul>
<li><a href="${options.metricsPath}">${options.metricsPath}</a>: metrics</li>
<li><a href="/healthz">/healthz</a>: liveness</li>
<li><a href="/readyz">/readyz</a>: readiness (attached to every broker)</li>
<li><a href="/health">/health</a>: celery-exporter's probe (connected to every broker)</li>
</ul>
</body></html>
`;
}
