import { describe, expect, it } from 'vitest';
import { REDACTED, scrubRepr } from '../../src/traces/scrub.js';

describe('scrubRepr: task args/kwargs repr strings', () => {
  it('replaces the values of secret-looking dict keys and keeps the rest', () => {
    expect(scrubRepr("{'password': 'hunter2', 'user': 'bob', 'n': 3}")).toBe(`{'password': ${REDACTED}, 'user': 'bob', 'n': 3}`);
    expect(scrubRepr('{"api_key": "k-123", "Authorization": "Bearer abc", "Cookie": "s=1"}')).toBe(
      `{"api_key": ${REDACTED}, "Authorization": ${REDACTED}, "Cookie": ${REDACTED}}`,
    );
    expect(scrubRepr("{'db_token': 12345, 'secret': None, 'limit': 10}")).toBe(`{'db_token': ${REDACTED}, 'secret': ${REDACTED}, 'limit': 10}`);
  });

  it('replaces nested structures and values inside positional args', () => {
    expect(scrubRepr("('alice', {'credentials': {'user': 'a', 'pw': 'x'}, 'ok': True})")).toBe(`('alice', {'credentials': ${REDACTED}, 'ok': True})`);
    expect(scrubRepr("({'session_id': ['a', 'b']}, 2)")).toBe(`({'session_id': ${REDACTED}}, 2)`);
  });

  it('replaces keyword values in object reprs', () => {
    expect(scrubRepr("(Login(user='bob', password='hunter2'),)")).toBe(`(Login(user='bob', password=${REDACTED}),)`);
    expect(scrubRepr('Conn(secret_key=abc123, port=5432)')).toBe(`Conn(secret_key=${REDACTED}, port=5432)`);
  });

  it('does not treat a secret-looking value (not key) or a comparison as a key', () => {
    expect(scrubRepr("('password', 'token')")).toBe("('password', 'token')");
    expect(scrubRepr("{'kind': 'password reset'}")).toBe("{'kind': 'password reset'}");
    expect(scrubRepr('(key == 3,)')).toBe('(key == 3,)');
  });

  it('handles quotes and escapes inside values', () => {
    expect(scrubRepr(`{'token': 'it\\'s, a }secret', 'after': 1}`)).toBe(`{'token': ${REDACTED}, 'after': 1}`);
    expect(scrubRepr(`{"msg": "a 'password': here", 'x': 1}`)).toBe(`{"msg": "a 'password': here", 'x': 1}`);
  });

  it('redacts to the end when Celery cut the repr inside a secret value', () => {
    expect(scrubRepr("{'a': 1, 'password': 'hunter2 and more...")).toBe(`{'a': 1, 'password': ${REDACTED}`);
  });

  it('scrubs credentials in URLs', () => {
    expect(scrubRepr("('redis://user:s3cret@db:6379/0',)")).toBe("('redis://user:****@db:6379/0',)");
  });

  it('caps the length', () => {
    const long = `(${"'x', ".repeat(500)})`;
    const out = scrubRepr(long, 100);
    expect(out).toHaveLength(101);
    expect(out.endsWith('…')).toBe(true);
    expect(scrubRepr("('short',)", 100)).toBe("('short',)");
  });
});
