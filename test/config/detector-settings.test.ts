import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) => {
  const a = loadConfig(argv, env);
  if (a.action !== 'run') throw new Error('not run');
  return a.config;
};

describe('detector settings', () => {
  it('take a global stalled threshold and per-name overrides from one repeatable flag', () => {
    expect(run([]).stalled).toEqual({ threshold: 3600, perTask: {}, runtimeFactor: 10 });
    const c = run(['--stalled-threshold', 'app.report=2h', '--stalled-threshold', '30m', '--stalled-runtime-factor', '0']);
    expect(c.stalled).toEqual({ threshold: 1800, perTask: { 'app.report': 7200 }, runtimeFactor: 0 });
    expect(run([], { CELERY_PULSE_STALLED_THRESHOLD: 'a.b=5s,10s' }).stalled.perTask).toEqual({ 'a.b': 5 });
  });

  it('read expected periodic tasks from flags and the environment', () => {
    expect(run(['--expect-task', 'app.beat=1m', '--expect-task', 'app.daily=1d']).expectTasks).toEqual({ 'app.beat': 60, 'app.daily': 86400 });
    expect(run([], { CELERY_PULSE_EXPECT_TASK: 'a=5s,b=10s' }).expectTasks).toEqual({ a: 5, b: 10 });
    expect(run(['--enable-events', '--enable-events-interval', '2s'])).toMatchObject({ enableEvents: true, enableEventsInterval: 2 });
  });

  it('reject bad values with a message naming the flag', () => {
    expect(() => run(['--expect-task', 'app.beat'])).toThrow(/--expect-task: "app.beat" \(NAME=INTERVAL/);
    expect(() => run(['--expect-task', '=5s'])).toThrow(/empty task name/);
    expect(() => run(['--stalled-threshold', 'x=soon'])).toThrow(/--stalled-threshold: "soon"/);
    expect(() => run(['--stalled-runtime-factor', '-1'])).toThrow(/--stalled-runtime-factor/);
  });
});
