import type { ArtifactRef, CollectionRequestRecord, Gap, SourceSummary } from '../evidence/types.js';
import type { PodShard } from '../sources/types.js';
import type { FailureCause } from './status.js';

/**
 * The pipeline's steps, shared by the CLI (in-process) and the Durable orchestrator
 * (one activity per step). Everything here is small, JSON-serializable and secret-free:
 * it travels through orchestration history.
 */

/** One unit of collection: a source, optionally one pod shard of it. */
export interface CollectTask {
  source: string;
  shard?: PodShard;
}

/** What a collect task returns: references, never evidence. */
export interface CollectTaskResult {
  source: string;
  /** e.g. "3-of-8" when sharded. */
  shard?: string;
  status: SourceSummary['status'];
  /** Why the task is failed (pipeline/status.ts). */
  failedBecause?: FailureCause;
  records: number;
  rawObjects: number;
  gapCount: number;
  actionCount: number;
  /** Log streams resumed after a cut or a stall. */
  resumeCount?: number;
  apiRequests: number;
  /** Rows, raw objects, and the task summary artifact (gaps + collector actions in full). */
  artifacts: ArtifactRef[];
  /** The first few gaps, for progress display; all of them are in the summary artifact. */
  gapsPreview: Gap[];
  startedAt: string;
  endedAt: string;
  /** True when this result was read back from the task's own finished summary (a retried task): nothing was collected again. */
  reused?: boolean;
}

/** The result of a sealed run. */
export interface SealResult {
  runId: string;
  caseId: string;
  location: string;
  manifestPath: string;
  manifestSha256: string;
  records: Record<string, number>;
  gaps: Record<string, number>;
  artifactCount: number;
  /** The report written at sealing (bundle-relative path, listed in the manifest), when there is one. */
  reportPath?: string;
  /** The custody chain's head the manifest records (SHA-256 of the newest record before the seal). */
  chainHead: string;
  /** SHA-256 of the manifest-sealed custody record (which carries the manifest's hash). */
  sealRecordSha256: string;
  /** The manifest's endedAt (UTC RFC 3339). */
  sealedAt: string;
  /** True when sealed as an interrupted run. */
  interrupted?: boolean;
  /** How the anchors outside the bundle went right after sealing (timestamp, Log Analytics row). */
  anchors?: SealAnchors;
}

export type { CollectionRequestRecord };

/** How one anchor went at sealing. */
export interface AnchorOutcome {
  status: 'anchored' | 'failed' | 'not-configured';
  detail: string;
}

export interface SealAnchors {
  timestamp: AnchorOutcome;
  logAnalytics: AnchorOutcome;
}
