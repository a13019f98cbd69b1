import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { FLAGS, envName, helpText } from '../../src/config/flags.js';
import { CeleryPulseError } from '../../src/errors.js';

function run(argv: string[], env: NodeJS.ProcessEnv = {}): Config {
  const action = loadConfig(argv, env);
  if (action.action !== 'run') throw new Error(`expected run, got ${action.action}`);
  return action.config;
}

function failure(argv: string[], env: NodeJS.ProcessEnv = {}): CeleryPulseError {
  try {
    loadConfig(argv, env);
  } catch (err) {
    if (err instanceof CeleryPulseError) return err;
    throw err;
  }
  throw new Error('expected a CeleryPulseError');
}

describe('loadConfig', () => {
  it('has Celery\'s and celery-exporter\'s defaults', () => {
    const c = run([]);
    expect(c.brokers).toHaveLength(1);
    expect(c.brokers[0]!.url.display).toBe('redis://localhost:6379/0');
    expect(c.brokers[0]!.name).toBe('localhost:6379/0');
    expect(c.listen).toEqual({ host: '0.0.0.0', port: 9808 });
    expect(c.eventExchange).toBe('celeryev');
    expect(c.transport).toMatchObject({ globalKeyprefix: '', fanoutPrefix: true, fanoutPatterns: undefined });
    expect(c.runtimeBuckets[0]).toBe(0.01);
    expect(c.runtimeBuckets.at(-1)).toBe(3600);
    expect(Object.isFrozen(c) && Object.isFrozen(c.brokers)).toBe(true);
  });

  it('reads --flag value, --flag=value, --no-flag and repeatable flags', () => {
    const c = run([
      '--broker-url', 'a=redis://h1:6379/1', '--broker-url=b=redis://h2/2',
      '--broker-transport-option', 'global_keyprefix=pfx:', '--broker-transport-option=fanout_patterns=false',
      '--listen-address', '127.0.0.1:9999', '--generic-hostname-task-sent-metric', '--task-ttl', '2h',
    ]);
    expect(c.brokers.map((b) => [b.name, b.url.endpoints[0]!.host, b.url.db])).toEqual([['a', 'h1', 1], ['b', 'h2', 2]]);
    expect(c.transport).toMatchObject({ globalKeyprefix: 'pfx:', fanoutPatterns: false });
    expect(c.listen).toEqual({ host: '127.0.0.1', port: 9999 });
    expect(c.genericHostnameTaskSent).toBe(true);
    expect(c.taskTtl).toBe(7200);
    expect(run(['--no-generic-hostname-task-sent-metric']).genericHostnameTaskSent).toBe(false);
    // A flag and its negation, or any single-valued flag twice, is a conflict, not "the last wins".
    expect(failure(['--generic-hostname-task-sent-metric', '--no-generic-hostname-task-sent-metric']).code).toBe('CP_ERR_FLAG_CONFLICT');
  });

  it('reads every flag from its environment twin, and flags win', () => {
    const env = { CELERY_PULSE_BROKER_URL: 'x=redis://e1/0,y=redis://e2/0', CELERY_PULSE_LISTEN_ADDRESS: ':7000', CELERY_PULSE_LOG_LEVEL: 'debug' };
    const c = run(['--log-level', 'warn'], env);
    expect(c.brokers.map((b) => b.name)).toEqual(['x', 'y']);
    expect(c.listen.port).toBe(7000);
    expect(c.logLevel).toBe('warn');
    for (const f of FLAGS) expect(envName(f.name)).toMatch(/^CELERY_PULSE_[A-Z_]+$/);
  });

  it('reads a YAML config file with the flag names as keys, below env and flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-config-'));
    const file = join(dir, 'config.yaml');
    writeFileSync(file, 'broker-url:\n  - one=redis://f1/0\n  - two=redis://f2/0\nlisten_address: "127.0.0.1:8000"\nmax-tracked-tasks: 500\nlog-level: error\n');
    const c = run(['--config-file', file], { CELERY_PULSE_LOG_LEVEL: 'debug' });
    expect(c.brokers.map((b) => b.name)).toEqual(['one', 'two']);
    expect(c.listen.port).toBe(8000);
    expect(c.maxTrackedTasks).toBe(500);
    expect(c.logLevel).toBe('debug');
    writeFileSync(file, 'bogus: 1\n');
    expect(failure(['--config-file', file]).message).toContain('unknown setting "bogus"');
  });

  it('names the bad flag or value in one message', () => {
    expect(failure(['--bogus']).message).toBe('unknown flag --bogus (see --help)');
    expect(failure(['--listen-address']).code).toBe('CP_ERR_MISSING_VALUE');
    expect(failure(['--listen-address', 'nowhere']).message).toBe('invalid value for --listen-address: "nowhere" (HOST:PORT)');
    expect(failure(['--task-ttl', 'soon']).message).toContain('--task-ttl');
    expect(failure(['--runtime-buckets', '1,0.5']).message).toContain('bucket bounds must increase');
    expect(failure(['--log-level', 'loud']).message).toContain('--log-level');
    expect(failure(['--broker-transport-option', 'nonsense']).message).toContain('--broker-transport-option');
    expect(run(['--broker-transport-option', 'colour=blue']).notices).toContain('broker transport options not used by celery-pulse: colour');
    expect(failure(['--broker-url', 'redis://h/0', '--broker-url', 'redis://h/0']).message).toContain('two brokers named');
    expect(failure(['stray']).code).toBe('CP_ERR_UNKNOWN_FLAG');
  });

  it('never echoes a broker password in an error', () => {
    const err = failure(['--broker-url', 'kafka://user:hunter2@h/0']);
    expect(err.message).toContain('unsupported scheme');
    expect(err.message).not.toContain('hunter2');
    expect(failure(['--broker-url', 'redis://:hunter2@h/notadb']).message).not.toContain('hunter2');
  });

  it('answers --help and --version without validating anything else', () => {
    expect(loadConfig(['--help'], { CELERY_PULSE_LISTEN_ADDRESS: 'bad' }).action).toBe('help');
    expect(loadConfig(['--version'], { CELERY_PULSE_LISTEN_ADDRESS: 'bad' }).action).toBe('version');
    const help = helpText('1.2.3');
    for (const f of FLAGS) expect(help).toContain(`--${f.name}`);
  });
});
