import type { EnvValueHandling } from '../util/valueRedaction.js';

/**
 * The evidence contract. One collection run writes one bundle:
 *   local:  <out>/<runId>/...
 *   blob:   <container>/<caseId>/<runId>/...
 * An EvidenceStore is rooted at one bundle; artifact paths are relative to it, use "/" and
 * never start with "/" or contain "..". Every artifact is written once (never overwritten),
 * its SHA-256 computed over the stored bytes while streaming.
 *
 * Fixed bundle paths:
 *   manifest.json            the sealed manifest (written once, last)
 *   manifest.json.sha256     "<hex>  manifest.json\n"
 *   custody/claim.json       the run's claim on its path (random nonce), written first
 *   custody/NNNN.json        one custody record per step, each carrying the previous one's SHA-256
 *   manifest.json.tsr        RFC 3161 timestamp of the manifest's SHA-256, when a TSA is configured
 *   sources/<source>/...     rows (*.rows.ndjson.gz) and raw API objects (*.raw.ndjson.gz)
 *   ingestion/receipt-<n>.json  one receipt per ingestion attempt
 */

export const MANIFEST_PATH = 'manifest.json';
export const MANIFEST_SHA256_PATH = 'manifest.json.sha256';

/** What the bytes of an artifact are. */
export type ArtifactKind = 'rows' | 'raw' | 'custody' | 'receipt' | 'findings' | 'audit' | 'other';

export interface ArtifactWriteOptions {
  /** MIME type of the stored bytes, e.g. application/x-ndjson. */
  contentType: string;
  /** 'gzip' when the stored bytes are gzip-compressed. */
  contentEncoding?: 'gzip';
  /** Set at write time (metadata cannot change under an immutability policy). Values must be ASCII. */
  metadata?: Record<string, string>;
}

/** The result of writing one artifact: what verify re-checks later. */
export interface WrittenArtifact {
  path: string;
  sha256: string;
  bytes: number;
  /** True when the artifact already existed with identical content (an idempotent retry). */
  alreadyExisted?: boolean;
}

/** A streaming write-once writer. close() commits; nothing is visible before it. */
export interface ArtifactWriter {
  readonly path: string;
  write(chunk: Uint8Array): Promise<void>;
  /** Commit the artifact. Throws ArtifactConflictError if it exists with other content. */
  close(): Promise<WrittenArtifact>;
  /** Discard an uncommitted artifact (e.g. the producing source failed). Never touches committed data. */
  abort(): Promise<void>;
}

export interface StoredArtifactInfo {
  path: string;
  bytes: number;
  /** SHA-256 recorded at write time (blob metadata / sidecar), when the store keeps one. */
  recordedSha256?: string;
  metadata?: Record<string, string>;
  /** Content type recorded at write time, when the store keeps one (Blob: yes; local directory: no). */
  contentType?: string;
  /** 'gzip' when recorded at write time, when the store keeps it. */
  contentEncoding?: string;
}

/** What protects the evidence against change, as the service really reported it. */
export interface ProtectionReport {
  /** e.g. 'local-directory' | 'azure-blob' */
  store: string;
  /** Version-level immutability (WORM) on the container: true/false, or 'unknown' when it could not be read. */
  versionLevelImmutability: boolean | 'unknown';
  /** Legal hold applied per blob, if requested. */
  legalHold?: { requested: boolean; applied: boolean; detail?: string };
  /** Per-blob retention policy, if requested. */
  retentionPolicy?: { requested: boolean; applied: boolean; expiresOn?: string; detail?: string };
  /**
   * Whether a version-level immutability policy was LOCKED on what the run wrote, read back
   * through the Blob API from a blob the run wrote (its claim): 'locked' (nobody, not even an
   * owner, can shorten it or delete the evidence before it expires), 'unlocked' (a policy an
   * administrator can still remove), 'none', or 'unknown' (the service did not report it, e.g.
   * Azurite). Absent for stores without such policies (a local directory).
   */
  versionLevelPolicy?: { state: 'locked' | 'unlocked' | 'none' | 'unknown'; detail: string; expiresOn?: string; checkedPath?: string };
  /** Plain statements of what is NOT protected and why (e.g. "Azurite answered 501 to setLegalHold"). */
  notes: string[];
}

export interface EvidenceStore {
  /** Where the bundle lives, safe to print (no SAS, no key), e.g. file:///abs/dir or https://acct.blob.core.windows.net/c/case/run */
  readonly location: string;
  /** Open a streaming write-once writer. */
  openWriter(path: string, options: ArtifactWriteOptions): Promise<ArtifactWriter>;
  /** Write a small artifact in one call (same write-once semantics). */
  writeArtifact(path: string, data: Uint8Array | string, options: ArtifactWriteOptions): Promise<WrittenArtifact>;
  /** Read the stored bytes (as stored: gzip artifacts are returned compressed). */
  read(path: string, options?: { abortSignal?: AbortSignal }): Promise<NodeJS.ReadableStream>;
  /** Stored size and recorded hash, or undefined when absent. */
  stat(path: string): Promise<StoredArtifactInfo | undefined>;
  /** Every artifact under the bundle (optionally under a prefix). */
  list(prefix?: string): AsyncIterable<StoredArtifactInfo>;
  /** Apply what the request asks (legal hold / retention) to a written artifact, and report honestly. */
  protect?(path: string): Promise<void>;
  /** What protects this bundle. */
  protection(): Promise<ProtectionReport>;
}

