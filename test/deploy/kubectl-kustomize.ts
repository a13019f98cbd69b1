// deploy/kubernetes rendered by the real kustomize, `kubectl kustomize` (Debian's kubernetes-client
// or any other kubectl on PATH; CELERY_PULSE_KUBECTL picks another), into its list of objects.
import { spawnSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';

export const KUBECTL = process.env['CELERY_PULSE_KUBECTL'] ?? 'kubectl';

export type Manifest = Record<string, unknown> & {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string> } & Record<string, unknown>;
};

/** Renders the kustomization in `dir` into its list of objects. */
export function renderKustomization(dir: string): Manifest[] {
  const r = spawnSync(KUBECTL, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`${KUBECTL}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${KUBECTL} kustomize ${dir} exited ${r.status}: ${r.stderr}`);
  const out: Manifest[] = [];
  for (const d of parseAllDocuments(r.stdout)) {
    if (d.errors.length > 0) throw new Error(`${KUBECTL} kustomize ${dir}: ${d.errors[0]!.message}`);
    const v = d.toJS() as Manifest | null;
    if (v !== null && v !== undefined) out.push(v);
  }
  return out;
}
