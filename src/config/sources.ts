import { fs } from '../builtins.js';
import type * as Yaml from 'yaml';
import { lazyModule } from '../lazy-module.js';
import { redactSecrets } from '../brokers/url.js';
import { configError } from '../errors.js';
import { FLAGS, envName } from './flags.js';
import type { FlagDef } from './flags.js';
import type { RawValues } from './celery-exporter.js';

// Where settings come from, as raw strings by flag name: argv (every spelling: --name, aliases,
// one-letter forms), the CELERY_PULSE_* environment and the YAML config file. config.ts decides
// precedence and validates.

const yaml = lazyModule<typeof Yaml>('yaml');

const byName = new Map(FLAGS.map((f) => [f.name, f]));
/** Every other spelling (aliases, one-letter forms) to its flag. */
const bySpelling = new Map<string, FlagDef>([
  ...FLAGS.flatMap((f) => (f.aliases ?? []).map((a) => [a, f] as const)),
  ...FLAGS.flatMap((f) => (f.short !== undefined ? [[f.short, f] as const] : [])),
]);

/** argv into values by flag name; `exporterSpellings`: celery-exporter-only spellings used (-Q). */
export function parseArgv(argv: readonly string[]): { values: RawValues; exporterSpellings: string[] } {
  const out: RawValues = new Map();
  const exporterSpellings: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    // One-letter forms, as click takes them: -Q a,b, -Qa,b, -h.
    const short = /^-([A-Za-z])(.*)$/s.exec(arg);
    if (short !== null) {
      const flag = bySpelling.get(short[1]!);
      if (flag === undefined || flag.short !== short[1]) throw configError('CP_ERR_UNKNOWN_FLAG', `unknown flag -${short[1]!} (see --help)`);
      if (flag.celeryExporter !== undefined) exporterSpellings.push(`-${short[1]!}`);
      if (flag.boolean) {
        if (short[2] !== '') throw configError('CP_ERR_FLAG_VALUE', `flag -${short[1]!} takes no value`);
        add(out, flag, 'true', 'flag');
        continue;
      }
      let v = short[2]!;
      if (v === '') {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith('-')) throw configError('CP_ERR_MISSING_VALUE', `flag -${short[1]!} needs a value (${flag.value ?? 'VALUE'})`);
        v = next;
        i++;
      }
      addOnce(out, flag, v);
      continue;
    }
    if (!arg.startsWith('--')) throw configError('CP_ERR_UNKNOWN_FLAG', `unexpected argument "${redactSecrets(arg)}" (flags start with --)`);
    const eq = arg.indexOf('=');
    let name = eq === -1 ? arg.slice(2) : arg.slice(2, eq);
    let inline = eq === -1 ? undefined : arg.slice(eq + 1);
    let flag = byName.get(name) ?? bySpelling.get(name);
    if (flag !== undefined) name = flag.name;
    if (flag === undefined && name.startsWith('no-') && byName.get(name.slice(3))?.boolean) {
      flag = byName.get(name.slice(3));
      name = name.slice(3);
      if (inline !== undefined) throw configError('CP_ERR_FLAG_VALUE', `flag --no-${name} takes no value`);
      inline = 'false';
    }
    if (flag === undefined) throw configError('CP_ERR_UNKNOWN_FLAG', `unknown flag --${name} (see --help)`);
    let v: string;
    if (inline !== undefined) v = inline;
    else if (flag.boolean) v = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) throw configError('CP_ERR_MISSING_VALUE', `flag --${name} needs a value (${flag.value ?? 'VALUE'})`);
      v = next;
      i++;
    }
    addOnce(out, flag, v);
  }
  return { values: out, exporterSpellings };
}

export function readEnv(env: NodeJS.ProcessEnv): RawValues {
  const out: RawValues = new Map();
  for (const flag of FLAGS) {
    if (flag.name === 'help' || flag.name === 'version') continue;
    const v = env[envName(flag.name)];
    // An empty broker URL is a secret that failed to reach the pod, not a wish for the default.
    if (v !== undefined && v.trim() === '' && flag.name === 'broker-url') throw configError('CP_ERR_MISSING_VALUE', `${envName(flag.name)} is set but empty (--broker-url)`);
    if (v === undefined || v === '') continue;
    const values = flag.repeatable ? v.split(',').map((s) => s.trim()).filter((s) => s !== '') : [v];
    for (const item of values) add(out, flag, item, 'env');
  }
  return out;
}

export function readConfigFile(path: string): RawValues {
  let doc: unknown;
  try {
    doc = yaml().parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    const reason = err instanceof Error ? err.message.split('\n')[0] : String(err);
    throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: ${redactSecrets(reason ?? '')}`);
  }
  const out: RawValues = new Map();
  if (doc === null || doc === undefined) return out;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: expected a mapping of flag names to values`);
  for (const [key, raw] of Object.entries(doc as Record<string, unknown>)) {
    const flag = byName.get(key.replace(/_/g, '-'));
    if (flag === undefined || flag.name === 'help' || flag.name === 'version' || flag.name === 'config-file') {
      throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: unknown setting "${key}"`);
    }
    const items = Array.isArray(raw) ? raw : [raw];
    if (items.length > 1 && !flag.repeatable) throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: "${key}" takes one value`);
    for (const item of items) {
      if (item === null || typeof item === 'object') throw configError('CP_ERR_CONFIG_FILE', `config file ${path}: "${key}" must be a string, number or boolean`);
      add(out, flag, String(item), 'file');
    }
  }
  return out;
}

/**
 * A command-line value. The last of two values would win silently: `--queue-metrics
 * --no-queue-metrics` or two --listen-address are a mistake in a manifest, not a choice.
 */
function addOnce(out: RawValues, flag: FlagDef, value: string): void {
  if (!flag.repeatable && out.has(flag.name)) throw configError('CP_ERR_FLAG_CONFLICT', `flag --${flag.name} given twice (once only)`);
  add(out, flag, value, 'flag');
}

function add(out: RawValues, flag: FlagDef, value: string, _source: string): void {
  const list = out.get(flag.name);
  if (list === undefined || !flag.repeatable) out.set(flag.name, [value]);
  else list.push(value);
}