/** A gap: evidence that should exist but could not be collected, and why. */
export interface Gap {
  source: string;
  /** Stable machine-readable reason. */
  reason:
    | 'forbidden'
    | 'unauthorized'
    | 'not-found'
    | 'pod-vanished'
    | 'container-not-running'
    | 'no-shell'
    | 'no-history'
    | 'exec-failed'
    | 'retries-exhausted'
    | 'expired-continue'
    | 'timeout'
    | 'not-enabled'
    | 'unsupported'
    | 'error';
  /** Human-readable detail, safe to print. */
  detail: string;
  /** The API resource or object concerned, e.g. "pods/log default/web-1 (nginx)". */
  resource?: string;
  namespace?: string;
  pod?: string;
  container?: string;
  /**
   * Set when the failed item was a prerequisite of the task — the list it works from (e.g. 'pod
   * list') — so that what it would have listed is missing without a name. The task is failed,
   * and the run names the prerequisite as a run-level gap.
   */
  prerequisite?: string;
}

/** A log stream the collector resumed after it was cut or went quiet: the resumed stream's repeated lines were dropped. */
export interface StreamResume {
  source: string;
  namespace: string;
  pod: string;
  container: string;
  previous: boolean;
  /** 'cut': the body broke off; 'idle': the server sent nothing for the idle time-out. */
  cause: 'cut' | 'idle';
  /** Lines of this log delivered before the resume. */
  afterLines: number;
  /** The sinceTime asked for (absent: no timestamped line yet, the log was asked for from its start). */
  sinceTime?: string;
  /** Lines the resumed stream repeated, dropped by exact match. */
  droppedLines: number;
  /** What broke the stream. */
  detail: string;
}

/** Something the collector itself did to the cluster (execs), so it is not mistaken for the attacker. */
export interface CollectorAction {
  kind: 'exec';
  /** UTC RFC 3339 start time. */
  at: string;
  namespace: string;
  pod: string;
  container: string;
  command: string[];
  outcome: 'ok' | 'no-shell' | 'no-history' | 'failed' | 'vanished';
  /** 2 for the one retry of an exec that was cut mid-stream (absent: the first). */
  attempt?: number;
  exitCode?: number;
  detail?: string;
  durationMs?: number;
}

/** A reference to one artifact, as passed between pipeline steps and recorded in the manifest. */
export interface ArtifactRef {
  path: string;
  source: string;
  kind: ArtifactKind;
  sha256: string;
  bytes: number;
  /** Rows or objects in the artifact (NDJSON lines before compression). */
  records: number;
  contentType: string;
  contentEncoding?: 'gzip';
  /** The Log Analytics table the rows map to (rows artifacts only). */
  table?: string;
  /** Shard label when the source was sharded, e.g. "3-of-8". */
  shard?: string;
}

export type SourceStatus = 'complete' | 'partial' | 'failed' | 'skipped';

export interface SourceSummary {
  status: SourceStatus;
  records: number;
  rawObjects: number;
  gaps: Gap[];
  artifacts: string[];
  startedAt?: string;
  endedAt?: string;
  /** Kubernetes API requests issued by this source. */
  apiRequests?: number;
  /** Log streams resumed after a cut or a stall (each one in the task summaries). */
  resumes?: number;
}

export interface ClusterIdentity {
  /** API server URL (never with credentials). */
  server: string;
  /** kubeconfig context or AKS cluster name. */
  name?: string;
  /** /subscriptions/.../providers/Microsoft.ContainerService/managedClusters/<name>, when known. */
  resourceId?: string;
  kubernetesVersion?: string;
}

export interface CollectorIdentity {
  tool: 'aks-evidence';
  version: string;
  gitCommit?: string;
  host: string;
  /** Who ran it: OS user, managed identity client id, or Entra principal — never a token. */
  identity?: string;
  /** 'cli' or 'azure-functions'. */
  runtime: string;
}

