import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, sourceFiles } from '../kit/source-files.js';

// Every relative import of src/, `import type` and `export ... from` included: a type-only cycle
// still ties two modules together for a reader and for the next refactoring.
const IMPORT = /^\s*(?:import|export)\b[^'"]*?from\s+['"](\.[^'"]+)['"]/gm;

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT)].map((m) => resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
}

/** Each cycle once, as the list of modules from its smallest member round to it again. */
function cyclesIn(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  const files = [...graph.keys()];
  const cycles = new Map<string, string[]>();
  const visit = (file: string, path: string[], onPath: Set<string>, done: Set<string>): void => {
    if (onPath.has(file)) {
      const cycle = path.slice(path.indexOf(file));
      const start = cycle.indexOf([...cycle].sort()[0]!);
      const canonical = [...cycle.slice(start), ...cycle.slice(0, start)];
      cycles.set(canonical.join(' -> '), canonical);
      return;
    }
    if (done.has(file)) return;
    onPath.add(file);
    path.push(file);
    for (const next of graph.get(file) ?? []) visit(next, path, onPath, done);
    path.pop();
    onPath.delete(file);
    done.add(file);
  };
  // A fresh `done` per root finds every elementary cycle through that root without exploring
  // all paths of the graph (src/ is a few hundred modules).
  for (const file of files) visit(file, [], new Set(), new Set());
  return [...cycles.values()];
}

describe('src/ imports', () => {
  it('form no cycle, type-only imports included', () => {
    const files = sourceFiles(SRC);
    const graph = new Map(files.map((f) => [f, importsOf(f)]));
    expect(cyclesIn(graph).map((cycle) => cycle.map((f) => relative(SRC, f)).join(' -> '))).toEqual([]);
  });

  it('flow one way: brokers and the protocol know nothing of state or sinks, the state nothing of brokers or sinks', () => {
    // STYLE.md: broker frame -> decode -> state transition -> metric/span effects.
    const forbidden: Record<string, readonly string[]> = {
      brokers: ['state', 'metrics', 'traces', 'detectors', 'http', 'control'],
      protocol: ['brokers', 'state', 'metrics', 'traces', 'detectors', 'http', 'control', 'config'],
      state: ['brokers', 'metrics', 'traces', 'detectors', 'http', 'control', 'config'],
    };
    const crossings: string[] = [];
    for (const file of sourceFiles(SRC)) {
      const from = relative(SRC, file).split('/')[0]!;
      for (const target of importsOf(file)) {
        const to = relative(SRC, target).split('/')[0]!;
        if (forbidden[from]?.includes(to)) crossings.push(`${relative(SRC, file)} -> ${relative(SRC, target)}`);
      }
    }
    expect(crossings).toEqual([]);
  });

  it('the walker reads type-only imports and re-exports', () => {
    const observer = importsOf(join(SRC, 'state/ignoring-observer.ts')).map((f) => relative(SRC, f));
    expect(observer).toContain('state/observer.ts');
    expect(importsOf(join(SRC, 'config/config.ts')).map((f) => relative(SRC, f))).toContain('config/config-shape.ts');
  });

  it('the walker finds each cycle once, the longer ones too', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['a', 'c']],
      ['c', ['d']],
      ['d', ['b']],
      ['e', ['a']],
    ]);
    expect(cyclesIn(graph).map((c) => c.join(' -> ')).sort()).toEqual(['a -> b', 'b -> c -> d']);
  });
});
