import { AksEvidenceError } from '../util/errors.js';

/**
 * Bounded retries with exponential backoff and full jitter, for Kubernetes API calls.
 * Retried: 429 (honouring Retry-After), 500/502/503/504, and connection-level failures
 * (reset, refused, socket closed). Everything else fails at once.
 */

export interface RetryOptions {
  /** Total attempts, the first included (default 5). */
  maxAttempts?: number;
  /** Backoff base in ms: attempt n waits up to base × 2^(n-1), jittered (default 200). */
  baseDelayInMs?: number;
  /** Upper bound of one backoff wait in ms (default 5000). */
  maxDelayInMs?: number;
  /** Upper bound of a server-requested Retry-After wait in ms (default 30000). */
  maxRetryAfterInMs?: number;
  abortSignal?: AbortSignal;
  /** Random source in [0, 1) for jitter; replaceable in tests. */
  random?: () => number;
  /** Called before each wait, e.g. to count or log retries. */
  onRetry?: (info: { attempt: number; delayInMs: number; error: unknown }) => void;
}

/** What the retry loop needs to know about a failure. Errors may implement it (KubeApiError does). */
export interface RetryClassification {
  retryable: boolean;
  /** Server-requested wait (Retry-After), in ms. */
  retryAfterInMs?: number;
}

/** Every attempt failed with a retryable error. `lastError` is the final cause. */
export class RetriesExhaustedError extends AksEvidenceError {
  override name = 'RetriesExhaustedError';
  constructor(
    readonly attempts: number,
    readonly lastError: unknown,
  ) {
    super('ERR_RETRIES_EXHAUSTED', `gave up after ${attempts} attempts: ${describe(lastError)}`, { cause: lastError });
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_NETWORK_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * Error-like, whichever realm made it: Node's own errors (a socket hang-up from node:http) are
 * not `instanceof Error` inside a VM context such as jest's, but they must classify the same.
 */
export function isErrorLike(value: unknown): value is Error {
  return value instanceof Error || (typeof value === 'object' && value !== null && typeof (value as Error).message === 'string' && typeof (value as Error).name === 'string');
}

function networkCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && isErrorLike(current); depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && RETRYABLE_NETWORK_CODES.has(code)) return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Classify any error: errors that know their HTTP status say so through `retryClassification()`. */
export function classifyForRetry(error: unknown): RetryClassification {
  if (isAbortError(error)) return { retryable: false };
  const own = (error as { retryClassification?: () => RetryClassification } | null)?.retryClassification;
  if (typeof own === 'function') return own.call(error);
  const status = (error as { status?: unknown; code?: unknown } | null)?.status ?? (error as { code?: unknown } | null)?.code;
  if (typeof status === 'number') return { retryable: RETRYABLE_STATUS.has(status) };
  return { retryable: networkCode(error) !== undefined };
}

/** True for HTTP statuses worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/** True for a network failure worth retrying (connection reset, refused, closed). */
export function isRetryableNetworkError(error: unknown): boolean {
  return networkCode(error) !== undefined;
}

export function isAbortError(error: unknown): boolean {
  return isErrorLike(error) && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** Wait `ms`, rejecting with the signal's reason when it aborts first. */
export function sleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (abortSignal?.aborted) {
      reject(abortReason(abortSignal));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortReason(abortSignal!));
    };
    const timer = setTimeout(() => {
      abortSignal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    abortSignal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The signal's reason as an Error (AbortSignal.abort() without a reason gives a DOMException AbortError). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  if (reason instanceof Error) return reason;
  const error = new Error(reason === undefined ? 'The operation was aborted' : String(reason));
  error.name = 'AbortError';
  return error;
}

/** The backoff before attempt `attempt + 1` (attempt is 1-based), full jitter. */
export function backoffDelay(attempt: number, options: RetryOptions = {}): number {
  const base = options.baseDelayInMs ?? 200;
  const max = options.maxDelayInMs ?? 5000;
  const ceiling = Math.min(max, base * 2 ** (attempt - 1));
  const random = options.random ?? Math.random;
  // Full jitter, but never below a tenth of the ceiling so a retry is never instant.
  return Math.round(ceiling * (0.1 + 0.9 * random()));
}

/**
 * Run `fn` until it succeeds, fails with a non-retryable error (rethrown as is), or
 * `maxAttempts` retryable failures happened (RetriesExhaustedError). Abortable between attempts.
 */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const maxAttempts = Math.max(1, options.maxAttempts ?? 5);
  const maxRetryAfter = options.maxRetryAfterInMs ?? 30_000;
  for (let attempt = 1; ; attempt++) {
    if (options.abortSignal?.aborted) throw abortReason(options.abortSignal);
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.abortSignal?.aborted) throw abortReason(options.abortSignal);
      const classification = classifyForRetry(error);
      if (!classification.retryable) throw error;
      if (attempt >= maxAttempts) throw new RetriesExhaustedError(attempt, error);
      const delayInMs = classification.retryAfterInMs !== undefined ? Math.min(maxRetryAfter, classification.retryAfterInMs) : backoffDelay(attempt, options);
      options.onRetry?.({ attempt, delayInMs, error });
      await sleep(delayInMs, options.abortSignal);
    }
  }
}
