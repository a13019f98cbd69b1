import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { SharedRender } from '../../src/http/shared-render.js';

describe('SharedRender', () => {
  it('renders once for every request that arrives meanwhile, and afresh afterwards', async () => {
    const shared = new SharedRender();
    let renders = 0;
    const render = async (): Promise<string> => {
      renders++;
      await sleep(20);
      return `body ${renders}`;
    };
    const never = new AbortController().signal;
    const bodies = await Promise.all(Array.from({ length: 50 }, () => shared.get('k', render, never)));
    expect(renders).toBe(1);
    expect(new Set(bodies).size).toBe(1);
    expect(bodies[0]!.toString()).toBe('body 1');
    expect((await shared.get('k', render, never)).toString()).toBe('body 2');
  });

  it('stops a rendering only when every waiting request has gone', async () => {
    const shared = new SharedRender();
    let aborted = 0;
    const render = async (signal: AbortSignal): Promise<string> => {
      for (let i = 0; i < 20; i++) {
        await sleep(5);
        if (signal.aborted) {
          aborted++;
          signal.throwIfAborted();
        }
      }
      return 'done';
    };
    const a = new AbortController();
    const b = new AbortController();
    const first = shared.get('k', render, a.signal);
    const second = shared.get('k', render, b.signal);
    a.abort();
    expect((await second).toString()).toBe('done');
    await expect(first).resolves.toBeDefined();
    expect(aborted).toBe(0);
    const c = new AbortController();
    const third = shared.get('k', render, c.signal);
    c.abort();
    await expect(third).rejects.toThrow();
    await sleep(30);
    expect(aborted).toBe(1);
  });

  it('runs at most two renderings of different keys at once', async () => {
    const shared = new SharedRender();
    let running = 0;
    let most = 0;
    const render = async (): Promise<string> => {
      most = Math.max(most, ++running);
      await sleep(10);
      running--;
      return 'x';
    };
    const never = new AbortController().signal;
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((k) => shared.get(k, render, never)));
    expect(most).toBe(2);
  });
});
