import { describe, expect, it } from 'vitest';
import { OVERFLOW_LABEL_VALUE } from '../../../src/metrics/label-guard.js';
import { CeleryMetrics } from '../../../src/metrics/celery-metrics.js';
import { serialize } from '../../../src/http/exposition.js';
import { TaskRecord } from '../../../src/state/task-record.js';
import { parseMetrics } from '../../kit/metrics-text.js';
import { taskEvent } from '../../fixtures/events.js';

// BrokerMetrics remembers on each task record the label children its last event was counted
// under (celery-metrics.ts task()). These prove the memo never changes what is counted.

function setup(maxLabelValues = 100) {
  const metrics = new CeleryMetrics({
    runtimeBuckets: [1],
    queueWaitBuckets: [1],
    defaultQueueName: 'celery',
    genericHostnameTaskSent: false,
    brokerLabel: false,
    version: 't',
    maxLabelValues,
  });
  return { metrics, view: metrics.forBroker('a'), scrape: async () => parseMetrics(await serialize(metrics.registry, 'prometheus')) };
}

function task(uuid: string, name: string | undefined, queue = 'celery'): TaskRecord {
  const t = new TaskRecord(uuid, 0);
  t.name = name;
  t.queue = queue;
  return t;
}

const on = (hostname: string) => taskEvent('task-started', 'x', 1, { hostname });

describe('the per-task label memo', () => {
  it('counts the overflow of a task whose hostname is past the cap on every one of its events', async () => {
    const { view, scrape } = setup(1);
    const first = task('u1', 'job');
    view.taskReceived(first, on('w1@h'));
    const second = task('u2', 'job');
    view.taskReceived(second, on('w2@h'));
    view.taskStarted(second, on('w2@h'), 0.5);
    view.taskSucceeded(second, on('w2@h'), 0.25);
    view.taskSucceeded(second, on('w2@h'), 0.25);
    const m = await scrape();
    for (const [metric, n] of [['celery_task_received_total', 1], ['celery_task_started_total', 1], ['celery_task_succeeded_total', 2]] as const) {
      expect(m.value('celery_pulse_label_overflow_total', { metric, label: 'hostname' })).toBe(n);
      expect(m.value(metric, { name: 'job', hostname: OVERFLOW_LABEL_VALUE })).toBe(n);
    }
    expect(m.value('celery_task_runtime_seconds_count', { name: 'job', queue_name: 'celery' })).toBe(2);
    expect(m.value('celery_task_queue_wait_seconds_count', { name: 'job', queue_name: 'celery' })).toBe(1);
  });

  it('counts the overflow of histograms whose name is past their cap, even once the counters know the name', async () => {
    // The counters admit names at every event, the histograms only when a run time is known: the
    // two caps fill in different orders.
    const { view, scrape } = setup(1);
    const a = task('u1', 'a');
    const b = task('u2', 'b');
    view.taskReceived(b, on('w@h'));
    view.taskSucceeded(a, on('w@h'), 0.1);
    view.taskSucceeded(b, on('w@h'), 0.1);
    view.taskSucceeded(b, on('w@h'), 0.1);
    const m = await scrape();
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_runtime_seconds', label: 'name' })).toBe(2);
    expect(m.value('celery_task_runtime_seconds_count', { name: OVERFLOW_LABEL_VALUE })).toBe(2);
  });

  it('follows the task to another worker, queue or name', async () => {
    const { view, scrape } = setup();
    const t = task('u1', undefined, 'q1');
    view.taskReceived(t, on('w1@h'));
    t.name = 'job';
    view.taskReceived(t, on('w1@h'));
    view.taskStarted(t, on('w2@h'), 0.5);
    t.queue = 'q2';
    view.taskSucceeded(t, on('w2@h'), 0.5);
    const m = await scrape();
    expect(m.value('celery_task_received_total', { name: 'unknown', hostname: 'w1@h', queue_name: 'q1' })).toBe(1);
    expect(m.value('celery_task_received_total', { name: 'job', hostname: 'w1@h', queue_name: 'q1' })).toBe(1);
    expect(m.value('celery_task_started_total', { name: 'job', hostname: 'w2@h', queue_name: 'q1' })).toBe(1);
    expect(m.value('celery_task_queue_wait_seconds_count', { name: 'job', queue_name: 'q1' })).toBe(1);
    expect(m.value('celery_task_succeeded_total', { name: 'job', hostname: 'w2@h', queue_name: 'q2' })).toBe(1);
    expect(m.value('celery_task_runtime_seconds_count', { name: 'job', queue_name: 'q2' })).toBe(1);
  });

  it('does not count into the series of a forgotten worker: the next event makes them again', async () => {
    const { view, scrape } = setup();
    const t = task('u1', 'job');
    view.taskReceived(t, on('w1@h'));
    view.forgetWorker('w1@h');
    view.taskReceived(t, on('w1@h'));
    view.taskStarted(t, on('w1@h'), undefined);
    view.taskSucceeded(t, on('w1@h'), undefined);
    const m = await scrape();
    expect(m.value('celery_task_received_total', { name: 'job', hostname: 'w1@h' })).toBe(1);
    expect(m.value('celery_task_started_total', { name: 'job', hostname: 'w1@h' })).toBe(1);
    expect(m.value('celery_task_succeeded_total', { name: 'job', hostname: 'w1@h' })).toBe(1);
  });
});
