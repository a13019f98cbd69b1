import { fs, http } from '../../builtins.js';
import { request as httpsRequest } from 'node:https';
import type { ManagementEndpoint, TlsFiles } from '../../config/broker-settings.js';

export interface ManagementQueue {
  readonly unacked: number;
  readonly ready: number;
  readonly consumers: number;
}

/** Largest answer read: a vhost with thousands of queues, trimmed by `columns`, stays far below. */
const MAX_RESPONSE_BYTES = 32 * 1024 * 1024;

/**
 * The RabbitMQ management API, for what AMQP cannot tell: messages delivered and not acknowledged.
 * One GET of the vhost's queues per scrape, trimmed with `columns`. The broker refreshes these
 * statistics every `collect_statistics_interval` (5 s by default), so they may lag that much.
 */
export class RabbitManagement {
  private readonly auth: string | undefined;
  private readonly ca: Buffer | undefined;
  private readonly verify: boolean;

  constructor(
    private readonly endpoint: ManagementEndpoint,
    fallbackUser: string | undefined,
    fallbackPassword: string | undefined,
    tls: TlsFiles | undefined,
  ) {
    const user = endpoint.username ?? fallbackUser ?? 'guest';
    const password = endpoint.password ?? fallbackPassword ?? 'guest';
    this.auth = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
    this.ca = tls?.ca !== undefined ? fs.readFileSync(tls.ca) : undefined;
    this.verify = tls?.verify !== false;
  }

  /** Queues of `vhost` by name. Rejects on HTTP or network errors (messages never hold the password). */
  async queues(vhost: string, timeoutMs: number): Promise<Map<string, ManagementQueue>> {
    const url = new URL(`${this.endpoint.baseUrl}/api/queues/${encodeURIComponent(vhost)}`);
    url.searchParams.set('columns', 'name,messages_ready,messages_unacknowledged,consumers');
    const body = await this.get(url, timeoutMs);
    const rows = JSON.parse(body) as unknown;
    if (!Array.isArray(rows)) throw new Error('management API: unexpected answer');
    const out = new Map<string, ManagementQueue>();
    for (const row of rows as Record<string, unknown>[]) {
      if (typeof row['name'] !== 'string') continue;
      out.set(row['name'], { unacked: num(row['messages_unacknowledged']), ready: num(row['messages_ready']), consumers: num(row['consumers']) });
    }
    return out;
  }

  private get(url: URL, timeoutMs: number): Promise<string> {
    const request = url.protocol === 'https:' ? httpsRequest : http.request;
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'GET', headers: { authorization: this.auth, accept: 'application/json' }, timeout: timeoutMs, ca: this.ca, rejectUnauthorized: this.verify }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_RESPONSE_BYTES) req.destroy(new Error('management API: answer too large'));
          else chunks.push(c);
        });
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`management API ${this.endpoint.display}: HTTP ${res.statusCode}`));
          else resolve(Buffer.concat(chunks).toString('utf8'));
        });
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`management API ${this.endpoint.display}: no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => reject(new Error(`management API ${this.endpoint.display}: ${err.message}`)));
      req.end();
    });
  }
}

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}
