/**
 * Sending mapped rows through LogsIngestionClient.upload: packing rows into requests that
 * stay under the 1 MB limit, and re-sending what the service did not acknowledge
 * (failedLogs) with backoff up to a budget.
 *
 * Requests are packed here, not by the SDK: its chunker sums JSON.stringify(record) sizes
 * without the array's commas and brackets, so a chunk of many rows can serialize above
 * 1,000,000 bytes. Packing to the exact serialized size keeps every request under the limit
 * and makes each upload() call exactly one request, so failedLogs map one-to-one to requests.
 */
import { isAggregateLogsUploadError, type LogsIngestionClient } from '@azure/monitor-ingestion';
import { setTimeout as delay } from 'node:timers/promises';
import type { IngestionTableTarget, RetryBudget } from './config.js';
import type { WireRow } from './rowMapping.js';
import { retryAfterFromHeaders } from '../util/retryAfter.js';
import { oneLine } from '../util/text.js';

/** The Logs Ingestion API's limit per call, compressed and uncompressed. */
export const MAX_REQUEST_BYTES = 1_000_000;
/** Room for gzip framing when a body barely compresses (stored deflate blocks add ~5 bytes per 64 KB). */
export const GZIP_OVERHEAD_BYTES = 1_024;

/** One request body: rows whose JSON array serializes to `bytes` bytes. */
export interface UploadRequest {
  rows: WireRow[];
  /** UTF-8 bytes of JSON.stringify(rows). */
  bytes: number;
}

/** Packs rows, in order, into requests of at most `maxBytes` serialized bytes. */
export class RequestPacker {
  private rows: WireRow[] = [];
  private bytes = 2; // "[]"

  constructor(readonly maxBytes = MAX_REQUEST_BYTES - GZIP_OVERHEAD_BYTES) {}

  /** Add a row of `rowBytes` serialized bytes; returns the previous request when this row did not fit in it. */
  add(row: WireRow, rowBytes: number): UploadRequest | undefined {
    if (rowBytes + 2 > this.maxBytes) throw new RangeError(`a row of ${rowBytes} bytes cannot fit a request of ${this.maxBytes} bytes`);
    const added = rowBytes + (this.rows.length ? 1 : 0);
    let full: UploadRequest | undefined;
    if (this.bytes + added > this.maxBytes) full = this.flush();
    this.bytes += rowBytes + (this.rows.length ? 1 : 0);
    this.rows.push(row);
    return full;
  }

  /** The request being filled, if it has rows. */
  flush(): UploadRequest | undefined {
    if (!this.rows.length) return undefined;
    const request = { rows: this.rows, bytes: this.bytes };
    this.rows = [];
    this.bytes = 2;
    return request;
  }
}

/** Why rows were not acknowledged. */
export type FailureReason = 'http' | 'network' | 'aborted' | 'too-large' | 'not-configured' | 'error';

export interface FailureInfo {
  reason: FailureReason;
  /** HTTP status, when the service answered. */
  status?: number;
  /** Error code (service error code or Node network code). */
  code?: string;
  /** One line, safe to print. */
  message: string;
  retryable: boolean;
  /** Retry-After from the response, in ms. */
  retryAfterMs?: number;
}

