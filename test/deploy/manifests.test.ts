// deploy/kubernetes rendered by the real `kubectl kustomize` (test/deploy/kubectl-kustomize.ts),
// every object validated against the Kubernetes and prometheus-operator schemas, the dashboards'
// ConfigMaps checked against dashboards/*.json, and the wiring checked: the
// security settings, the probes, what selects what, and that each celery-pulse container's
// settings (ConfigMap file + environment) load into a valid Config with the intended mode.
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/config.js';
import type { Config } from '../../src/config/config.js';
import { compileHostnamePatterns } from '../../src/filter/hostname-pattern.js';
import { ROOT } from '../kit/paths.js';
import { renderKustomization } from './kubectl-kustomize.js';
import type { Manifest } from './kubectl-kustomize.js';
import { schemaErrors, typeErrors } from './schema-check.js';

const K8S = join(ROOT, 'deploy', 'kubernetes');

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: { name: string; key: string } };
}
interface Port {
  name?: string;
  containerPort: number;
}
interface Probe {
  httpGet?: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  restartPolicy?: string;
  env?: EnvVar[];
  ports?: Port[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown> & { capabilities?: { drop?: string[]; add?: string[] } };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  volumes?: { name: string; configMap?: { name: string } }[];
}
interface PodMonitor {
  spec: {
    selector: { matchLabels: Record<string, string> };
    podMetricsEndpoints: { port: string; path: string; metricRelabelings?: { sourceLabels?: string[]; regex?: string; action?: string }[] }[];
  };
}
interface Workload {
  spec: { replicas?: number; strategy?: { type: string }; selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: PodSpec } };
}

const POD_NAME = 'celery-worker-7d9f8b6c5-x2x4q';

function find(ms: Manifest[], kind: string, name: string): Manifest {
  const m = ms.find((x) => x.kind === kind && x.metadata.name === name);
  if (m === undefined) throw new Error(`no ${kind}/${name}`);
  return m;
}

const workload = (m: Manifest): Workload => m as unknown as Workload;
const subset = (small: Record<string, string>, big: Record<string, string>): boolean => Object.entries(small).every(([k, v]) => big[k] === v);

/** The celery-pulse containers of a pod, wherever they are (containers or native sidecars). */
function pulseContainers(pod: PodSpec): Container[] {
  return [...(pod.initContainers ?? []), ...pod.containers].filter((c) => c.image.startsWith('celery-pulse:'));
}

/** The container's environment as Kubernetes builds it: $(VAR) from earlier variables, fieldRefs, secrets. */
function resolveEnv(c: Container, ms: Manifest[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const v of c.env ?? []) {
    if (v.value !== undefined) env[v.name] = v.value.replace(/\$\((\w+)\)/g, (whole, name: string) => env[name] ?? whole);
    else if (v.valueFrom?.fieldRef?.fieldPath === 'metadata.name') env[v.name] = POD_NAME;
    else if (v.valueFrom?.secretKeyRef !== undefined) {
      const secret = find(ms, 'Secret', v.valueFrom.secretKeyRef.name) as unknown as { stringData: Record<string, string> };
      env[v.name] = secret.stringData[v.valueFrom.secretKeyRef.key]!;
    } else throw new Error(`${c.name}: cannot resolve ${v.name}`);
  }
  return env;
}

/** Loads the container's settings as the daemon would, with the mounted ConfigMap file in a temp dir. */
function configOf(c: Container, pod: PodSpec, ms: Manifest[]): Config {
  const env = resolveEnv(c, ms);
  const path = env['CELERY_PULSE_CONFIG_FILE']!;
  const mount = c.volumeMounts?.find((vm) => path.startsWith(`${vm.mountPath}/`));
  const volume = pod.volumes?.find((v) => v.name === mount?.name);
  const cm = find(ms, 'ConfigMap', volume!.configMap!.name) as unknown as { data: Record<string, string> };
  const file = join(mkdtempSync(join(tmpdir(), 'pulse-cm-')), 'config.yaml');
  writeFileSync(file, cm.data[path.slice(mount!.mountPath.length + 1)]!);
  const action = loadConfig([], { ...env, CELERY_PULSE_CONFIG_FILE: file });
  if (action.action !== 'run') throw new Error('expected a run');
  return action.config;
}

