// The brokers under the benchmark: a private redis-server or rabbitmq-server from the integration
// harness, moved to the generator's core so that the daemon's core is its own.
import { spawnSync } from 'node:child_process';
import { startRabbit, startRedis } from '../test/integration/harness.js';
import { pinProcess } from './cpu.js';
import { AmqpPublisher, RedisPublisher } from './publishers.js';
import type { Publisher } from './publishers.js';

export type BrokerKind = 'redis' | 'rabbitmq';

export interface BrokerUnderTest {
  readonly kind: BrokerKind;
  /** What the daemon gets as --broker-url. */
  readonly url: string;
  publisher(): Promise<Publisher>;
  stop(): Promise<void>;
}

export async function startBroker(kind: BrokerKind, cpu: number | undefined): Promise<BrokerUnderTest> {
  if (kind === 'redis') {
    const redis = await startRedis();
    pinTree(redis.proc.child.pid, cpu);
    return { kind, url: redis.url, publisher: () => RedisPublisher.connect(redis.port), stop: () => redis.stop() };
  }
  const rabbit = await startRabbit();
  pinTree(rabbit.proc.child.pid, cpu);
  return { kind, url: rabbit.url, publisher: () => AmqpPublisher.connect(rabbit.url), stop: () => rabbit.stop() };
}

/** Pins a process and every descendant (rabbitmq-server's Erlang VM is a child of its script). */
function pinTree(pid: number | undefined, cpu: number | undefined): void {
  if (pid === undefined || cpu === undefined) return;
  const table = spawnSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' }).stdout;
  const children = new Map<number, number[]>();
  for (const line of table.split('\n')) {
    const [p, pp] = line.trim().split(/\s+/).map(Number);
    if (p === undefined || pp === undefined || Number.isNaN(p)) continue;
    children.set(pp, [...(children.get(pp) ?? []), p]);
  }
  const todo = [pid];
  while (todo.length > 0) {
    const p = todo.pop()!;
    pinProcess(p, cpu);
    todo.push(...(children.get(p) ?? []));
  }
}
