// The part of kustomize that deploy/kubernetes uses, so the overlays render without kubectl:
// `resources` (files and directories holding a kustomization.yaml) and `labels` pairs on
// metadata. Anything else in a kustomization is refused rather than ignored, so this renderer
// cannot silently disagree with `kubectl kustomize`.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> } & Record<string, unknown>;
};

const SUPPORTED = new Set(['apiVersion', 'kind', 'resources', 'labels']);

interface Kustomization {
  apiVersion?: string;
  kind?: string;
  resources?: string[];
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
}

/** Renders the kustomization in `dir` into its list of objects. */
export function renderKustomization(dir: string): Manifest[] {
  const file = join(dir, 'kustomization.yaml');
  if (!existsSync(file)) throw new Error(`${dir}: no kustomization.yaml`);
  const k = readYaml(file)[0] as Kustomization;
  if (k.kind !== 'Kustomization' || k.apiVersion !== 'kustomize.config.k8s.io/v1beta1') throw new Error(`${file}: not a kustomize.config.k8s.io/v1beta1 Kustomization`);
  for (const key of Object.keys(k)) if (!SUPPORTED.has(key)) throw new Error(`${file}: "${key}" is not supported by this renderer`);
  const out: Manifest[] = [];
  for (const entry of k.resources ?? []) {
    const path = resolve(dir, entry);
    if (statSync(path).isDirectory()) out.push(...renderKustomization(path));
    else {
      // kustomize's default load restriction: files from inside the kustomization's directory only.
      if (!path.startsWith(resolve(dir) + '/')) throw new Error(`${file}: file ${entry} is outside the kustomization directory`);
      out.push(...(readYaml(path) as Manifest[]));
    }
  }
  for (const l of k.labels ?? []) {
    if (l.includeSelectors === true || l.includeTemplates === true) throw new Error(`${file}: labels with includeSelectors/includeTemplates are not supported`);
    for (const m of out) m.metadata.labels = { ...(m.metadata.labels ?? {}), ...l.pairs };
  }
  const seen = new Set<string>();
  for (const m of out) {
    const id = `${m.apiVersion}/${m.kind}/${m.metadata.name}`;
    if (seen.has(id)) throw new Error(`${file}: ${id} defined twice`);
    seen.add(id);
  }
  return out;
}

function readYaml(path: string): unknown[] {
  const docs = parseAllDocuments(readFileSync(path, 'utf8'));
  const out: unknown[] = [];
  for (const d of docs) {
    if (d.errors.length > 0) throw new Error(`${path}: ${d.errors[0]!.message}`);
    const v: unknown = d.toJS();
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}