/** What was asked, by whom and why (chain of custody). */
export interface CollectionRequestRecord {
  caseId: string;
  requester?: string;
  reason?: string;
  incidentId?: string;
  sources: string[];
  namespaces?: string[];
  excludeNamespaces?: string[];
  sinceSeconds: number;
  concurrency?: number;
  /** Idle time-out of a log stream in seconds before it is resumed (default 60). */
  logIdleTimeoutSeconds?: number;
  /** Pods named by the trigger (Sentinel entities) collected first. */
  priorityPods?: string[];
  /** Namespaces named by the trigger: their pods are collected right after the priority pods. */
  priorityNamespaces?: string[];
  /** Nodes named by the trigger (a node-level alert): the pods on them are collected right after the priority pods. */
  priorityNodes?: string[];
  /** How a Sentinel incident led to this cluster: every read of Sentinel and every way tried, in order. */
  incidentResolution?: IncidentResolutionRecord;
  legalHold?: boolean;
  retentionDays?: number;
  /**
   * Env values and serialized-object annotations in raw objects: 'hash' (default, absent) stores
   * their SHA-256; 'keep' keeps them in the bundle's raw artifacts (never in rows).
   */
  envValues?: EnvValueHandling;
  /** Keep preserving after the seal for this many seconds (a preservation window; at most 7 days). */
  preserveForSeconds?: number;
}

/** How values that must not leave the cluster were treated in this bundle (the manifest says it, so nobody has to infer it). */
export interface ValueHandling {
  /** Secrets: listed as metadata only, values never read. */
  secrets: 'metadata-only';
  /** Env var values in raw objects. */
  envValues: 'sha256' | 'kept-in-raw-artifacts';
  /** Annotations holding object values (last-applied, serialized JSON/YAML) in raw objects. */
  serializedAnnotations: 'sha256' | 'kept-in-raw-artifacts';
  /** Rows never carry env values; their annotation and label columns hold serialized objects as SHA-256. */
  rows: 'redacted';
}

/** One step of resolving a Sentinel incident to clusters: a read of Sentinel, or one way to the cluster. */
export interface IncidentResolutionStep {
  /** e.g. "sentinel-alerts-api", "azure-resource-entities", "scheduled-alert-rows", "node-resource-group". */
  step: string;
  outcome: 'found' | 'nothing' | 'failed' | 'skipped';
  /** What was looked at and what it gave (bounded, no secrets). */
  detail: string;
  /** Clusters (ARM ids) this step found. */
  clusters?: string[];
}

export interface IncidentResolutionRecord {
  /** What was read from Sentinel (trigger body, SecurityInsights API, SecurityAlert rows), in order. */
  reads: IncidentResolutionStep[];
  /** The ways to the cluster, in the order tried. */
  ways: IncidentResolutionStep[];
}

export interface Manifest {
  schemaVersion: 1;
  runId: string;
  caseId: string;
  cluster: ClusterIdentity;
  collector: CollectorIdentity;
  request: CollectionRequestRecord;
  /** UTC RFC 3339. */
  startedAt: string;
  endedAt: string;
  artifacts: ArtifactRef[];
  sources: Record<string, SourceSummary>;
  /** Run-level gaps (e.g. audit log not enabled), the most important first. */
  gaps: Gap[];
  actions: CollectorAction[];
  protection: ProtectionReport;
  /** Free-form facts from cluster resolution (auth mode, addons, diagnostic settings). */
  clusterFacts?: Record<string, unknown>;
  /** Snapshot coverage and other per-source reports. */
  coverage?: Record<string, unknown>;
  /**
   * Where the manifest sits in the custody chain: the run's claim (its hash and random nonce)
   * and the chain's head when the manifest was built. The `manifest-sealed` record that
   * follows carries this manifest's SHA-256, so manifest and chain vouch for each other.
   */
  custody?: ManifestCustody;
  /** Present when the run was sealed after an interruption: what stopped it and which tasks never finished. */
  interrupted?: InterruptionRecord;
  /** The earlier attempt of the same request this run replaces (a failed or terminated run keeps its own path). */
  previousAttempt?: { runId: string; runtimeStatus?: string };
  /**
   * Files found in the run's path that no finished task of this run accounts for (an
   * interrupted task attempt's artifacts, or something this run did not write), listed with
   * the hash of their content at sealing so verify keeps checking them. Never adopted as evidence.
   */
  unattributed?: UnattributedFile[];
  /** How secret-bearing values were treated (absent in bundles from before it was recorded). */
  valueHandling?: ValueHandling;
}

export interface ManifestCustody {
  /** SHA-256 of custody/claim.json (the first record's prev). */
  claimSha256: string;
  /** The run's claim nonce. */
  nonce: string;
  /** The newest custody record when the manifest was built. */
  chainHead: { seq: number; sha256: string };
}

export interface InterruptionRecord {
  /** Why, e.g. "SIGINT (Ctrl-C)", "sealed after the collecting process died". */
  reason: string;
  /** UTC RFC 3339. */
  at: string;
  /** The last custody step before the interruption was recorded. */
  lastCustodyStep: string;
  /** Planned tasks with no finished summary, or stopped by the interruption. */
  unfinishedTasks: { source: string; shard?: string; detail: string }[];
}

export interface UnattributedFile {
  path: string;
  sha256: string;
  bytes: number;
  reason: string;
}
