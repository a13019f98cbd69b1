// The benchmark's generated traffic must be what Celery sends: every frame decodes with the
// daemon's own decoder, the envelope is kombu's, and the generator's tally is exact.
import { describe, expect, it } from 'vitest';
import { kombuEnvelope } from '../../../bench/infra/publishers.js';
import { IDLE_PROCESSED, TrafficModel } from '../../../bench/infra/traffic.js';
import type { Frame } from '../../../bench/infra/traffic.js';
import { EventDecoder } from '../../../src/protocol/decoder.js';
import type { CeleryEvent } from '../../../src/protocol/events.js';
import { IgnoringObserver } from '../../../src/state/ignoring-observer.js';
import { CeleryState } from '../../../src/state/machine.js';
import { STATE_OPTIONS } from '../../detectors/fixtures.js';

function decodeAll(frames: { body: string; routingKey: string; hostname: string; events: number }[]): { events: CeleryEvent[]; errors: string[] } {
  const events: CeleryEvent[] = [];
  const errors: string[] = [];
  const decoder = new EventDecoder({ onEvent: (e) => events.push(e), onError: (reason, detail) => errors.push(`${reason}: ${detail}`) }, { maxFrameBytes: 4 << 20 });
  for (const f of frames) decoder.decodeKombuEnvelope(kombuEnvelope(f));
  return { events, errors };
}

describe('benchmark traffic model', () => {
  const model = new TrafficModel({ idPrefix: 'feedbeef', seed: 7 });
  const frames = [...model.frames(20_000, 1_795_310_668.5), ...model.frames(20_000, 1_795_310_669.5)];
  const { events, errors } = decodeAll(frames);

  it('produces frames that the daemon decodes without a single error', () => {
    expect(errors).toEqual([]);
    expect(events.length).toBe(model.tally.events);
  });

  it('tallies exactly the events it produced, by type', () => {
    const byType: Record<string, number> = {};
    for (const e of events) byType[e.type] = (byType[e.type] ?? 0) + 1;
    expect(byType).toEqual(Object.fromEntries(Object.entries(model.tally.byType).filter(([, n]) => n > 0)));
  });

  it('batches task events in task.multi frames of at most 24 and sends task-sent alone', () => {
    const multi = frames.filter((f) => f.routingKey === 'task.multi');
    expect(Math.max(...multi.map((f) => f.events))).toBe(24);
    expect(frames.filter((f) => f.routingKey === 'task.sent').every((f) => f.events === 1)).toBe(true);
    expect(frames.filter((f) => f.routingKey === 'worker.heartbeat').length).toBe(model.tally.byType['worker-heartbeat']);
  });

  it('never repeats a (uuid, type, timestamp): the daemon would drop it as a duplicate', () => {
    const taskEvents = events.filter((e) => e.kind === 'task');
    expect(new Set(taskEvents.map((e) => `${e.uuid} ${e.type} ${e.timestamp}`)).size).toBe(taskEvents.length);
    expect(new Set(events.filter((e) => e.kind === 'task').map((e) => (e as { uuid: string }).uuid)).size).toBe(model.tally.tasks);
  });

  it('mixes outcomes, names, queues and workers', () => {
    const tasks = events.filter((e) => e.kind === 'task');
    expect(new Set(tasks.map((e) => e.name).filter((n) => n !== undefined)).size).toBe(60);
    expect(new Set(tasks.filter((e) => e.type === 'task-sent').map((e) => e.queue)).size).toBe(8);
    expect(new Set(tasks.filter((e) => e.type !== 'task-sent').map((e) => e.hostname)).size).toBe(40);
    // Shares of OUTCOME_WEIGHTS (86% success, 6% failure, 5% retry, 2% revoked, 1% rejected), within sampling noise.
    const share = (t: keyof typeof model.tally.byType): number => model.tally.byType[t] / model.tally.tasks;
    expect(share('task-failed')).toBeCloseTo(0.06, 1);
    expect(share('task-revoked')).toBeCloseTo(0.02, 1);
    expect(share('task-rejected')).toBeCloseTo(0.01, 1);
    expect(share('task-retried')).toBeCloseTo(0.1, 1); // two retries per retrying task
  });

  it('reports in heartbeats what its workers processed: none looks like a worker with task events off', () => {
    // Twelve seconds of traffic: six heartbeats per node, enough for the detector to confirm a
    // `processed` count that grows without task events (a baseline, growth, growth a beat later).
    const fleet = new TrafficModel({ idPrefix: 'beadfeed', seed: 3 });
    const frames12s: Frame[] = [];
    for (let s = 0; s < 12; s++) frames12s.push(...fleet.frames(3000, 1_795_310_668.5 + s));
    // The daemon's own state machine, and each heartbeat's count checked against the task-received
    // its node sent before it (idle nodes: none, and a count that never moves).
    const state = new CeleryState(new IgnoringObserver(), STATE_OPTIONS);
    const received = new Map<string, number>();
    const wrongCounts: string[] = [];
    let heartbeats = 0;
    for (const e of decodeAll(frames12s).events) {
      state.apply(e, e.timestamp);
      if (e.type === 'task-received') received.set(e.hostname, (received.get(e.hostname) ?? 0) + 1);
      if (e.type !== 'worker-heartbeat') continue;
      heartbeats++;
      const expected = e.hostname.startsWith('celery@idle-') ? IDLE_PROCESSED : (received.get(e.hostname) ?? 0);
      if (e.processed !== expected) wrongCounts.push(`${e.hostname}: ${e.processed}, expected ${expected}`);
    }
    expect(heartbeats).toBe(fleet.tally.byType['worker-heartbeat']);
    expect(wrongCounts).toEqual([]);
    const all = [...state.workers.values()];
    expect(all.length).toBe(200);
    expect(all.filter((w) => w.taskEventsOff).map((w) => w.hostname)).toEqual([]);
  });
});
