// --log-format logfmt: pino's JSON lines written as key=value pairs, still scrubbed of secrets.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, toLogfmt } from '../src/log.js';

describe('logfmt', () => {
  it('writes each field as key=value, quoting values with spaces, quotes or =', () => {
    expect(toLogfmt('{"level":"info","time":"2026-12-07T23:00:00.000Z","name":"celery-pulse","broker":"r:6379/0","n":3,"msg":"connecting to broker"}\n')).toBe(
      'level=info time=2026-12-07T23:00:00.000Z name=celery-pulse broker=r:6379/0 n=3 msg="connecting to broker"\n',
    );
    expect(toLogfmt('{"msg":"a=b","o":{"k":1}}')).toBe('msg="a=b" o="{\\"k\\":1}"\n');
  });

  it('is what the logger writes, with secrets replaced', async () => {
    let out = '';
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        out += chunk.toString();
        done();
      },
    });
    const logger = createLogger('info', ['hunter2'], sink, 'logfmt');
    logger.info({ url: 'redis://:hunter2@h:6379/0' }, 'connecting');
    logger.flush();
    await new Promise((r) => setImmediate(r));
    expect(out).toMatch(/^level=info time=\S+ name=celery-pulse url=redis:\/\/:\*\*\*\*@h:6379\/0 msg=connecting\n$/);
  });
});
