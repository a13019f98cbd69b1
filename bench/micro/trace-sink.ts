// In-process cost of tracing on the event path: the same synthetic task lifecycles (sent, received,
// started, succeeded: 4 events, 2 spans per task) through the pure state machine with the metrics
// observer alone, then with the trace sink as well, exporting to an OTLP/HTTP receiver on loopback
// that discards what it gets. Events per CPU second on the event path (apply()) and with the
// export included (CPU time, not wall time: the machine is shared). Usage: node trace-sink.js [TASKS]  (prints one JSON line)
import { createServer } from 'node:http';
import { pino } from 'pino';
import { parseTraceConfig } from '../../src/config/trace-settings.js';
import type { TaskEvent } from '../../src/protocol/events.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import { startTraceSink } from '../../src/traces/trace-sink.js';
import { CeleryState } from '../../src/state/machine.js';
import { combineObservers } from '../../src/state/fan-out.js';

const TASKS = Number(process.argv[2] ?? 50_000);
const T0 = 1_795_310_000;

function ev(type: TaskEvent['type'], uuid: string, timestamp: number, extra: Partial<TaskEvent> = {}): TaskEvent {
  return {
    kind: 'task', type, uuid, hostname: 'w1@vm', timestamp, clock: undefined, name: undefined, queue: undefined, retries: undefined,
    rootId: undefined, parentId: undefined, eta: undefined, exception: undefined, traceback: undefined, runtime: undefined,
    args: undefined, kwargs: undefined, terminated: undefined, expired: undefined, requeue: undefined, ...extra,
  };
}

const events: TaskEvent[] = [];
for (let i = 0; i < TASKS; i++) {
  const uuid = `${i.toString(16).padStart(8, '0')}-0000-4000-8000-000000000000`;
  const t = T0 + i * 0.001;
  events.push(
    ev('task-sent', uuid, t, { name: `app.task${i % 20}`, queue: 'celery', rootId: uuid, retries: 0, hostname: 'gen1@vm' }),
    ev('task-received', uuid, t + 0.0002, { name: `app.task${i % 20}`, rootId: uuid, retries: 0 }),
    ev('task-started', uuid, t + 0.0004),
    ev('task-succeeded', uuid, t + 0.0008, { runtime: 0.0004 }),
  );
}

const sink = createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('{}'));
});
await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
const address = sink.address();
const port = typeof address === 'object' && address !== null ? address.port : 0;

interface Result {
  /** Events per CPU second through apply(): the event path, what ingestion pays. */
  readonly eventPath: number;
  /** Events per CPU second, export (serialization, HTTP) to the collector included. */
  readonly withExport: number;
}

async function run(traced: boolean): Promise<Result> {
  const metrics = new CeleryMetrics({
    runtimeBuckets: [0.01, 0.1, 1, 10],
    queueWaitBuckets: [0.01, 0.1, 1, 10],
    defaultQueueName: 'celery',
    genericHostnameTaskSent: false,
    brokerLabel: false,
    version: 'bench',
  });
  const config = parseTraceConfig({ traces: true, otlpEndpoint: `http://127.0.0.1:${port}`, taskArgs: false, maxSpanAge: 3600 }, { OTEL_BSP_MAX_QUEUE_SIZE: '100000' });
  const traces = traced ? startTraceSink({ config, registry: metrics.registry, logger: pino({ level: 'silent' }), version: 'bench', maxOpen: 100_000 }) : undefined;
  const spans = traces?.forBroker('redis');
  const view = metrics.forBroker('b', spans);
  const state = new CeleryState(combineObservers([view, ...(spans ? [spans] : [])]), {
    maxTasks: 100_000, unfinishedTtl: 3600, finishedTtl: 600, pendingGrace: 5, heartbeatTimeoutFactor: 2, forgetAfter: 3600,
  });
  const cpu = process.cpuUsage();
  for (const e of events) state.apply(e, e.timestamp);
  const loop = process.cpuUsage(cpu);
  // Export runs on the same thread, later: count its CPU, not the wait for the receiver.
  await traces?.stop(120_000);
  const used = process.cpuUsage(cpu);
  return { eventPath: events.length / ((loop.user + loop.system) / 1e6), withExport: events.length / ((used.user + used.system) / 1e6) };
}

await run(false); // warm-up
const plain = await run(false);
const traced = await run(true);
sink.close();
const round = (r: Result) => ({ eventPath: Math.round(r.eventPath), withExport: Math.round(r.withExport) });
console.log(JSON.stringify({ tasks: TASKS, events: events.length, metricsOnly: round(plain), traced: round(traced) }));
