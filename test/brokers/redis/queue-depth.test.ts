import { describe, expect, it } from 'vitest';
import { priorityStepSuffixes, routingKeyOf } from '../../../src/brokers/redis/queue-depth.js';
import { MAX_QUEUES, QueueDiscovery } from '../../../src/state/queue-discovery.js';
import type { TaskRecord } from '../../../src/state/task-table.js';

describe('priorityStepSuffixes', () => {
  it("names kombu's four sub-lists by default", () => {
    expect(priorityStepSuffixes(undefined, '\x06\x16')).toEqual(['', '\x06\x163', '\x06\x166', '\x06\x169']);
  });

  it('follows the priority_steps and sep transport options', () => {
    expect(priorityStepSuffixes('[0, 5]', ':')).toEqual(['', ':5']);
    expect(priorityStepSuffixes('0,1,2', '\x06\x16')).toEqual(['', '\x06\x161', '\x06\x162']);
    expect(priorityStepSuffixes('garbage', '\x06\x16')).toEqual(['', '\x06\x163', '\x06\x166', '\x06\x169']);
  });
});

describe('routingKeyOf', () => {
  it('reads the routing key of an `unacked` hash entry without parsing the message', () => {
    const message = JSON.stringify({ body: 'W1sxXSwge31d', headers: { task: 'x', argsrepr: '("a", "]")' }, properties: {} });
    expect(routingKeyOf(`[${message}, "", "pulse.slow"]`)).toBe('pulse.slow');
    expect(routingKeyOf(`[${message}, "celery", "with \\"quotes\\""]`)).toBe('with "quotes"');
    expect(routingKeyOf('not an entry')).toBeUndefined();
  });
});

describe('QueueDiscovery', () => {
  const sent = (queue: string | undefined): TaskRecord => ({ queue }) as TaskRecord;

  it('keeps the queues given and those seen in task-sent events, once each', () => {
    const d = new QueueDiscovery(['celery']);
    d.taskSent(sent('reports'));
    d.taskSent(sent('celery'));
    d.taskSent(sent(undefined));
    d.add('');
    expect(d.names()).toEqual(['celery', 'reports']);
  });

  it('stops growing at MAX_QUEUES and says so once', () => {
    const overflows: string[] = [];
    const d = new QueueDiscovery([], (name) => overflows.push(name));
    for (let i = 0; i < MAX_QUEUES + 5; i++) d.add(`q${i}`);
    expect(d.names()).toHaveLength(MAX_QUEUES);
    expect(overflows).toEqual([`q${MAX_QUEUES}`]);
  });
});
