// Precedence of the four sources of a setting (flag > environment > config file > default) and
// the errors of a mounted config file, as the Kubernetes manifests use them (ConfigMap + env).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { CeleryPulseError } from '../../src/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'pulse-precedence-'));
let files = 0;
function configFile(text: string): string {
  const path = join(dir, `config-${files++}.yaml`);
  writeFileSync(path, text);
  return path;
}

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

describe('flag > environment > config file > default', () => {
  const file = configFile('log-level: error\nqueue-metrics: false\nonly-worker: [file@a, file@b]\ntask-ttl: 3h\n');

  it('takes a scalar from the highest source that sets it', () => {
    expect(run([]).logLevel).toBe('info');
    expect(run(['--config-file', file]).logLevel).toBe('error');
    expect(run(['--config-file', file], { CELERY_PULSE_LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(run(['--config-file', file, '--log-level', 'debug'], { CELERY_PULSE_LOG_LEVEL: 'warn' }).logLevel).toBe('debug');
    expect(run(['--log-level', 'debug'], { CELERY_PULSE_LOG_LEVEL: 'warn' }).logLevel).toBe('debug');
  });

  it('takes a boolean from the highest source, --no-FLAG included', () => {
    expect(run([]).queueMetrics).toBe(true);
    expect(run(['--config-file', file]).queueMetrics).toBe(false);
    expect(run(['--config-file', file], { CELERY_PULSE_QUEUE_METRICS: 'true' }).queueMetrics).toBe(true);
    expect(run(['--config-file', file, '--no-queue-metrics'], { CELERY_PULSE_QUEUE_METRICS: 'true' }).queueMetrics).toBe(false);
    expect(run(['--queue-metrics'], { CELERY_PULSE_QUEUE_METRICS: 'false' }).queueMetrics).toBe(true);
  });

  it('replaces a repeatable list as a whole rather than merging sources', () => {
    expect(run([]).onlyWorkers).toEqual([]);
    expect(run(['--config-file', file]).onlyWorkers).toEqual(['file@a', 'file@b']);
    expect(run(['--config-file', file], { CELERY_PULSE_ONLY_WORKER: 'env@a, env@b' }).onlyWorkers).toEqual(['env@a', 'env@b']);
    expect(run(['--config-file', file, '--only-worker', 'flag@a'], { CELERY_PULSE_ONLY_WORKER: 'env@a' }).onlyWorkers).toEqual(['flag@a']);
  });

  it('finds the config file from the environment, and a --config-file flag wins over it', () => {
    const other = configFile('log-level: fatal\n');
    expect(run([], { CELERY_PULSE_CONFIG_FILE: file }).taskTtl).toBe(3 * 3600);
    expect(run(['--config-file', other], { CELERY_PULSE_CONFIG_FILE: file }).logLevel).toBe('fatal');
    expect(run(['--config-file', other], { CELERY_PULSE_CONFIG_FILE: file }).taskTtl).toBe(24 * 3600);
  });

  it('reads underscores as dashes in file keys, and an empty environment variable as unset', () => {
    expect(run(['--config-file', configFile('task_ttl: 90s\n')], { CELERY_PULSE_TASK_TTL: '' }).taskTtl).toBe(90);
    expect(run(['--config-file', configFile('')]).logLevel).toBe('info');
  });
});

describe('config file errors', () => {
  const code = (argv: string[], env: NodeJS.ProcessEnv = {}): string => failure(argv, env).code;

  it('names a missing or unreadable file', () => {
    const missing = join(dir, 'nope.yaml');
    const err = failure(['--config-file', missing]);
    expect(err.code).toBe('CP_ERR_CONFIG_FILE');
    expect(err.message).toContain(missing);
    expect(code([], { CELERY_PULSE_CONFIG_FILE: dir })).toBe('CP_ERR_CONFIG_FILE');
  });

  it('rejects invalid YAML and documents that are not a mapping', () => {
    expect(failure(['--config-file', configFile('log-level: [unclosed\n')]).code).toBe('CP_ERR_CONFIG_FILE');
    expect(failure(['--config-file', configFile('- a\n- b\n')]).message).toContain('expected a mapping of flag names to values');
    expect(failure(['--config-file', configFile('just a string\n')]).message).toContain('expected a mapping');
  });

  it('rejects unknown keys, keys that are not settings, lists for single values and nested values', () => {
    expect(failure(['--config-file', configFile('log-levle: info\n')]).message).toContain('unknown setting "log-levle"');
    expect(failure(['--config-file', configFile('help: true\n')]).message).toContain('unknown setting "help"');
    expect(failure(['--config-file', configFile('config-file: other.yaml\n')]).message).toContain('unknown setting "config-file"');
    expect(failure(['--config-file', configFile('log-level: [info, warn]\n')]).message).toContain('"log-level" takes one value');
    expect(failure(['--config-file', configFile('task-ttl:\n  hours: 1\n')]).message).toContain('"task-ttl" must be a string, number or boolean');
    expect(failure(['--config-file', configFile('task-ttl:\n')]).message).toContain('"task-ttl" must be a string, number or boolean');
  });

  it('validates values from the file like flags, naming the flag', () => {
    expect(failure(['--config-file', configFile('task-ttl: soon\n')]).message).toBe('invalid value for --task-ttl: "soon" (a duration such as 30s, 5m, 1h30m)');
    expect(failure(['--config-file', configFile('queue-metrics: maybe\n')]).message).toContain('--queue-metrics');
    expect(failure(['--config-file', configFile('only-worker: "celery@$(POD_NAME)"\n')]).message).toContain('unexpanded variable');
  });

  it('lets a good flag or variable not hide a bad value lower down only when it overrides it', () => {
    const bad = configFile('task-ttl: soon\n');
    expect(run(['--config-file', bad, '--task-ttl', '1h']).taskTtl).toBe(3600);
    expect(run(['--config-file', bad], { CELERY_PULSE_TASK_TTL: '2h' }).taskTtl).toBe(7200);
  });

  it('never echoes a broker password from the file', () => {
    const err = failure(['--config-file', configFile('broker-url: "redis://:hunter2@h/notadb"\n')]);
    expect(err.code).toBe('CP_ERR_FLAG_VALUE');
    expect(err.message).not.toContain('hunter2');
  });
});

describe('--only-worker', () => {
  it('takes node names and globs, and rejects empty values, spaces and unexpanded variables', () => {
    expect(run(['--only-worker', 'celery@pod-1', '--only-worker', 'w?@*']).onlyWorkers).toEqual(['celery@pod-1', 'w?@*']);
    expect(failure(['--only-worker', ' ']).code).toBe('CP_ERR_FLAG_VALUE');
    expect(failure(['--only-worker', 'a b']).message).toContain('--only-worker');
    expect(failure([], { CELERY_PULSE_ONLY_WORKER: 'celery@$(POD_NAME)' }).message).toContain('POD_NAME');
  });
});
