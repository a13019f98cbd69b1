import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { pidboxEnvelope, redisPidboxChannel, redisPidboxChannels } from '../../../src/brokers/redis/control.js';
import type { TransportOptions } from '../../../src/config/config.js';

const CAPTURES = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'fixtures', 'celery-wire', 'redis');
const transport = (o: Partial<TransportOptions> = {}): TransportOptions => ({
  globalKeyprefix: '', fanoutPrefix: true, fanoutPatterns: undefined, masterName: undefined, visibilityTimeout: undefined, raw: {}, ...o,
});

describe('Redis pidbox broadcasts', () => {
  it('publish where kombu does: the fanout prefix and global_keyprefix, no routing key', () => {
    expect(redisPidboxChannel(0, transport())).toBe('/0.celery.pidbox');
    expect(redisPidboxChannel(3, transport({ globalKeyprefix: 'pfx:' }))).toBe('pfx:/3.celery.pidbox');
    expect(redisPidboxChannel(0, transport({ fanoutPrefix: false }))).toBe('celery.pidbox');
    // Sentinel with kombu < 5.4 leaves {db} unformatted: both channels get the broadcast.
    expect(redisPidboxChannels(2, transport(), true)).toEqual(['/2.celery.pidbox', '/{db}.celery.pidbox']);
    expect(redisPidboxChannels(2, transport(), false)).toEqual(['/2.celery.pidbox']);
  });

  it.each(['heartbeat', 'enable_events'])('build the %s envelope app.control.broadcast() sends, as captured from Celery', (method) => {
    const captured = JSON.parse(readFileSync(join(CAPTURES, `pidbox_${method}.redis.txt`), 'utf8').split('\n')[1]!) as Record<string, unknown>;
    const ours = JSON.parse(pidboxEnvelope(method, {}, 1000, 10)) as Record<string, unknown>;
    // The capture of enable_events asked for replies (ticket, reply_to); a broadcast without replies has neither.
    const body = JSON.parse(Buffer.from(captured['body'] as string, 'base64').toString()) as Record<string, unknown>;
    delete body['ticket'];
    delete body['reply_to'];
    expect(JSON.parse(Buffer.from(ours['body'] as string, 'base64').toString())).toEqual(body);
    expect(ours['headers']).toEqual({ clock: 1, expires: 1010 });
    const props = (p: unknown): unknown => ({ ...(p as Record<string, unknown>), delivery_tag: 'x' });
    expect(props(ours['properties'])).toEqual(props(captured['properties']));
    expect([ours['content-type'], ours['content-encoding']]).toEqual([captured['content-type'], captured['content-encoding']]);
  });
});
