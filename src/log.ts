import { pino } from 'pino';
import type { Logger } from 'pino';
import { redactSecrets } from './brokers/url.js';

/**
 * JSON (or logfmt, --log-format) logs to stdout. Every line passes through a last scrub before it is written: URL
 * credentials and each configured secret (broker passwords) are replaced, whatever code path
 * produced the text (a library error message can quote a URL).
 */
export function createLogger(level: string, secrets: readonly string[], destination?: NodeJS.WritableStream, format: 'json' | 'logfmt' = 'json'): Logger {
  const literal = secrets.filter((s) => s.length >= 3);
  const scrubJson = (line: string): string => {
    let out = redactSecrets(line);
    for (const s of literal) if (out.includes(s)) out = out.split(s).join('****');
    return out;
  };
  const scrub = format === 'logfmt' ? (line: string): string => toLogfmt(scrubJson(line)) : scrubJson;
  return pino(
    {
      level,
      base: { name: 'celery-pulse' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: scrub },
    },
    destination ?? pino.destination({ dest: 1, sync: false }),
  );
}

/**
 * At most `limit` lines per `windowMs` for each key; what was held back is reported in the next
 * line. Bad input can arrive thousands of times a second and must not flood the log.
 */
export class RateLimitedLog {
  private readonly windows = new Map<string, { start: number; count: number; suppressed: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly limit = 5,
    private readonly windowMs = 60_000,
  ) {}

  warn(key: string, fields: Record<string, unknown>, message: string): void {
    const now = Date.now();
    let w = this.windows.get(key);
    if (w === undefined || now - w.start >= this.windowMs) {
      const suppressed = w?.suppressed ?? 0;
      w = { start: now, count: 0, suppressed: 0 };
      this.windows.set(key, w);
      if (suppressed > 0) fields = { ...fields, suppressedSinceLastLine: suppressed };
    }
    if (w.count < this.limit) {
      w.count++;
      this.logger.warn(fields, message);
    } else {
      w.suppressed++;
    }
  }
}

/**
 * One pino JSON line as logfmt (`time=… level=info msg="…" key=value`), the other format of the
 * Prometheus exporters' --log.format. Nested values are written as their JSON text.
 */
export function toLogfmt(jsonLine: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(jsonLine) as Record<string, unknown>;
  } catch {
    return jsonLine;
  }
  const parts: string[] = [];
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    parts.push(`${key}=${/^[^\s"=]+$/.test(text) ? text : JSON.stringify(text)}`);
  }
  return `${parts.join(' ')}\n`;
}
