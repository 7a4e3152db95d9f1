import type { TokenCredential } from '@azure/core-auth';
import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import type { AccessRequirement } from '../cluster/accessReview.js';
import type { AuditLogCoverage, ClusterFacts } from '../cluster/facts.js';
import type { ArtifactRef, ClusterIdentity, CollectorAction, EvidenceStore, Gap, StreamResume } from '../evidence/types.js';
import type { Row, TableDefinition } from '../tables/table.js';
import type { Clock } from '../util/time.js';

/**
 * A data source is the unit of collection: one folder under shared/sources/ holding its
 * SourceDefinition (source.ts) and its table (table.ts), and one line in registry.ts.
 * Everything else — the source names a request accepts, the table registry, the access
 * review, the collector role, the shard plan, the ARM template — is derived from the
 * definitions in the registry.
 */

export type { Row } from '../tables/table.js';

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
  /**
   * Rows already serialized as NDJSON bytes: `rows` lines, each a JSON object byte for byte
   * as JSON.stringify gives it, followed by "\n" (container logs write them from the log's
   * bytes). `release`, when given, is called once the bytes have been written: the producer
   * reuses the buffer.
   */
  | { kind: 'rowsNdjson'; bytes: Buffer; rows: number; release?: () => void }
  /** A raw API object as served (Secrets: metadata only). `stream` groups raw objects into artifacts (default 'raw'). */
  | { kind: 'raw'; object: unknown; stream?: string }
  | { kind: 'gap'; gap: Gap }
  | { kind: 'action'; action: CollectorAction }
  /** A log stream resumed after a cut or a stall (recorded in the task summary). */
  | { kind: 'resume'; resume: StreamResume }
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
    case 'rowsNdjson':
      return item.rows;
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

/**
 * Azure access a host hands to sources that declare `needs: ['azure']` (the audit log is read
 * from Log Analytics or the diagnostic storage account, not from the API server). Built
 * inside the activity from its managed identity; never serialized.
 */
export interface AzureSourceAccess {
  credential: TokenCredential;
  /** Where the cluster's diagnostic settings send kube-audit, from cluster resolution. */
  auditLog?: AuditLogCoverage;
  /** Log Analytics query endpoint and client options (sovereign clouds, tests). */
  logs?: { endpoint?: string; clientOptions?: import('@azure/monitor-query-logs').LogsQueryClientOptions };
  /** Overrides for reading the diagnostic storage account (tests: Azurite). */
  storage?: { serviceUrl?: string; connectionString?: string; containerUrl?: string; containers?: string[] };
}

export interface SourceContext {
  /** Built in memory by the host; never serialized. Empty for sources that do not need Kubernetes. */
  kubeConfig: KubeConfigLike;
  /** The cluster collected (API server, AKS resource id when known). */
  cluster: ClusterIdentity;
  runId: string;
  /** Since-window in seconds (logs, audit events). */
  sinceSeconds: number;
  namespaces: NamespaceFilter;
  /** Max concurrent API requests inside this source (default 16). */
  concurrency: number;
  /** Pod-sharded sources only collect this shard when set. */
  shard?: PodShard;
  /** "namespace/pod" names to collect first (from the trigger). */
  priorityPods?: string[];
  /** Namespaces the trigger named: their pods come right after the priority pods. */
  priorityNamespaces?: string[];
  /** Nodes the trigger named: the pods on them come right after the priority pods. */
  priorityNodes?: string[];
  /** Present when the source declares needs: ['azure'] and the host has Azure access. */
  azure?: AzureSourceAccess;
  abortSignal?: AbortSignal;
  clock: Clock;
  progress?: (event: ProgressEvent) => void;
  /** Counts Kubernetes API requests (for the manifest and the bench). */
  countRequest?: () => void;
  /** Idle time-out of a log stream in ms, before it is resumed (default 60000). */
  logIdleTimeoutInMs?: number;
}

/**
 * An Azure RBAC permission a source needs, as a full action name, e.g.
 * Microsoft.ContainerService/managedClusters/pods/read. Data actions on the managed cluster are
 * how AKS-managed Entra ID + Azure RBAC authorize Kubernetes requests.
 */
export interface AzurePermission {
  action: string;
  /** 'data' for data actions (Kubernetes through Azure RBAC, blob reads), 'control' for ARM actions. */
  plane: 'control' | 'data';
  /** Why the source needs it: goes into the role documentation. */
  why: string;
  /**
   * Granted only when this template parameter is true: permissions Azure RBAC cannot narrow
   * (exec cannot be limited to one command; secrets/read also allows reading values).
   */
  templateSwitch?: 'allowExecForShellHistory' | 'allowSecretMetadataRead';
}

export interface SourceDefinition {
  /** Lower-case name used in requests, paths (sources/<name>/) and the manifest. */
  name: string;
  /** One line for the README and --help. */
  description: string;
  /**
   * The tables its rows go to. The first receives the task's rows artifact; the others are
   * filled by deriveArtifacts (e.g. auditevents_CL from the audit source's raw events).
   */
  tables: readonly TableDefinition[];
  /** What it reads from the Kubernetes API: reviewed with SelfSubjectAccessReview before collection. */
  kubernetesAccess: readonly AccessRequirement[];
  /** The Azure permissions it needs (collector role and the workstation role are built from these). */
  azurePermissions: readonly AzurePermission[];
  /** What the host must provide: the cluster's API (default) and/or Azure access. */
  needs?: readonly ('kubernetes' | 'azure')[];
  /** 'pods': work grows with the pod count; planned as pod shards when the count is known and large. */
  sharding?: 'pods';
  /**
   * Whether the run can collect it with these cluster facts (default: always). When not, the
   * source is recorded as skipped with the reason the facts give (e.g. audit log not exported).
   */
  plannable?(facts: ClusterFacts): boolean;
  collect(ctx: SourceContext): AsyncIterable<SourceItem>;
  /**
   * Artifacts derived from the ones just written, before the task summary is sealed (e.g. the
   * audit source's auditevents_CL rows, derived from its raw audit events).
   */
  deriveArtifacts?(store: EvidenceStore, written: readonly ArtifactRef[]): Promise<ArtifactRef[]>;
}

/** The table a source's rows artifact goes to. */
export function rowsTable(source: SourceDefinition): TableDefinition {
  const table = source.tables[0];
  if (!table) throw new Error(`source ${source.name} declares no table`);
  return table;
}

/** The Kubernetes access a source needs: a requirement per verb/resource, cluster-wide. */
export function kubeAccess(verb: AccessRequirement['verb'], resource: string, options: { group?: string; subresource?: string } = {}): AccessRequirement {
  return { verb, resource, ...options };
}

const MANAGED_CLUSTERS = 'Microsoft.ContainerService/managedClusters';

/**
 * A Kubernetes permission through Azure RBAC: `read('pods')`, `read('apps/deployments')`,
 * `clusterDataAction('pods/exec/action', …)`.
 */
export function clusterDataAction(action: string, why: string, templateSwitch?: AzurePermission['templateSwitch']): AzurePermission {
  return { action: `${MANAGED_CLUSTERS}/${action}`, plane: 'data', why, ...(templateSwitch ? { templateSwitch } : {}) };
}

/** Read on one resource type through Azure RBAC ("<group>/<resource>" or a core "<resource>"). */
export function clusterRead(resource: string, why: string): AzurePermission {
  return clusterDataAction(`${resource}/read`, why);
}
