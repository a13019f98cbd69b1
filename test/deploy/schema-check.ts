// Validates Kubernetes objects offline against the Kubernetes and prometheus-operator schemas as
// npm ships them (kubernetes-models, @kubernetes-models/prometheus-operator), twice:
// - the JSON-schema validators each model carries (types, enums, required fields, formats);
// - the TypeScript declarations of the same schemas, with every object as an object literal, so
//   the compiler's excess-property check reports any field the schema does not have (the JSON
//   schemas allow unknown fields, and a misspelt `readOnlyRootFileSystem` would pass them).
import ts from 'typescript';
import { join } from 'node:path';
import type { Manifest } from './kubectl-kustomize.js';

const MODULES: Record<string, string> = {
  v1: 'kubernetes-models/v1',
  'apps/v1': 'kubernetes-models/apps/v1',
  'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
};

function moduleOf(m: Manifest): string {
  const mod = MODULES[m.apiVersion];
  if (mod === undefined) throw new Error(`${m.kind}/${m.metadata.name}: no schema for apiVersion ${m.apiVersion}`);
  return mod;
}

interface ModelClass {
  new (data: unknown): { validate(): void };
}

/** Problems the models' JSON-schema validators find, one line each. */
export async function schemaErrors(manifests: readonly Manifest[]): Promise<string[]> {
  const errors: string[] = [];
  for (const m of manifests) {
    const mod = (await import(moduleOf(m))) as Record<string, ModelClass | undefined>;
    const Model = mod[m.kind];
    if (Model === undefined) {
      errors.push(`${m.kind}/${m.metadata.name}: unknown kind for ${m.apiVersion}`);
      continue;
    }
    try {
      new Model(m).validate();
    } catch (err) {
      errors.push(`${m.kind}/${m.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return errors;
}

/** Problems the TypeScript declarations find (unknown fields, wrong types), one line each. */
export function typeErrors(root: string, manifests: readonly Manifest[]): string[] {
  const virtual = join(root, 'test', 'deploy', '__rendered_manifests__.mts');
  const imports = [...new Set(manifests.map(moduleOf))];
  const alias = (mod: string): string => `m${imports.indexOf(mod)}`;
  const lines = imports.map((mod) => `import type * as ${alias(mod)} from '${mod}';`);
  manifests.forEach((m, i) => lines.push(`// ${m.kind}/${m.metadata.name}\nexport const o${i}: ${alias(moduleOf(m))}.I${m.kind} = ${JSON.stringify(m, null, 1)};`));
  const text = lines.join('\n');
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2023,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === virtual ? ts.createSourceFile(name, text, lang, true) : getSourceFile(name, lang, ...rest));
  host.fileExists = (name) => name === virtual || fileExists(name);
  host.readFile = (name) => (name === virtual ? text : readFile(name));
  const program = ts.createProgram([virtual], options, host);
  const file = program.getSourceFile(virtual);
  const diagnostics = [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)];
  return diagnostics.map((d) => {
    const where = d.file !== undefined && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start) : undefined;
    const owner = where !== undefined ? (text.split('\n').slice(0, where.line + 1).reverse().find((l) => l.startsWith('// ')) ?? '') : '';
    return `${owner.slice(3)}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`;
  });
}
