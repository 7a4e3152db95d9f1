import type { ClusterIdentity, CollectionRequestRecord } from '../evidence/types.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTask, CollectTaskResult, SealResult } from '../pipeline/types.js';
import type { ClusterRef } from '../cluster/clusterRef.js';
import type { PreservationCursor } from '../preservation/window.js';

/**
 * What travels through Durable Functions history: orchestration input/output, activity
 * inputs/outputs and custom status. Everything is small, JSON-serializable and secret-free
 * (history lives in plain Azure Storage tables and blobs): cluster references and facts,
 * never a token or kubeconfig; artifact references, never evidence.
 */

/** Function names, shared by the registrations and the orchestrator. */
export const FUNCTION_NAMES = {
  orchestrator: 'collectEvidence',
  resolveCluster: 'resolveCluster',
  collectSource: 'collectSource',
  sealEvidence: 'sealEvidence',
  ingestEvidence: 'ingestEvidence',
  openPreservation: 'openPreservation',
  preserveStretch: 'preserveStretch',
  closePreservation: 'closePreservation',
} as const;

/** The external event DELETE /api/collections/{runId}/preservation raises on the run. */
export const STOP_PRESERVATION_EVENT = 'stopPreservation';

/** How the run was asked for. */
export interface RunTrigger {
  kind: 'http' | 'sentinel';
  /** UTC RFC 3339, when the trigger was received. */
  receivedAt: string;
  /** Sentinel: incident ARM id, number and title. */
  incidentId?: string;
  incidentNumber?: number;
  incidentTitle?: string;
}

/** The orchestration input. */
export interface CollectionRunInput {
  schemaVersion: 1;
  /** Equal to the Durable instance id. */
  runId: string;
  cluster: ClusterRef;
  request: CollectionRequestRecord;
  trigger: RunTrigger;
  /** Pods per shard for pod-sharded sources (from app settings at start). */
  podsPerShard?: number;
  /** Whether an ingestion target was configured when the run started. */
  ingest: boolean;
  /**
   * The run's claim nonce (32 random bytes, hex), drawn when the run was started: the
   * resolveCluster activity claims the bundle path with it, and a retried activity recognises
   * its own claim by it. Not a secret. Absent in runs started before it existed.
   */
  claimNonce?: string;
  /** The earlier attempt of the same request this run replaces (it Failed or was Terminated). */
  previousAttempt?: { runId: string; runtimeStatus?: string };
  /** Set once the collection is sealed and the run continues as its preservation window (request.preserveForSeconds). */
  preservation?: PreservationState;
  /** Length of one preservation activity, seconds (from app settings at start; default 240). */
  preserveStretchSeconds?: number;
  /** Preservation activities per generation before continue-as-new (from app settings; default 12). */
  preserveStretchesPerGeneration?: number;
}

/** What a preservation window has kept so far, summed over its sealed segments. */
export interface PreservationTotals {
  segments: number;
  logLines: number;
  events: number;
  changes: number;
  gaps: number;
  /** Segments lost to a fault (each named, with its time range, by the next sealed segment). */
  lost: number;
  /** Kubernetes API requests made by the window (lists, watches, log fetches). */
  apiRequests: number;
  /** Sealed segments not ingested (re-ingest with aks-evidence ingest). */
  notIngested: number;
}

/** The preservation loop's state, carried across continue-as-new: small and secret-free. */
export interface PreservationState {
  /** The sealed collection's output, returned (with the window's summary) when the window ends. */
  collection: CollectionRunOutput;
  /** How the activities get credentials (from resolution). */
  authMode: ClusterFacts['authMode'];
  /** Absent until the window is opened (preservation-started in custody). */
  cursor?: PreservationCursor;
  totals: PreservationTotals;
  /** Stretches run so far, and this generation's number (continue-as-new). */
  stretches: number;
  generation: number;
  /** Consecutive failed stretches (the next waits on a durable timer). */
  failures: number;
  lastError?: string;
  lastSegment?: { seq: number; manifestSha256: string; to: string };
  /** When a stop was asked for (DELETE, the incident closing). */
  stop?: { requestedAt: string; by?: string };
}

/** The stop event's payload. */
export interface StopPreservationEvent {
  requestedAt: string;
  by?: string;
}

export interface OpenPreservationInput {
  runId: string;
  caseId: string;
  request: CollectionRequestRecord;
  /** Deterministic (the orchestrator's): a retried open finds its own window. */
  windowId: string;
  preserveForSeconds: number;
}

export interface PreserveStretchInput {
  runId: string;
  caseId: string;
  cluster: ClusterRef;
  authMode: ClusterFacts['authMode'];
  request: CollectionRequestRecord;
  cursor: PreservationCursor;
  /** UTC RFC 3339: this stretch stops watching then and seals its segment. */
  until: string;
  /** Seal a segment this often within the stretch, seconds. */
  segmentSeconds: number;
}

/** One sealed segment, as the status shows it. */
export interface SealedSegmentRef {
  seq: number;
  manifestSha256: string;
  from: string;
  to: string;
  logLines: number;
  events: number;
  changes: number;
  gaps: number;
}