export interface FailedRows extends FailureInfo {
  recordIds: string[];
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'ENOTFOUND', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET']);

/** Classify what upload() reported as the cause of a failed request. */
export function classifyFailure(cause: unknown): FailureInfo {
  const e = cause as { name?: string; message?: string; statusCode?: number; code?: string; response?: { headers?: unknown } };
  const message = oneLine(e?.message ?? String(cause), 300);
  if (e?.name === 'AbortError') return { reason: 'aborted', message: 'aborted before the service acknowledged the rows', retryable: false };
  const status = typeof e?.statusCode === 'number' ? e.statusCode : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  if (status !== undefined) {
    const headers = e.response?.headers as { get?: (name: string) => string | undefined } | undefined;
    const retryAfterMs = retryAfterFromHeaders((name) => (typeof headers?.get === 'function' ? headers.get(name) : undefined));
    return {
      reason: status === 413 ? 'too-large' : 'http',
      status,
      ...(code !== undefined ? { code } : {}),
      message,
      retryable: RETRYABLE_STATUS.has(status),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    };
  }
  // No response: the connection failed or was dropped. Worth another try.
  const network = code === undefined || NETWORK_CODES.has(code) || /socket hang up|ECONNRESET|closed/i.test(message);
  return { reason: network ? 'network' : 'error', ...(code !== undefined ? { code } : {}), message, retryable: true };
}

export interface SendRequestOptions {
  client: LogsIngestionClient;
  target: IngestionTableTarget;
  budget: RetryBudget;
  abortSignal?: AbortSignal;
  /** Replaceable for tests; default: timers/promises setTimeout honouring abortSignal. */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
  /** [0,1) jitter source. Default Math.random. */
  random?: () => number;
  /** Called after each upload() call (one HTTP request: the client's own retries are off). */
  onAttempt?: (event: { rows: number; bytes: number; failed: number; resend: boolean }) => void;
}

export interface SendOutcome {
  /** Record ids the service acknowledged (not reported in failedLogs). */
  acknowledged: string[];
  /** Rows not acknowledged after the budget, grouped by cause. */
  failed: FailedRows[];
  /** upload() calls made. */
  requests: number;
  /** Of which re-sends. */
  resends: number;
  /** Uncompressed request bytes sent, re-sends included. */
  bytesSent: number;
}

const defaultSleep = (ms: number, abortSignal?: AbortSignal): Promise<void> => delay(ms, undefined, abortSignal ? { signal: abortSignal } : undefined).then(() => undefined);

function idOf(row: WireRow): string {
  return String(row['RecordId']);
}

function requestOf(rows: WireRow[]): UploadRequest {
  let bytes = 1 + rows.length;
  for (const r of rows) bytes += Buffer.byteLength(JSON.stringify(r));
  return { rows, bytes: rows.length ? bytes : 2 };
}

/** Backoff before re-send round `round` (1-based): exponential with jitter, at least Retry-After, at most maxDelayMs. */
export function backoffMs(round: number, budget: RetryBudget, retryAfterMs: number | undefined, random: () => number = Math.random): number {
  const exp = budget.baseDelayMs * 2 ** Math.max(0, round - 1);
  const jittered = exp * (0.5 + random() / 2);
  return Math.min(budget.maxDelayMs, Math.max(jittered, retryAfterMs ?? 0));
}

/**
 * Send one request; re-send whatever upload() reports in failedLogs while the cause is
 * transient and the budget lasts. A 413 splits the request in two (the service's limit may
 * be lower than assumed). Never throws for a service or network failure: those are data.
 */
export async function sendRequest(request: UploadRequest, options: SendRequestOptions): Promise<SendOutcome> {
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const outcome: SendOutcome = { acknowledged: [], failed: [], requests: 0, resends: 0, bytesSent: 0 };
  let pending: UploadRequest[] = [request];
  let round = 0;

  while (pending.length) {
    const next: UploadRequest[] = [];
    let retryAfterMs: number | undefined;
    for (const req of pending) {
      if (options.abortSignal?.aborted) {
        outcome.failed.push({ reason: 'aborted', message: 'aborted before the rows were sent', retryable: false, recordIds: req.rows.map(idOf) });
        continue;
      }
      const failures: { failedLogs: Record<string, unknown>[]; cause: unknown }[] = [];
      try {
        await options.client.upload(options.target.dcrImmutableId, options.target.streamName, req.rows, {
          maxConcurrency: 1,
          ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
          onError: (failure) => failures.push({ failedLogs: failure.failedLogs, cause: failure.cause }),
        });
      } catch (error) {
        // AggregateLogsUploadError repeats what onError reported; anything else is the SDK failing before sending.
        if (!failures.length && !isAggregateLogsUploadError(error)) failures.push({ failedLogs: req.rows, cause: error });
      }
      outcome.requests++;
      if (round > 0) outcome.resends++;
      outcome.bytesSent += req.bytes;

      const failedIds = new Set<string>();
      for (const f of failures) {
        const info = classifyFailure(f.cause);
        const rows = f.failedLogs as WireRow[];
        for (const r of rows) failedIds.add(idOf(r));
        if (info.reason === 'too-large' && rows.length > 1) {
          const half = Math.ceil(rows.length / 2);
          next.push(requestOf(rows.slice(0, half)), requestOf(rows.slice(half)));
        } else if (info.retryable && round < options.budget.attempts && !options.abortSignal?.aborted) {
          next.push(requestOf(rows));
          if (info.retryAfterMs !== undefined) retryAfterMs = Math.max(retryAfterMs ?? 0, info.retryAfterMs);
        } else {
          outcome.failed.push({ ...info, recordIds: rows.map(idOf) });
        }
      }
      // Success of a row = upload() did not report it in failedLogs.
      for (const r of req.rows) {
        const id = idOf(r);
        if (!failedIds.has(id)) outcome.acknowledged.push(id);
      }
      options.onAttempt?.({ rows: req.rows.length, bytes: req.bytes, failed: failedIds.size, resend: round > 0 });
    }
    pending = next;
    if (pending.length) {
      round++;
      try {
        await sleep(backoffMs(round, options.budget, retryAfterMs, random), options.abortSignal);
      } catch {
        // Aborted while backing off: the next loop records the rows as aborted.
      }
    }
  }
  return outcome;
}
