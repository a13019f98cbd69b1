import type { Logger } from 'pino';
import type { RateLimitedLog } from '../log.js';
import type { Finding } from './findings.js';
import type { FindingKind } from './output.js';
import { DETECTOR_OUTPUTS } from './outputs.js';

type LogLine = (logger: Logger, limited: RateLimitedLog, broker: string, finding: Finding) => void;

const LOG_LINES = new Map<FindingKind, LogLine>(DETECTOR_OUTPUTS.flatMap((output) => Object.entries(output.logLines ?? {}) as [FindingKind, LogLine][]));

/**
 * Log lines for detector findings that a person should read: lost tasks, duplicate executions,
 * late reports of lost tasks, and workers with task events off, each written by its detector's
 * module. One line per finding; attempts are metrics only. Per-task lines go through `limited`:
 * a dead worker with a hundred prefetched tasks must not write a hundred lines a second (the
 * counters have the exact numbers).
 */
export function logFinding(logger: Logger, limited: RateLimitedLog, broker: string, finding: Finding): void {
  LOG_LINES.get(finding.kind)?.(logger, limited, broker, finding);
}