export interface PreserveStretchOutput {
  /** Where the next stretch resumes (resourceVersions, next segment). */
  cursor: PreservationCursor;
  segments: SealedSegmentRef[];
  lost: number;
  apiRequests: number;
  notIngested: number;
}

export interface ClosePreservationInput {
  runId: string;
  caseId: string;
  request: CollectionRequestRecord;
  cursor: PreservationCursor;
  reason: string;
  detail?: string;
  totals: PreservationTotals;
}

/** What the run's status and output say about its preservation window. */
export interface PreservationStatus {
  state: 'opening' | 'preserving' | 'stopping' | 'ended' | 'not-started';
  windowId?: string;
  endsAt?: string;
  totals: PreservationTotals;
  stretches: number;
  generation: number;
  lastSegment?: { seq: number; manifestSha256: string; to: string };
  stopRequestedAt?: string;
  endReason?: string;
  lastError?: string;
}

export interface ResolveClusterInput {
  runId: string;
  caseId: string;
  cluster: ClusterRef;
  /** Its sources are access-reviewed; it is the first custody record. */
  request: CollectionRequestRecord;
  /** The claim nonce the path is claimed with. */
  claimNonce: string;
  /** Orchestration start (UTC RFC 3339): the claim's time, identical on a retry. */
  startedAt: string;
  previousAttempt?: { runId: string; runtimeStatus?: string };
  /** For the plan recorded in the collection-started custody record. */
  podsPerShard?: number;
}

export interface CollectSourceInput {
  runId: string;
  caseId: string;
  cluster: ClusterRef;
  /** From resolution: how the activity gets credentials. */
  authMode: ClusterFacts['authMode'];
  identity: ClusterIdentity;
  request: CollectionRequestRecord;
  task: CollectTask;
  /** Where the diagnostic settings send kube-audit (resource ids, no secret), for sources that read the audit log. */
  audit?: ClusterFacts['audit'];
  /**
   * This task's share of the cluster's load budget: the most Kubernetes API requests its
   * activity may have in flight (the orchestrator keeps the shares of running tasks within
   * the budget; shared/pipeline/loadBudget.ts). Absent: the whole budget (request.concurrency).
   */
  requestShare?: number;
}

export interface SealEvidenceInput {
  runId: string;
  caseId: string;
  request: CollectionRequestRecord;
  facts: ClusterFacts;
  results: CollectTaskResult[];
  /** UTC RFC 3339 start of the run (orchestration time). */
  startedAt: string;
  /** UTC RFC 3339 seal time (orchestration time): a retried seal rebuilds the same manifest bytes. */
  sealedAt?: string;
}

export interface IngestEvidenceInput {
  runId: string;
  caseId: string;
  /** The cluster the evidence came from (for telemetry: every log line names it). */
  clusterResourceId?: string;
  request: CollectionRequestRecord;
  /** The Log Analytics table to ingest. */
  table: string;
  /** The sealed manifest's SHA-256: ingestion reads only the sealed bundle it names. */
  manifestSha256: string;
}

/** What one ingestEvidence activity returns. */
export interface IngestTableOutcome {
  table: string;
  status: 'ingested' | 'partial' | 'failed' | 'skipped';
  rowsSent: number;
  rowsFailed: number;
  /** Receipt artifact path in the bundle, when one was written. */
  receiptPath?: string;
  detail?: string;
}

/** The run's progress as custom status: small (Durable limits it to 16 KB), updated per phase. */
export interface RunCustomStatus {
  phase: 'resolving' | 'collecting' | 'sealing' | 'ingesting' | 'preserving' | 'completed';
  /** UTC RFC 3339 (orchestration time). */
  updatedAt: string;
  tasks?: { total: number; finished: number; failed: number };
  /** Per source: worst status over its tasks, records, gaps, "finished/total" tasks. */
  sources?: Record<string, { status: string; records: number; gaps: number; tasks: string }>;
  /** Audit log coverage found at resolution. */
  auditLog?: 'enabled' | 'not-enabled' | 'unknown';
  runGaps?: number;
  /** The first run-level gaps from resolution (audit log first), details shortened. */
  gaps?: { source: string; reason: string; detail: string }[];
  podCount?: number;
  manifest?: { location: string; sha256: string };
  /** The preservation window that followed the seal. */
  preservation?: PreservationStatus;
}

/** The orchestration output. */
export interface CollectionRunOutput {
  runId: string;
  caseId: string;
  clusterResourceId: string;
  startedAt: string;
  endedAt: string;
  /** complete: every task complete; partial: some gaps or failed tasks; all evidence sealed either way. */
  outcome: 'complete' | 'partial';
  seal: SealResult;
  tasks: { total: number; complete: number; partial: number; failed: number; skipped: number };
  /** Tasks that failed after every retry (at most 20 listed). */
  failedTasks: { source: string; shard?: string; detail: string }[];
  ingestion?: { tables: IngestTableOutcome[]; rowsSent: number; rowsFailed: number };
  /** The preservation window that followed the seal (request.preserveForSeconds). */
  preservation?: PreservationStatus;
}
