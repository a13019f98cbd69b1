// The daemon's pipeline in one process, without a broker: the traffic model's frames, as kombu
// envelopes, go straight into src/pipeline.ts (decoder -> state -> metrics and detectors). Prints
// the CPU per 10k events of that code alone and the live heap per tracked task, for quick
// iterations on the hot path and on memory; the broker benchmark (run.ts) stays the measure.
//
//   node --expose-gc <compiled>/bench/micro/inproc.js [--events 2000000] [--max-tracked-tasks N] [--cpu-prof]
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { getHeapSpaceStatistics } from 'node:v8';
import { loadConfig } from '../../src/config/config.js';
import { createLogger, RateLimitedLog } from '../../src/log.js';
import { createBrokerPipeline, createMetrics } from '../../src/pipeline.js';
import { kombuEnvelope } from '../infra/publishers.js';
import { TrafficModel } from '../infra/traffic.js';

const CHUNK_EVENTS = 20_000;

function main(): void {
  const { values } = parseArgs({ options: { events: { type: 'string', default: '2000000' }, 'max-tracked-tasks': { type: 'string' } } });
  const total = Number(values.events);
  // The daemon's own defaults, but for --max-tracked-tasks when given.
  const cap = values['max-tracked-tasks'];
  const loaded = loadConfig(['--broker-url', 'redis://127.0.0.1:1/0', ...(cap !== undefined ? ['--max-tracked-tasks', cap] : []), '--log-level', 'error'], {});
  if (loaded.action !== 'run') throw new Error('unexpected config action');
  const config = loaded.config;
  const logger = createLogger('error', []);
  const pipeline = createBrokerPipeline(config, config.brokers[0]!, {
    ...createMetrics(config, 'bench'),
    traces: undefined,
    logger,
    badInput: new RateLimitedLog(logger),
    findingLog: new RateLimitedLog(logger),
  });
  const model = new TrafficModel({ idPrefix: 'a1b2c3d4' });
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heap0 = process.memoryUsage().heapUsed;
  const buffers0 = process.memoryUsage().arrayBuffers;
  let busyMs = 0;
  let fed = 0;
  let lastTick = 0;
  const stamp0 = Date.now() / 1000;
  while (fed < total) {
    // Traffic time runs at 100k events/s whatever the speed here, so ages and ticks are realistic.
    const now = stamp0 + fed / 100_000;
    const envelopes: string[] = [];
    let events = 0;
    for (const frame of model.frames(CHUNK_EVENTS, now)) {
      envelopes.push(kombuEnvelope(frame));
      events += frame.events;
    }
    const t0 = performance.now();
    for (const envelope of envelopes) pipeline.decoder.decodeKombuEnvelope(envelope);
    if (now - lastTick >= 1) {
      lastTick = now;
      pipeline.state.tick(Date.now() / 1000);
      pipeline.detectors.tick(pipeline.state);
    }
    busyMs += performance.now() - t0;
    fed += events;
  }
  gc?.();
  const heap = process.memoryUsage();
  const tracked = pipeline.state.tasks.size;
  const out = {
    events: fed,
    tasks: model.tally.tasks,
    cpuMsPer10k: Math.round((busyMs * 10_000 * 10) / fed) / 10,
    trackedTasks: tracked,
    heapBytesPerTrackedTask: gc ? Math.round((heap.heapUsed - heap0) / tracked) : 'run node with --expose-gc',
    // Typed arrays' backing stores (the task table's number slab, per-task side tables) are
    // outside the heap: counted here so a number moved into the slab still shows.
    bufferBytesPerTrackedTask: Math.round((heap.arrayBuffers - buffers0) / tracked),
    heapUsedMb: Math.round(heap.heapUsed / 1e5) / 10,
    rssMb: Math.round(heap.rss / 1e5) / 10,
    // Where RSS goes: V8's spaces, committed vs used (MB).
    spaces: Object.fromEntries(
      getHeapSpaceStatistics()
        .filter((s) => s.space_size > 1e6)
        .map((s) => [s.space_name, `${Math.round(s.space_used_size / 1e6)}/${Math.round(s.space_size / 1e6)}`]),
    ),
  };
  console.log(JSON.stringify(out));
}

main();
