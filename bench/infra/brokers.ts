// The brokers under the benchmark: a private redis-server or rabbitmq-server from the test kit
// (test/kit/brokers.ts), moved to the generator's core so that the daemon's core is its own.
import { spawnSync } from 'node:child_process';
import { startRabbit, startRedis } from '../../test/kit/brokers.js';
import { pinProcess } from './cpu.js';
import { AmqpPublisher, RedisPublisher } from './publishers.js';
import type { Publisher } from './publishers.js';

export type BrokerKind = 'redis' | 'rabbitmq';

export interface BrokerUnderTest {
  readonly kind: BrokerKind;
  /** What the daemon gets as --broker-url. */
  readonly url: string;
  publisher(): Promise<Publisher>;
  /** SIGKILLs the broker (a crash: no goodbye to its clients) and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts a killed broker again on the same port(s), and data for RabbitMQ; resolves once it accepts clients. */
  revive(): Promise<void>;
  stop(): Promise<void>;
}

export async function startBroker(kind: BrokerKind, cpu: number | undefined): Promise<BrokerUnderTest> {
  if (kind === 'redis') {
    let redis = await startRedis();
    pinTree(redis.proc.child.pid, cpu);
    const port = redis.port;
    return {
      kind,
      url: redis.url,
      publisher: () => RedisPublisher.connect(port),
      async kill() {
        redis.proc.signal('SIGKILL');
        await redis.proc.exited;
      },
      async revive() {
        await redis.stop();
        redis = await startRedis([], port);
        pinTree(redis.proc.child.pid, cpu);
      },
      stop: () => redis.stop(),
    };
  }
  const rabbit = await startRabbit();
  pinTree(rabbit.proc.child.pid, cpu);
  return {
    kind,
    url: rabbit.url,
    publisher: () => AmqpPublisher.connect(rabbit.url),
    async kill() {
      rabbit.proc.signal('SIGKILL');
      await rabbit.proc.exited;
    },
    async revive() {
      // The node is already dead: restart() only waits for epmd to forget it and boots it again.
      await rabbit.restart({ kill: true });
      pinTree(rabbit.proc.child.pid, cpu);
    },
    stop: () => rabbit.stop(),
  };
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
