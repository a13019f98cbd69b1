// One /metrics scrape of a registry the size of a busy cluster's, without HTTP: the daemon's own
// families (src/pipeline.ts createMetrics), filled through the state machine and BrokerMetrics
// with ~10k task series (100 task names x 25 workers, each with a success and a failure), then
// written by http/exposition.ts serialize() in both formats, in one go (no time slices).
// Prints ms (wall clock and CPU) per scrape, for quick iterations on the serializer.
//
//   node --expose-gc <compiled>/bench/micro/scrape.js [--names 100] [--workers 25] [--scrapes 40]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../src/config/config.js';
import { serialize } from '../../src/http/exposition.js';
import type { ExpositionFormat } from '../../src/http/exposition.js';
import { createLogger, RateLimitedLog } from '../../src/log.js';
import { createBrokerPipeline, createMetrics } from '../../src/pipeline.js';
import type { TaskEvent } from '../../src/protocol/events.js';

function taskEvent(type: TaskEvent['type'], uuid: string, hostname: string, timestamp: number, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    kind: 'task', type, uuid, hostname, timestamp, clock: undefined, name: undefined, queue: undefined, retries: undefined,
    rootId: undefined, parentId: undefined, eta: undefined, exception: undefined, traceback: undefined, runtime: undefined,
    args: undefined, kwargs: undefined, terminated: undefined, expired: undefined, requeue: undefined, ...extra,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { names: { type: 'string', default: '100' }, workers: { type: 'string', default: '25' }, scrapes: { type: 'string', default: '40' } } });
  const names = Number(values.names);
  const workers = Number(values.workers);
  const scrapes = Number(values.scrapes);
  const loaded = loadConfig(['--broker-url', 'redis://127.0.0.1:1/0', '--log-level', 'error'], {});
  if (loaded.action !== 'run') throw new Error('unexpected config action');
  const config = loaded.config;
  const logger = createLogger('error', []);
  const sinks = createMetrics(config, 'bench');
  const pipeline = createBrokerPipeline(config, config.brokers[0]!, { ...sinks, traces: undefined, logger, badInput: new RateLimitedLog(logger), findingLog: new RateLimitedLog(logger) });
  const t = Date.now() / 1000;
  let id = 0;
  for (let n = 0; n < names; n++) {
    const name = `app.tasks.job_${n}`;
    const queue = `queue_${n % 4}`;
    for (let w = 0; w < workers; w++) {
      const hostname = `celery@worker-${w}`;
      for (const outcome of ['task-succeeded', 'task-failed'] as const) {
        const uuid = `task-${id++}`;
        const at = (dt: number) => t + dt + (n * workers + w) / 1000;
        pipeline.state.apply(taskEvent('task-received', uuid, hostname, at(0), { name, queue }), at(0));
        pipeline.state.apply(taskEvent('task-started', uuid, hostname, at(0.2)), at(0.2));
        const end = taskEvent(outcome, uuid, hostname, at(0.2 + (n % 7)), outcome === 'task-failed' ? { exception: "ValueError('x')" } : { runtime: n % 7 });
        pipeline.state.apply(end, at(0.2 + (n % 7)));
      }
    }
  }
  const registry = sinks.metrics.registry;
  const out: Record<string, unknown> = {};
  for (const format of ['prometheus', 'openmetrics'] as ExpositionFormat[]) {
    const text = await serialize(registry, format, { sliceMs: Infinity });
    for (let i = 0; i < 5; i++) await serialize(registry, format, { sliceMs: Infinity });
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < scrapes; i++) await serialize(registry, format, { sliceMs: Infinity });
    const ms = (performance.now() - t0) / scrapes;
    // CPU time too: on a shared machine the wall clock also counts the time others had the core.
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / scrapes;
    out[format] = { msPerScrape: Math.round(ms * 100) / 100, cpuMsPerScrape: Math.round(cpuMs * 100) / 100, lines: text.split('\n').length, bytes: text.length };
  }
  out['taskSeries'] = names * workers * 4;
  console.log(JSON.stringify(out));
}

await main();