function checkPulseContainer(c: Container): void {
  expect(c.securityContext).toMatchObject({ runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  expect(c.securityContext?.capabilities?.drop).toEqual(['ALL']);
  expect(c.securityContext?.capabilities?.add).toBeUndefined();
  expect(c.securityContext?.['privileged']).not.toBe(true);
  expect(c.livenessProbe?.httpGet?.path).toBe('/healthz');
  expect(c.readinessProbe?.httpGet?.path).toBe('/readyz');
  for (const probe of [c.livenessProbe, c.readinessProbe]) {
    expect(c.ports?.find((p) => p.name === probe?.httpGet?.port)?.containerPort).toBe(9808);
  }
  expect(c.resources?.requests?.['memory']).toMatch(/^\d+Mi$/);
  expect(c.resources?.limits?.['memory']).toMatch(/^\d+Mi$/);
  expect(c.volumeMounts?.every((m) => m.readOnly === true)).toBe(true);
}

describe.each(['standalone', 'sidecar'])('the %s overlay', (overlay) => {
  let ms: Manifest[];

  beforeAll(() => {
    ms = renderKustomization(join(K8S, 'overlays', overlay));
  });

  it('validates against the Kubernetes and prometheus-operator JSON schemas', async () => {
    expect(await schemaErrors(ms)).toEqual([]);
  });

  it('runs every celery-pulse container non-root, read-only, unprivileged, probed and bounded', () => {
    const pods = ms.filter((m) => m.kind === 'Deployment').map((m) => workload(m).spec.template.spec);
    const containers = pods.flatMap(pulseContainers);
    expect(containers.length).toBeGreaterThanOrEqual(1);
    for (const c of containers) checkPulseContainer(c);
    for (const pod of pods) {
      expect(pod.securityContext?.runAsNonRoot).toBe(true);
      expect(pod.securityContext?.runAsUser).toBeGreaterThan(0);
    }
  });

  it('labels every object as part of celery-pulse', () => {
    expect(ms.filter((m) => m.metadata.labels?.['app.kubernetes.io/part-of'] !== 'celery-pulse').map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([]);
  });

  it('ships every dashboard of dashboards/ as a ConfigMap for Grafana\'s sidecar, byte for byte', () => {
    const files = readdirSync(join(ROOT, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
    const maps = ms.filter((m) => m.kind === 'ConfigMap' && m.metadata.labels?.['grafana_dashboard'] === '1') as unknown as { metadata: { name: string }; data: Record<string, string> }[];
    expect(maps.flatMap((m) => Object.keys(m.data)).sort()).toEqual(files);
    for (const m of maps) {
      const [file, json] = Object.entries(m.data)[0]!;
      expect(m.metadata.name).toBe(file.replace(/^celery-pulse-/, 'celery-pulse-dashboard-').replace(/\.json$/, ''));
      expect(json, file).toBe(readFileSync(join(ROOT, 'dashboards', file), 'utf8'));
    }
  });

  it('includes the generated PrometheusRule as it is in alerts/', () => {
    const generated = parseYaml(readFileSync(join(ROOT, 'alerts', 'celery-pulse.prometheusrule.yaml'), 'utf8')) as Manifest;
    const rule = find(ms, 'PrometheusRule', generated.metadata.name);
    expect(rule.spec).toEqual(generated.spec);
  });
});

// One TypeScript program for both overlays: building it takes seconds on a busy machine.
const TYPECHECK_TIMEOUT_MS = 60_000;

describe('both overlays', () => {
  let problems: string[];

  beforeAll(() => {
    const all = ['standalone', 'sidecar'].flatMap((o) => renderKustomization(join(K8S, 'overlays', o)));
    problems = typeErrors(ROOT, all);
  }, TYPECHECK_TIMEOUT_MS);

  it('have no field the schemas do not declare, and no value of the wrong type', () => {
    expect(problems).toEqual([]);
  });
});

describe('standalone', () => {
  const ms = renderKustomization(join(K8S, 'overlays', 'standalone'));
  const deployment = workload(find(ms, 'Deployment', 'celery-pulse'));

  it('is one replica, replaced rather than rolled, so no event is counted twice', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy?.type).toBe('Recreate');
    expect(ms.filter((m) => m.kind === 'Deployment')).toHaveLength(1);
  });

  it('is selected by its Service, and the Service by the ServiceMonitor on a port it has', () => {
    const pod = deployment.spec.template;
    expect(subset(deployment.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    const service = find(ms, 'Service', 'celery-pulse') as unknown as { metadata: { labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: { name: string; targetPort: string }[] } };
    expect(subset(service.spec.selector, pod.metadata.labels)).toBe(true);
    expect(pod.spec.containers[0]!.ports?.map((p) => p.name)).toContain(service.spec.ports[0]!.targetPort);
    const monitor = find(ms, 'ServiceMonitor', 'celery-pulse') as unknown as { spec: { selector: { matchLabels: Record<string, string> }; endpoints: { port: string; path: string }[] } };
    expect(subset(monitor.spec.selector.matchLabels, service.metadata.labels)).toBe(true);
    expect(monitor.spec.endpoints.map((e) => [e.port, e.path])).toEqual([[service.spec.ports[0]!.name, '/metrics']]);
  });

  it('loads its settings from the ConfigMap file and the environment: every worker, queue lengths on', () => {
    const pod = deployment.spec.template.spec;
    const config = configOf(pulseContainers(pod)[0]!, pod, ms);
    expect(config.onlyWorkers).toEqual([]);
    expect(config.queueMetrics).toBe(true);
    expect(config.listen.port).toBe(9808);
    expect(config.brokers[0]!.url.display).toBe('redis://redis:6379/0');
  });
});

describe('sidecar', () => {
  const ms = renderKustomization(join(K8S, 'overlays', 'sidecar'));
  const worker = workload(find(ms, 'Deployment', 'celery-worker'));
  const queues = workload(find(ms, 'Deployment', 'celery-pulse-queues'));

  it('runs celery-pulse as a native sidecar of the worker', () => {
    const pod = worker.spec.template.spec;
    const sidecar = pod.initContainers?.find((c) => c.name === 'celery-pulse');
    expect(sidecar?.restartPolicy).toBe('Always');
    expect(pod.containers.map((c) => c.name)).toEqual(['worker']);
    const names = sidecar!.env!.map((e) => e.name);
    // $(POD_NAME) is expanded only from a variable declared earlier in the same container.
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('CELERY_PULSE_ONLY_WORKER'));
  });

  it('selects exactly the node name the worker container gives its worker, with task events on', () => {
    const pod = worker.spec.template.spec;
    const main = pod.containers[0]!;
    const command = main.command!.map((arg) => arg.replace('$(POD_NAME)', resolveEnv(main, ms)['POD_NAME']!));
    expect(command).toContain('-E');
    const nodeName = command[command.indexOf('-n') + 1]!;
    expect(nodeName).toBe(`celery@${POD_NAME}`);
    const config = configOf(pulseContainers(pod)[0]!, pod, ms);
    expect(config.onlyWorkers).toEqual([nodeName]);
    expect(compileHostnamePatterns(config.onlyWorkers)(nodeName)).toBe(true);
    expect(compileHostnamePatterns(config.onlyWorkers)('celery@celery-worker-7d9f8b6c5-other')).toBe(false);
    expect(config.queueMetrics).toBe(false);
  });

  it('reports queue lengths from exactly one instance', () => {
    expect(queues.spec.replicas).toBe(1);
    expect(queues.spec.strategy?.type).toBe('Recreate');
    const pod = queues.spec.template.spec;
    const config = configOf(pulseContainers(pod)[0]!, pod, ms);
    expect(config.queueMetrics).toBe(true);
    // A standalone instance: it learns queue names from every task-sent event.
    expect(config.onlyWorkers).toEqual([]);
    const all = ms.filter((m) => m.kind === 'Deployment').flatMap((m) => {
      const p = workload(m).spec.template.spec;
      return pulseContainers(p).map((c) => configOf(c, p, ms).queueMetrics);
    });
    expect(all.filter((on) => on)).toHaveLength(1);
  });

  it('scrapes every pod by exactly one PodMonitor, on the celery-pulse port', () => {
    const monitors = ms.filter((m) => m.kind === 'PodMonitor') as unknown as PodMonitor[];
    for (const w of [worker, queues]) {
      const template = w.spec.template;
      expect(subset(w.spec.selector.matchLabels, template.metadata.labels)).toBe(true);
      const selecting = monitors.filter((pm) => subset(pm.spec.selector.matchLabels, template.metadata.labels));
      expect(selecting).toHaveLength(1);
      const endpoint = selecting[0]!.spec.podMetricsEndpoints[0]!;
      expect(endpoint.path).toBe('/metrics');
      const ports = pulseContainers(template.spec).flatMap((c) => c.ports ?? []);
      expect(ports.find((p) => p.name === endpoint.port)?.containerPort).toBe(9808);
    }
  });

  it('keeps only queue and self series from the queue instance, so task and worker series are the sidecars\' alone', () => {
    const monitor = find(ms, 'PodMonitor', 'celery-pulse-queues') as unknown as PodMonitor;
    const relabel = monitor.spec.podMetricsEndpoints[0]!.metricRelabelings ?? [];
    expect(relabel.map((r) => [r.sourceLabels, r.action])).toEqual([[['__name__'], 'keep']]);
    // Prometheus anchors relabelling regexes at both ends.
    const kept = (name: string): boolean => new RegExp(`^(?:${relabel[0]!.regex})$`).test(name);
    // Every metric family the README documents, and the queue families (src/metrics/queue-metrics.ts).
    const families = [
      ...[...readFileSync(join(ROOT, 'README.md'), 'utf8').matchAll(/^\| `(celery_\w+)`/gm)].map((m) => m[1]!),
      'celery_queue_length',
      'celery_queue_unacked_messages',
      'celery_active_consumer_count',
      'celery_pulse_queue_scrape_success',
    ];
    const counted = families.filter((f) => /^celery_(task|worker)_/.test(f));
    const queueAndSelf = families.filter((f) => /^celery_(queue_|active_consumer_count|pulse_)/.test(f));
    expect(counted.length).toBeGreaterThanOrEqual(10);
    expect(counted.filter(kept)).toEqual([]);
    expect(queueAndSelf.filter((f) => !kept(f))).toEqual([]);
    for (const f of counted.filter((x) => x.endsWith('_seconds'))) expect(kept(`${f}_bucket`)).toBe(false);
  });
});

describe('the checks themselves', () => {
  const ms = renderKustomization(join(K8S, 'overlays', 'standalone'));

  it('report a misspelt field and a value of the wrong type', async () => {
    const broken = structuredClone(find(ms, 'Deployment', 'celery-pulse')) as Manifest & Workload;
    const c = broken.spec.template.spec.containers[0]!;
    c.securityContext = { ...c.securityContext, readOnlyRootFileSystem: true };
    expect(typeErrors(ROOT, [broken]).join('\n')).toMatch(/readOnlyRootFileSystem.*does not exist in type 'ISecurityContext'/);
    (broken.spec as Record<string, unknown>)['replicas'] = 'one';
    expect((await schemaErrors([broken])).join('\n')).toContain('replicas');
  }, TYPECHECK_TIMEOUT_MS);
});
