// The bcrypt thread's failures: logged once per outage, restarted with a backoff rather than on
// every check. Real worker threads (eval'd scripts), a fake logger and a fake clock.
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { BcryptChecker } from '../../src/http/bcrypt-checker.js';

/** A thread that dies as it starts, as one whose script cannot load does. */
const BROKEN = 'throw new Error("cannot load bcryptjs")';
/** A thread that answers like bcrypt-thread.ts, for the password "right" only. */
const ANSWERING = `const { parentPort } = require('node:worker_threads');
parentPort.on('message', (m) => parentPort.postMessage({ id: m.id, ok: m.password === 'right' }));`;

const threads: Worker[] = [];
afterEach(async () => {
  await Promise.all(threads.splice(0).map((t) => t.terminate()));
});

function fixture(scripts: string[]) {
  const logged = { error: [] as string[], info: [] as string[] };
  const logger = {
    error: (_obj: unknown, msg?: string) => void logged.error.push(msg ?? ''),
    info: (msg: unknown) => void logged.info.push(String(msg)),
  };
  const clock = { ms: 0 };
  let starts = 0;
  const checker = new BcryptChecker({
    logger: logger as never,
    now: () => clock.ms,
    startThread: () => {
      const script = scripts[Math.min(starts, scripts.length - 1)]!;
      starts++;
      const t = new Worker(script, { eval: true });
      threads.push(t);
      return Promise.resolve(t);
    },
  });
  return { checker, logged, clock, starts: () => starts };
}

describe('BcryptChecker when its thread fails', () => {
  it('refuses the checks, logs the failure once and starts no thread per check', async () => {
    const f = fixture([BROKEN]);
    expect(await f.checker.compare('right', 'hash')).toBe(false);
    for (let i = 0; i < 5; i++) expect(await f.checker.compare('right', 'hash')).toBe(false);
    expect(f.starts()).toBe(1);
    expect(f.logged.error).toHaveLength(1);
    expect(f.logged.error[0]).toContain('bcrypt worker thread failed');
  });

  it('tries again after 1 s, then 2 s, without logging again', async () => {
    const f = fixture([BROKEN]);
    await f.checker.compare('right', 'hash');
    f.clock.ms = 999;
    await f.checker.compare('right', 'hash');
    expect(f.starts()).toBe(1);
    f.clock.ms = 1000;
    expect(await f.checker.compare('right', 'hash')).toBe(false);
    expect(f.starts()).toBe(2);
    // The second failure waits twice as long.
    f.clock.ms = 2999;
    await f.checker.compare('right', 'hash');
    expect(f.starts()).toBe(2);
    f.clock.ms = 3000;
    await f.checker.compare('right', 'hash');
    expect(f.starts()).toBe(3);
    expect(f.logged.error).toHaveLength(1);
  });

  it('checks again once a thread runs, says so, and logs the next outage anew', async () => {
    const f = fixture([BROKEN, ANSWERING]);
    expect(await f.checker.compare('right', 'hash')).toBe(false);
    f.clock.ms = 1000;
    expect(await f.checker.compare('right', 'hash')).toBe(true);
    expect(await f.checker.compare('wrong', 'hash')).toBe(false);
    expect(f.starts()).toBe(2);
    expect(f.logged.info).toEqual(['the bcrypt worker thread runs again: basic-auth checks resume']);
    // That thread dies: what it had is refused, and the outage is logged again.
    await threads.at(-1)!.terminate();
    await new Promise((resolve) => setImmediate(resolve));
    expect(f.logged.error).toHaveLength(2);
  });

  it('starts one thread for checks that arrive together', async () => {
    const f = fixture([ANSWERING]);
    expect(await Promise.all([f.checker.compare('right', 'h'), f.checker.compare('wrong', 'h'), f.checker.compare('right', 'h')])).toEqual([true, false, true]);
    expect(f.starts()).toBe(1);
    expect(f.logged.error).toEqual([]);
  });
});
