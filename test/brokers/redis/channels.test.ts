import { describe, expect, it } from 'vitest';
import { redisEventChannels } from '../../../src/brokers/redis/channels.js';
import type { TransportOptions } from '../../../src/config/config.js';

const defaults: TransportOptions = { globalKeyprefix: '', fanoutPrefix: true, fanoutPatterns: undefined, masterName: undefined, visibilityTimeout: undefined, raw: {} };

describe('redisEventChannels (kombu _get_publish_topic)', () => {
  it('listens to /{db}.celeryev/* and the bare channel by default', () => {
    expect(redisEventChannels(0, 'celeryev', defaults)).toEqual({ patterns: ['/0.celeryev/*'], channels: ['/0.celeryev'] });
  });

  it('applies db, global_keyprefix and a renamed exchange (captured: pfx:/3.celeryev/task.multi)', () => {
    expect(redisEventChannels(3, 'celeryev', { ...defaults, globalKeyprefix: 'pfx:', fanoutPatterns: true })).toEqual({ patterns: ['pfx:/3.celeryev/*'], channels: [] });
    expect(redisEventChannels(0, 'myevents', { ...defaults, fanoutPatterns: true }).patterns).toEqual(['/0.myevents/*']);
  });

  it('follows fanout_prefix=False, a custom prefix, and fanout_patterns=False', () => {
    expect(redisEventChannels(0, 'celeryev', { ...defaults, fanoutPrefix: false, fanoutPatterns: true }).patterns).toEqual(['celeryev/*']);
    expect(redisEventChannels(5, 'celeryev', { ...defaults, fanoutPrefix: 'x{db}:', fanoutPatterns: true }).patterns).toEqual(['x5:celeryev/*']);
    expect(redisEventChannels(0, 'celeryev', { ...defaults, fanoutPatterns: false })).toEqual({ patterns: [], channels: ['/0.celeryev'] });
  });

  it('escapes glob characters of a prefix', () => {
    expect(redisEventChannels(0, 'celeryev', { ...defaults, globalKeyprefix: 'a*[b]?', fanoutPatterns: true }).patterns).toEqual(['a\\*\\[b\\]\\?/0.celeryev/*']);
  });
});
