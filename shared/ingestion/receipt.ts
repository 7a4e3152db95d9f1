/**
 * Ingestion receipts: one write-once JSON artifact per ingestion attempt,
 * ingestion/receipt-<attempt>.json, saying per table what was read, acknowledged, skipped
 * (acknowledged before) and not delivered, and why. Secret-free: the endpoint without query,
 * no token. Small enough to return from a Durable activity.
 *
 * Accounting, per table and in totals:
 *   rowsExpected = rowsAcknowledged + rowsSkipped + rowsFailed + rowsInvalid + rowsNotSent
 * delivered = rowsAcknowledged + rowsSkipped.
 */
import type { AckPartRef } from './ackLog.js';
import { pad } from './ackLog.js';
import type { FailureReason } from './upload.js';

export const RECEIPT_SCHEMA_VERSION = 1;

export function receiptPath(attempt: number): string {
  return `ingestion/receipt-${pad(attempt)}.json`;
}

export function attemptPath(attempt: number): string {
  return `ingestion/attempt-${pad(attempt)}.json`;
}

export interface IngestionCounts {
  /** Rows the manifest records for the table's rows artifacts. */
  rowsExpected: number;
  /** Rows read from the artifacts in this attempt. */
  rowsRead: number;
  /** Acknowledged by the service in this attempt. */
  rowsAcknowledged: number;
  /** Acknowledged in an earlier attempt: not sent again. */
  rowsSkipped: number;
  /** Sent, and not acknowledged within the retry budget. */
  rowsFailed: number;
  /** Lines that are not a JSON object (kept in the artifact, never sent). */
  rowsInvalid: number;
  /** Not read or not sent: table not configured, attempt aborted or ended by an error. */
  rowsNotSent: number;
  /** Rows sent with at least one column shortened (TruncatedColumns). */
  truncatedRows: number;
}

/** One cause of non-delivery, with how many rows and the first record ids. */
export interface FailureGroup {
  /** 'not-sent': rows never handed to the service in this attempt (aborted, stopped, ended early); the message says why. */
  reason: FailureReason | 'invalid-json' | 'mapping' | 'not-sent';
  status?: number;
  code?: string;
  message: string;
  rows: number;
  /** The first FAILURE_SAMPLE record ids (line numbers for invalid JSON: "<artifact>#<line>"). */
  recordIds: string[];
}

export interface ArtifactReadReport {
  path: string;
  /** SHA-256 sealed in the manifest. */
  sha256: string;
  /** SHA-256 of the bytes read now; absent when the artifact was not read to the end. */
  sha256Read?: string;
  /** False when the stored bytes no longer match the manifest: investigate before trusting the rows. */
  sha256Matches?: boolean;
  /** Records per the manifest, and rows actually read. */
  records: number;
  rowsRead: number;
}

export interface TableIngestionReport extends IngestionCounts {
  table: string;
  status: 'complete' | 'partial' | 'failed' | 'not-configured' | 'empty';
  dcrImmutableId?: string;
  streamName?: string;
  artifacts: ArtifactReadReport[];
  failures: FailureGroup[];
  /** Source-row keys the table does not declare, dropped, with counts (registry drift). */
  droppedColumns: Record<string, number>;
  /** Values that did not fit their column type, left empty on the wire, with counts. */
  invalidValues: Record<string, number>;
  /** upload() calls (one HTTP request each, not counting the SDK's own retries), of which re-sends. */
  requests: number;
  resends: number;
  /** Uncompressed request bytes, re-sends included. */
  bytesSent: number;
  /** Earlier attempts whose acknowledgements were honoured. */
  previousAttempts: number[];
  acknowledgements: AckPartRef[];
}

export interface IngestionReceipt extends IngestionCounts {
  schemaVersion: typeof RECEIPT_SCHEMA_VERSION;
  kind: 'ingestion-receipt';
  attempt: number;
  /** Where this receipt is stored in the bundle. */
  path: string;
  runId: string;
  caseId: string;
  /** Bundle location (EvidenceStore.location). */
  location: string;
  /** DCE endpoint, no query, no credentials. */
  endpoint: string;
  startedAt: string;
  endedAt: string;
  status: 'complete' | 'partial' | 'failed' | 'aborted';
  tables: Record<string, TableIngestionReport>;
  requests: number;
  resends: number;
  bytesSent: number;
  /** Unexpected error that ended the attempt early (safe to print). */
  error?: string;
}

export const FAILURE_SAMPLE = 20;

export function emptyCounts(): IngestionCounts {
  return { rowsExpected: 0, rowsRead: 0, rowsAcknowledged: 0, rowsSkipped: 0, rowsFailed: 0, rowsInvalid: 0, rowsNotSent: 0, truncatedRows: 0 };
}

export function addCounts(into: IngestionCounts, from: IngestionCounts): void {
  for (const key of Object.keys(into) as (keyof IngestionCounts)[]) into[key] += from[key];
}

/** Rows delivered to Log Analytics, in this attempt or before. */
export function delivered(c: IngestionCounts): number {
  return c.rowsAcknowledged + c.rowsSkipped;
}

/** Rows not (yet) delivered. */
export function undelivered(c: IngestionCounts): number {
  return c.rowsFailed + c.rowsInvalid + c.rowsNotSent;
}
