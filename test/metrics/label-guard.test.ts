import { describe, expect, it } from 'vitest';
import { BoundedChildren, LabelGuard, OVERFLOW_LABEL_VALUE } from '../../src/metrics/label-guard.js';
import { CeleryMetrics } from '../../src/metrics/celery-metrics.js';
import { parseMetrics } from '../kit/metrics-text.js';
import { serialize } from '../../src/http/exposition.js';
import type { TaskRecord } from '../../src/state/task-table.js';
import type { TaskEvent } from '../../src/protocol/events.js';

describe('LabelGuard', () => {
  it('admits the first N values of each label and replaces later ones, label by label', () => {
    const guard = new LabelGuard(['name', 'hostname'], 2);
    const calls = [
      ['a', 'h1'],
      ['b', 'h1'],
      ['c', 'h2'],
      ['a', 'h3'],
      ['d', 'h4'],
    ].map((v) => {
      const values = [...v];
      return { replaced: guard.cap(values), values };
    });
    expect(calls).toEqual([
      { replaced: undefined, values: ['a', 'h1'] },
      { replaced: undefined, values: ['b', 'h1'] },
      { replaced: [0], values: [OVERFLOW_LABEL_VALUE, 'h2'] },
      { replaced: [1], values: ['a', OVERFLOW_LABEL_VALUE] },
      { replaced: [0, 1], values: [OVERFLOW_LABEL_VALUE, OVERFLOW_LABEL_VALUE] },
    ]);
  });
});

describe('BoundedChildren', () => {
  it('creates one child per admitted label set, one for the overflow, and counts each overflowed use', () => {
    const created: string[] = [];
    const overflows: string[] = [];
    const children = new BoundedChildren(new LabelGuard(['name'], 3), (v) => created.push(v.join()) && v.join(), (metric, label) => overflows.push(`${metric}/${label}`));
    for (let i = 0; i < 1000; i++) children.get([`task${i % 500}`], 'm_total');
    expect(created).toEqual(['task0', 'task1', 'task2', OVERFLOW_LABEL_VALUE]);
    expect(overflows.length).toBe(1000 - 2 * 3);
    expect(new Set(overflows)).toEqual(new Set(['m_total/name']));
  });
});

const record = (name: string, queue = 'celery'): TaskRecord => ({ uuid: name, name, queue } as unknown as TaskRecord);
const event = (hostname: string): TaskEvent => ({ hostname } as unknown as TaskEvent);

describe('CeleryMetrics with --max-label-values', () => {
  it('keeps family totals exact while capping series, per family, shared by brokers', async () => {
    const metrics = new CeleryMetrics({
      runtimeBuckets: [1],
      queueWaitBuckets: [1],
      defaultQueueName: 'celery',
      genericHostnameTaskSent: false,
      brokerLabel: true,
      version: 't',
      maxLabelValues: 5,
    });
    const a = metrics.forBroker('a');
    const b = metrics.forBroker('b');
    for (let i = 0; i < 40; i++) {
      (i % 2 === 0 ? a : b).taskSucceeded(record(`t${i}`), event('w@h'), 0.5);
      a.taskFailed(record('f'), event('w@h'), `E${i}`, undefined);
    }
    const m = parseMetrics(await serialize(metrics.registry, 'prometheus'));
    expect(m.value('celery_task_succeeded_total')).toBe(40);
    expect(m.find('celery_task_succeeded_total').filter((s) => s.value > 0).length).toBe(5 + 2);
    expect(m.value('celery_task_succeeded_total', { name: OVERFLOW_LABEL_VALUE })).toBe(35);
    expect(m.value('celery_task_runtime_seconds_count')).toBe(40);
    expect(m.value('celery_task_runtime_seconds_count', { name: OVERFLOW_LABEL_VALUE })).toBe(35);
    expect(m.value('celery_task_failed_total', { exception: OVERFLOW_LABEL_VALUE })).toBe(35);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_succeeded_total', label: 'name' })).toBe(35);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_runtime_seconds', label: 'name' })).toBe(35);
    expect(m.value('celery_pulse_label_overflow_total', { metric: 'celery_task_failed_total', label: 'exception', broker: 'a' })).toBe(35);
  });
});

describe('BoundedChildren.forget', () => {
  it('gives the slots of values no longer used back to the guard, so churn does not fill the cap', () => {
    const guard = new LabelGuard(['name', 'hostname'], 2);
    const children = new BoundedChildren(guard, (v) => v.join(), () => undefined);
    children.get(['t', 'pod-1'], 'm');
    children.get(['t', 'pod-2'], 'm');
    expect(children.get(['t', 'pod-3'], 'm')).toBe(`t,${OVERFLOW_LABEL_VALUE}`);
    expect(children.forget((v) => v[1] === 'pod-1')).toEqual([['t', 'pod-1']]);
    // pod-1's slot is free again; `t` is still used by pod-2 and keeps its slot.
    expect(children.get(['t', 'pod-3'], 'm')).toBe('t,pod-3');
    expect(children.get(['t', 'pod-4'], 'm')).toBe(`t,${OVERFLOW_LABEL_VALUE}`);
    expect(children.get(['u', 'pod-2'], 'm')).toBe('u,pod-2');
  });
});
