// The built daemon, started on a free port, and its scrapes.
import { LAUNCH_ENV, NODE_FLAGS } from '../../src/heap-tuning.js';
import { DAEMON } from './paths.js';
import { Proc, freePort, sleep, waitFor } from './processes.js';
import type { Metrics } from './metrics-text.js';
import { parseMetrics } from './metrics-text.js';

export interface DaemonProc {
  readonly proc: Proc;
  readonly port: number;
  readonly base: string;
  scrape(accept?: string): Promise<string>;
  metrics(): Promise<Metrics>;
  stop(): Promise<void>;
}

export async function startDaemon(args: string[], env: NodeJS.ProcessEnv = {}, options: { waitReady?: boolean } = {}): Promise<DaemonProc> {
  const port = await freePort();
  const proc = new Proc(process.execPath, [...NODE_FLAGS, DAEMON, '--listen-address', `127.0.0.1:${port}`, ...args], { env: { ...LAUNCH_ENV, ...env } });
  const base = `http://127.0.0.1:${port}`;
  const path = options.waitReady === false ? '/healthz' : '/readyz';
  await waitFor(`daemon ${path}`, async () => {
    if (!proc.running) throw new Error(`daemon exited:\n${proc.output}`);
    const res = await fetch(base + path);
    return res.status === 200;
  }, 20_000);
  // A daemon that could not bind its port exits at once; make sure the one answering is ours.
  await sleep(200);
  if (!proc.running) throw new Error(`daemon exited after start:\n${proc.output}`);
  const scrape = async (accept?: string): Promise<string> => {
    const res = await fetch(`${base}/metrics`, { headers: accept ? { accept } : {} });
    if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
    return res.text();
  };
  return {
    proc,
    port,
    base,
    scrape,
    metrics: async () => parseMetrics(await scrape()),
    stop: () => proc.stop(),
  };
}
