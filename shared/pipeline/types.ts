import type { ArtifactRef, CollectionRequestRecord, Gap, SourceSummary } from '../evidence/types.js';
import type { PodShard } from '../sources/types.js';

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
  records: number;
  rawObjects: number;
  gapCount: number;
  actionCount: number;
  apiRequests: number;
  /** Rows, raw objects, and the task summary artifact (gaps + collector actions in full). */
  artifacts: ArtifactRef[];
  /** The first few gaps, for progress display; all of them are in the summary artifact. */
  gapsPreview: Gap[];
  startedAt: string;
  endedAt: string;
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
}

export type { CollectionRequestRecord };
