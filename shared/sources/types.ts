import type { KubeConfig } from '@kubernetes/client-node';
import type { ArtifactRef, CollectorAction, EvidenceStore, Gap } from '../evidence/types.js';
import type { Clock } from '../util/time.js';

/** The names of the data sources. The first eight are KubeForenSys's. */
export const KUBEFORENSYS_SOURCES = [
  'containerlogs',
  'events',
  'commandhistory',
  'serviceaccounts',
  'suspiciouspods',
  'rbacbindings',
  'cronjobs',
  'networkpolicies',
] as const;
export type SourceName = (typeof KUBEFORENSYS_SOURCES)[number] | 'snapshot' | 'rbacfindings' | 'workloadfindings' | 'audit' | 'targets';

/** One Log Analytics row, keyed by the table's column names (see shared/ingestion/tableRegistry.ts). */
export type Row = Record<string, unknown>;

/** What a source yields, in any order. */
export type SourceItem =
  | { kind: 'row'; row: Row }
  /** Several rows at once, in order: high-volume sources (log lines, history entries) hand over a chunk's rows in one item. */
  | { kind: 'rows'; rows: Row[] }
  /**
   * Rows already serialized, one JSON object per string, byte for byte what JSON.stringify
   * gives for the row (no newline inside): container logs build them from per-container
   * fragments instead of serializing 15 columns per line.
   */
  | { kind: 'rowsJson'; json: string[] }
  /** A raw API object as served (Secrets: metadata only). `stream` groups raw objects into artifacts (default 'raw'). */
  | { kind: 'raw'; object: unknown; stream?: string }
  | { kind: 'gap'; gap: Gap }
  | { kind: 'action'; action: CollectorAction }
  /** Free-form facts for the manifest's coverage section (e.g. snapshot type counts). */
  | { kind: 'coverage'; coverage: Record<string, unknown> };

/** How many rows an item carries (0 for gaps, raw objects, actions, coverage). */
export function rowsIn(item: SourceItem): number {
  switch (item.kind) {
    case 'row':
      return 1;
    case 'rows':
      return item.rows.length;
    case 'rowsJson':
      return item.json.length;
    default:
      return 0;
  }
}

/** Queue weight of an item: its rows, and at least 1 (a gap or an action takes room too). */
export function queueWeight(item: SourceItem): number {
  return Math.max(1, rowsIn(item));
}

/** Which namespaces a run covers. Empty include = all. Exclude wins. */
export interface NamespaceFilter {
  include?: string[];
  exclude?: string[];
}

/** Deterministic shard of the pods: pod belongs to shard `index` when hash(namespace/name) % count === index. */
export interface PodShard {
  index: number;
  count: number;
}

export interface ProgressEvent {
  source: string;
  /** Records yielded so far by this source. */
  records: number;
  message?: string;
}

export interface SourceContext {
  /** Built in memory by the caller; never serialized. */
  kubeConfig: KubeConfig;
  runId: string;
  /** Container logs since-window in seconds (default 86400). */
  sinceSeconds: number;
  namespaces: NamespaceFilter;
  /** Max concurrent API requests inside this source (default 16). */
  concurrency: number;
  /** Pod-based sources (containerlogs, commandhistory) only collect this shard when set. */
  shard?: PodShard;
  /** "namespace/pod" names to collect first (from the trigger). */
  priorityPods?: string[];
  /** Namespaces the trigger named: their pods come right after the priority pods. */
  priorityNamespaces?: string[];
  /** Nodes the trigger named: the pods on them come right after the priority pods. */
  priorityNodes?: string[];
  abortSignal?: AbortSignal;
  clock: Clock;
  progress?: (event: ProgressEvent) => void;
  /** Counts Kubernetes API requests (for the manifest and the bench). */
  countRequest?: () => void;
}

export interface SourceDefinition {
  name: SourceName;
  /** The Log Analytics table its rows go to. */
  table: string;
  /** One line for the README and --help. */
  description: string;
  /** True when the source is sharded by pods. */
  podSharded?: boolean;
  collect(ctx: SourceContext): AsyncIterable<SourceItem>;
  /**
   * Artifacts derived from the ones just written, before the task summary is sealed (e.g. the
   * audit source's auditevents_CL rows, derived from its raw audit events).
   */
  deriveArtifacts?(store: EvidenceStore, written: readonly ArtifactRef[]): Promise<ArtifactRef[]>;
}
