import type { ClusterIdentity, CollectionRequestRecord } from '../evidence/types.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTask, CollectTaskResult, SealResult } from '../pipeline/types.js';
import type { ClusterRef } from '../cluster/clusterRef.js';

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
} as const;

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
  phase: 'resolving' | 'collecting' | 'sealing' | 'ingesting' | 'completed';
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
}
