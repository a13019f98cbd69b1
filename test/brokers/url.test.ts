import { describe, expect, it } from 'vitest';
import { parseBrokerUrl, redactSecrets } from '../../src/brokers/url.js';

describe('parseBrokerUrl', () => {
  it('reads Redis URLs as Celery writes them', () => {
    expect(parseBrokerUrl('redis://localhost:6379/0')).toMatchObject({ kind: 'redis', tls: false, db: 0, endpoints: [{ host: 'localhost', port: 6379 }] });
    expect(parseBrokerUrl('redis://h')).toMatchObject({ db: 0, endpoints: [{ host: 'h', port: 6379 }] });
    expect(parseBrokerUrl('redis://:pw@h:7000/3')).toMatchObject({ username: undefined, password: 'pw', db: 3, display: 'redis://:****@h:7000/3' });
    expect(parseBrokerUrl('redis://app:p%40ss@h/1')).toMatchObject({ username: 'app', password: 'p@ss', display: 'redis://app:****@h/1' });
    expect(parseBrokerUrl('rediss://h:6380/0')).toMatchObject({ tls: true, endpoints: [{ port: 6380 }] });
  });

  it('reads Sentinel lists', () => {
    const u = parseBrokerUrl('sentinel://:pw@s1:26379/2;sentinel://:pw@s2:26380/2');
    expect(u).toMatchObject({ kind: 'redis', sentinel: true, db: 2, password: 'pw' });
    expect(u.endpoints).toEqual([{ host: 's1', port: 26379 }, { host: 's2', port: 26380 }]);
    expect(u.display).not.toContain('pw@');
  });

  it('reads AMQP URLs with vhosts', () => {
    expect(parseBrokerUrl('amqp://guest:guest@rabbit:5672//')).toMatchObject({ kind: 'amqp', vhost: '/', endpoints: [{ port: 5672 }] });
    expect(parseBrokerUrl('amqp://u:p@rabbit/prod')).toMatchObject({ vhost: 'prod', endpoints: [{ port: 5672 }] });
    expect(parseBrokerUrl('amqps://u:p@rabbit/%2Fprod')).toMatchObject({ tls: true, vhost: '/prod', endpoints: [{ port: 5671 }] });
    expect(parseBrokerUrl('pyamqp://u:p@rabbit//')).toMatchObject({ kind: 'amqp' });
  });

  it('rejects what it cannot use, without the password', () => {
    for (const bad of ['', 'nonsense', 'kafka://u:secretpw@h', 'redis://u:secretpw@h/x', 'redis://u:secretpw@h:99999/0', 'redis://a;redis://b']) {
      let message = '';
      try {
        parseBrokerUrl(bad);
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message, bad).not.toBe('');
      expect(message).not.toContain('secretpw');
    }
  });
});

describe('redactSecrets', () => {
  it('hides URL passwords anywhere in a text', () => {
    expect(redactSecrets('connect to amqp://u:topsecret@h:5672// failed; redis://:x@h/0')).toBe('connect to amqp://u:****@h:5672// failed; redis://:****@h/0');
    expect(redactSecrets('redis://h:6379/0')).toBe('redis://h:6379/0');
  });
});

describe('masking on the parsed URL', () => {
  it('hides a password holding "@" or ";" whole, the userinfo running to the last "@"', () => {
    expect(parseBrokerUrl('redis://:abc@TAILSECRET@h/0')).toMatchObject({ password: 'abc@TAILSECRET', display: 'redis://:****@h/0', endpoints: [{ host: 'h' }] });
    expect(parseBrokerUrl('redis://:abc;TAILSECRET@h/0')).toMatchObject({ password: 'abc;TAILSECRET', display: 'redis://:****@h/0' });
    expect(parseBrokerUrl('amqp://u:a@b;c@rabbit//')).toMatchObject({ username: 'u', password: 'a@b;c', display: 'amqp://u:****@rabbit//' });
    expect(redactSecrets('at redis://:abc@TAILSECRET@h/0 and amqp://u:x;y@r//')).toBe('at redis://:****@h/0 and amqp://u:****@r//');
  });

  it('masks each URL of a Sentinel list; a ";" not followed by a scheme is part of the password', () => {
    const u = parseBrokerUrl('sentinel://:p;1@s1:26379;sentinel://:p@2@s2:26380');
    expect(u.display).toBe('sentinel://:****@s1:26379;sentinel://:****@s2:26380');
    expect(u.password).toBe('p;1');
    expect(redactSecrets('sentinel://a:1;sentinel://:TAILSECRET@b:2')).toBe('sentinel://a:1;sentinel://:****@b:2');
  });
});
