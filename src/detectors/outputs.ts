import { duplicateExecutionOutput } from './duplicate-executions.js';
import { eventsOffOutput } from './events-off.js';
import { hiddenRetryOutput } from './hidden-retries.js';
import type { BrokerDetectors } from './index.js';
import { lostTaskOutput } from './lost-tasks.js';
import type { DetectorOutput } from './output.js';
import { periodicTaskOutput } from './periodic-tasks.js';
import { prefetchedTaskOutput } from './prefetched-tasks.js';
import { stalledTaskOutput } from './stalled-tasks.js';
import { streamGapOutput } from './stream-gaps.js';

/**
 * Every detector's families and log lines, in the order their families appear on /metrics. Adding
 * a detector is its module and one line here (and its observer in index.ts if it watches events).
 */
export const DETECTOR_OUTPUTS: readonly DetectorOutput<BrokerDetectors>[] = [
  lostTaskOutput,
  duplicateExecutionOutput,
  hiddenRetryOutput,
  stalledTaskOutput,
  prefetchedTaskOutput,
  periodicTaskOutput,
  streamGapOutput,
  eventsOffOutput,
];
