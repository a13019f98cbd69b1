// Reproduces a Dockerfile's stages in plain directories, for machines without a container
// engine: each stage gets a root directory; WORKDIR, COPY (from the build context, filtered by
// .dockerignore, or --from another stage) and ENV are applied; RUN lines of the stages asked for
// run with sh in the stage's working directory, with the host's Node.js and npm standing in for
// the base image's. Only the instructions celery-pulse's Dockerfile uses are understood; any
// other is an error, so the reproduction cannot silently skip a step.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

export interface Instruction {
  readonly op: string;
  readonly args: string;
}

export interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

export interface Dockerfile {
  /** ARG defaults declared before the first FROM. */
  readonly args: Record<string, string>;
  readonly stages: Stage[];
}

const KNOWN = new Set(['ARG', 'FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'ENTRYPOINT', 'CMD']);

export function parseDockerfile(path: string): Dockerfile {
  const text = readFileSync(path, 'utf8').replace(/\\\n/g, ' ');
  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const space = line.search(/\s/);
    const op = line.slice(0, space).toUpperCase();
    const rest = line.slice(space).trim();
    if (!KNOWN.has(op)) throw new Error(`Dockerfile: ${op} is not understood by this reproduction`);
    if (op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      stages.push({ from: m![1]!, name: m![2], instructions: [] });
    } else if (stages.length === 0) {
      const [k, v] = rest.split('=');
      if (op === 'ARG' && k !== undefined && v !== undefined) args[k] = v;
    } else stages.at(-1)!.instructions.push({ op, args: rest });
  }
  return { args, stages };
}

/** The final stage's settings as a container would start with them. */
export function runtimeOf(stage: Stage): { env: Record<string, string>; workdir: string; user: string; entrypoint: string[] } {
  const env: Record<string, string> = {};
  let workdir = '/';
  let user = 'root';
  let entrypoint: string[] = [];
  for (const i of stage.instructions) {
    if (i.op === 'ENV') for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) env[m[1]!] = m[2]!;
    if (i.op === 'WORKDIR') workdir = i.args;
    if (i.op === 'USER') user = i.args;
    if (i.op === 'ENTRYPOINT') entrypoint = JSON.parse(i.args) as string[];
  }
  return { env, workdir, user, entrypoint };
}

/** The allow-list of a `*` then `!path` .dockerignore. */
export function contextAllowList(dockerignore: string): string[] {
  const lines = readFileSync(dockerignore, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  if (lines[0] !== '*' || lines.slice(1).some((l) => !l.startsWith('!'))) throw new Error('.dockerignore: expected "*" then "!path" lines');
  return lines.slice(1).map((l) => l.slice(1).replace(/\/$/, ''));
}

/**
 * Reproduces the stages in `roots` (stage name or index -> directory); RUN lines run only for
 * stages in `runStages`. Returns each stage's root.
 */
export function reproduce(file: Dockerfile, context: string, allowed: readonly string[], outDir: string, runStages: ReadonlySet<string>, env: NodeJS.ProcessEnv = {}): Map<string, string> {
  const roots = new Map<string, string>();
  file.stages.forEach((stage, index) => {
    const key = stage.name ?? String(index);
    const root = join(outDir, key);
    mkdirSync(root, { recursive: true });
    roots.set(key, root);
    let workdir = '/';
    const stageEnv: Record<string, string> = {};
    const inRoot = (p: string): string => join(root, p.startsWith('/') ? p : join(workdir, p));
    for (const i of stage.instructions) {
      switch (i.op) {
        case 'WORKDIR':
          workdir = i.args;
          mkdirSync(inRoot('.'), { recursive: true });
          break;
        case 'ENV':
          for (const m of i.args.matchAll(/(\w+)=(\S+)/g)) stageEnv[m[1]!] = m[2]!;
          break;
        case 'COPY': {
          const words = i.args.split(/\s+/);
          const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
          const dest = words.pop()!;
          for (const src of words) {
            let source: string;
            if (from !== undefined) {
              const fromRoot = roots.get(from);
              if (fromRoot === undefined) throw new Error(`COPY --from=${from}: no such stage before ${key}`);
              source = join(fromRoot, src);
            } else {
              if (!allowed.includes(src.replace(/\/$/, ''))) throw new Error(`COPY ${src}: excluded from the build context by .dockerignore`);
              source = join(context, src);
            }
            if (!existsSync(source)) throw new Error(`COPY ${src}: not found`);
            const target = dest.endsWith('/') && !statSync(source).isDirectory() ? join(inRoot(dest), basename(src)) : inRoot(dest);
            cpSync(source, target, { recursive: true, dereference: false });
          }
          break;
        }
        case 'RUN': {
          if (!runStages.has(key)) break;
          const r = spawnSync('sh', ['-c', i.args], { cwd: inRoot('.'), env: { ...process.env, ...env, ...stageEnv }, encoding: 'utf8' });
          if (r.status !== 0) throw new Error(`stage ${key}: RUN ${i.args} failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
          break;
        }
      }
    }
  });
  return roots;
}
