/** Shared test helpers for the source suites: fixture start, a SourceContext, collecting a source, object builders. */
import type { KubeConfig } from '@kubernetes/client-node';
import type { CollectorAction, Gap, StreamResume } from '../../shared/evidence/types.js';
import type { Row, SourceContext, SourceDefinition } from '../../shared/sources/types.js';
import type { FixtureCluster, FixtureOptions, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

export interface Collected {
  rows: Row[];
  raws: { object: unknown; stream?: string }[];
  gaps: Gap[];
  actions: CollectorAction[];
  coverage: Record<string, unknown>[];
  resumes: StreamResume[];
  requests: number;
}

export async function startCluster(scenario: Scenario, options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig }> {
  const cluster = await startFixtureCluster(scenario, options);
  return { cluster, kc: fixtureKubeConfig(cluster) };
}

export const FIXED_NOW = new Date('2026-03-01T12:00:00.000Z');

export function context(kc: KubeConfig, overrides: Partial<SourceContext> = {}): SourceContext & { requestCount: () => number } {
  let requests = 0;
  const ctx: SourceContext & { requestCount: () => number } = {
    kubeConfig: kc,
    cluster: { server: kc.getCurrentCluster()?.server ?? '' },
    runId: 'run-test',
    sinceSeconds: 0,
    namespaces: {},
    concurrency: 4,
    clock: () => FIXED_NOW,
    countRequest: () => {
      requests++;
    },
    requestCount: () => requests,
    ...overrides,
  };
  return ctx;
}

/** The rows of a 'rowsNdjson' item (its buffer handed back, as the NDJSON writer would); checks the count it claims. */
export function ndjsonRows(item: { bytes: Buffer; rows: number; release?: () => void }): Row[] {
  const text = item.bytes.toString('utf8');
  item.release?.();
  if (!text.endsWith('\n')) throw new Error('rowsNdjson: the last row has no newline');
  const rows = text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as Row);
  if (rows.length !== item.rows) throw new Error(`rowsNdjson: ${rows.length} rows, the item says ${item.rows}`);
  return rows;
}

export async function collect(source: SourceDefinition, ctx: SourceContext & { requestCount?: () => number }): Promise<Collected> {
  const out: Collected = { rows: [], raws: [], gaps: [], actions: [], coverage: [], resumes: [], requests: 0 };
  for await (const item of source.collect(ctx)) {
    switch (item.kind) {
      case 'row':
        out.rows.push(item.row);
        break;
      case 'rows':
        out.rows.push(...item.rows);
        break;
      case 'rowsJson':
        out.rows.push(...item.json.map((j) => JSON.parse(j) as Row));
        break;
      case 'rowsNdjson':
        out.rows.push(...ndjsonRows(item));
        break;
      case 'raw':
        out.raws.push(item.stream === undefined ? { object: item.object } : { object: item.object, stream: item.stream });
        break;
      case 'gap':
        out.gaps.push(item.gap);
        break;
      case 'action':
        out.actions.push(item.action);
        break;
      case 'coverage':
        out.coverage.push(item.coverage);
        break;
      case 'resume':
        out.resumes.push(item.resume);
        break;
    }
  }
  out.requests = ctx.requestCount?.() ?? 0;
  return out;
}

let uidCounter = 0;
function uid(): string {
  uidCounter++;
  return `00000000-0000-4000-8000-${String(uidCounter).padStart(12, '0')}`;
}

export function namespace(name: string): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, uid: uid(), creationTimestamp: '2026-01-01T00:00:00Z' } };
}

export interface ContainerSpec {
  name: string;
  image?: string;
  /** Status: running (default), waiting:<reason>, terminated:<exit> */
  state?: string;
  restartCount?: number;
  securityContext?: Record<string, unknown>;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

function status(c: ContainerSpec): Record<string, unknown> {
  const state = c.state ?? 'running';
  let s: Record<string, unknown>;
  if (state === 'running') s = { running: { startedAt: '2026-03-01T10:00:00Z' } };
  else if (state.startsWith('waiting:')) s = { waiting: { reason: state.slice('waiting:'.length) } };
  else s = { terminated: { exitCode: Number(state.slice('terminated:'.length)), reason: 'Completed', finishedAt: '2026-03-01T10:05:00Z' } };
  const restarts = c.restartCount ?? 0;
  return {
    name: c.name,
    image: c.image ?? `registry.example/${c.name}:1`,
    ready: state === 'running',
    restartCount: restarts,
    state: s,
    ...(restarts > 0 ? { lastState: { terminated: { exitCode: 1, reason: 'Error', finishedAt: '2026-03-01T09:59:00Z' } } } : {}),
  };
}

function containerSpec(c: ContainerSpec): Record<string, unknown> {
  return {
    name: c.name,
    image: c.image ?? `registry.example/${c.name}:1`,
    ...(c.securityContext ? { securityContext: c.securityContext } : {}),
    ...(c.volumeMounts ? { volumeMounts: c.volumeMounts } : {}),
  };
}

export interface PodSpecInput {
  namespace: string;
  name: string;
  containers: ContainerSpec[];
  initContainers?: ContainerSpec[];
  ephemeralContainers?: ContainerSpec[];
  phase?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  spec?: Record<string, unknown>;
  /** Omit status entirely (a pod the API reports without statuses). */
  noStatus?: boolean;
}

export function pod(p: PodSpecInput): KubeObject {
  const spec: Record<string, unknown> = {
    nodeName: 'aks-node-1',
    serviceAccountName: 'default',
    containers: p.containers.map(containerSpec),
    ...(p.initContainers ? { initContainers: p.initContainers.map(containerSpec) } : {}),
    ...(p.ephemeralContainers ? { ephemeralContainers: p.ephemeralContainers.map(containerSpec) } : {}),
    ...p.spec,
  };
  const obj: KubeObject = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: uid(),
      creationTimestamp: '2026-03-01T09:00:00Z',
      ...(p.labels ? { labels: p.labels } : {}),
      ...(p.annotations ? { annotations: p.annotations } : {}),
    },
    spec,
  };
  if (!p.noStatus) {
    obj['status'] = {
      phase: p.phase ?? 'Running',
      containerStatuses: p.containers.map(status),
      ...(p.initContainers ? { initContainerStatuses: p.initContainers.map(status) } : {}),
      ...(p.ephemeralContainers ? { ephemeralContainerStatuses: p.ephemeralContainers.map(status) } : {}),
    };
  }
  return obj;
}
