import { Writable, type Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { ApiException, Log } from '@kubernetes/client-node';
import { KubeApiError, type KubeApi } from '../cluster/kubeApi.js';
import { abortReason, parseRetryAfter, withRetry, type RetryOptions } from '../cluster/retry.js';
import { AksEvidenceError } from '../util/errors.js';
import { LineSplitter } from './logLines.js';

/**
 * One container log, streamed through client-node's Log into a Writable that splits lines
 * as bytes arrive and hands them to the caller, who may make the stream wait (backpressure
 * reaches the HTTP body through pipe()). Nothing holds more than a chunk and one partial line.
 *
 * Two client-node behaviours handled here: Log pipes the response into the Writable without
 * an error listener on the response stream (a reset would end nothing and surface as an
 * uncaught error), so the Writable attaches one on 'pipe'; and Log cannot take an abort
 * signal, so the AbortController it returns is aborted on our signal.
 */

export interface ContainerLogRequest {
  namespace: string;
  pod: string;
  container: string;
  /** The previous (restarted) instance's log. */
  previous: boolean;
  /** Only lines of the last N seconds; undefined or 0 = everything the kubelet has. */
  sinceSeconds?: number;
}

export interface ContainerLogStreamOptions {
  /** Receives the lines completed by each chunk, in order; return a promise to pause the stream. */
  onLines: (lines: string[]) => void | Promise<void>;
  abortSignal?: AbortSignal;
  countRequest?: () => void;
  /** Retries of the request itself (before any byte of the body): 429, 5xx, connection failures. */
  retry?: RetryOptions;
}

export interface ContainerLogStreamResult {
  lines: number;
  bytes: number;
}

/** The log stream broke after it started: `lines` were delivered and are kept; the rest is missing. */
export class LogStreamInterruptedError extends AksEvidenceError {
  override name = 'LogStreamInterruptedError';
  constructor(
    readonly lines: number,
    cause: unknown,
  ) {
    super('ERR_LOG_INTERRUPTED', `log stream interrupted after ${lines} lines: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/** client-node's ApiException → KubeApiError (status, Retry-After; its message would embed response headers). */
export function fromApiException(error: unknown, method: string, path: string): unknown {
  if (!(error instanceof ApiException)) return error;
  const status = typeof error.code === 'number' ? error.code : 0;
  const headers = (error.headers ?? {}) as Record<string, string>;
  const body = error.body as { message?: unknown; reason?: unknown } | undefined;
  const reason = typeof body?.reason === 'string' ? body.reason : undefined;
  const message = typeof body?.message === 'string' ? `: ${body.message.slice(0, 500)}` : '';
  const init: ConstructorParameters<typeof KubeApiError>[0] = { status, path, message: `${method} ${path}: HTTP ${status}${reason ? ` ${reason}` : ''}${message}` };
  if (reason) init.reason = reason;
  const retryAfterInMs = parseRetryAfter(headers['retry-after']);
  if (retryAfterInMs !== undefined) init.retryAfterInMs = retryAfterInMs;
  return new KubeApiError(init, { cause: error });
}

export async function streamContainerLog(
  api: KubeApi,
  request: ContainerLogRequest,
  options: ContainerLogStreamOptions,
): Promise<ContainerLogStreamResult> {
  const log = new Log(api.pooledKubeConfig());
  const path = `/api/v1/namespaces/${request.namespace}/pods/${request.pod}/log`;
  const splitter = new LineSplitter();
  let lines = 0;
  let bytes = 0;
  const deliver = (batch: string[], callback: (error?: Error | null) => void): void => {
    lines += batch.length;
    let pending: void | Promise<void>;
    try {
      pending = options.onLines(batch);
    } catch (error) {
      callback(error as Error);
      return;
    }
    if (pending) pending.then(() => callback(), (error: Error) => callback(error));
    else callback();
  };
  const writable = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      const batch = splitter.push(chunk);
      if (batch.length === 0) callback();
      else deliver(batch, callback);
    },
    final(callback) {
      const last = splitter.end();
      if (last === undefined) callback();
      else deliver([last], callback);
    },
  });
  writable.on('pipe', (source: Readable) => {
    source.once('error', (error: Error) => writable.destroy(error));
  });
  const done = finished(writable);
  done.catch(() => undefined);

  const signal = options.abortSignal;
  let controller: AbortController;
  try {
    const retry: RetryOptions = { ...options.retry };
    if (signal) retry.abortSignal = signal;
    controller = await withRetry(async () => {
      options.countRequest?.();
      const started = log.log(request.namespace, request.pod, request.container, writable, {
        follow: false,
        timestamps: true,
        previous: request.previous,
        ...(request.sinceSeconds && request.sinceSeconds > 0 ? { sinceSeconds: request.sinceSeconds } : {}),
      });
      try {
        return await raceAbort(started, signal);
      } catch (error) {
        throw fromApiException(error, 'GET', path);
      }
    }, retry);
  } catch (error) {
    writable.destroy();
    throw error;
  }

  const onAbort = (): void => {
    controller.abort();
    writable.destroy(abortReason(signal!));
  };
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  try {
    await done;
  } catch (error) {
    // Stop the HTTP body: the Writable is gone, nothing reads it any more.
    controller.abort();
    if (signal?.aborted) throw abortReason(signal);
    if (error instanceof Error && error.name === 'QueueStoppedError') throw error;
    throw new LogStreamInterruptedError(lines, error);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return { lines, bytes };
}

/** Log.log takes no signal: stop waiting for its headers on abort, and abort the request if it answers later. */
function raceAbort(started: Promise<AbortController>, signal: AbortSignal | undefined): Promise<AbortController> {
  if (!signal) return started;
  if (signal.aborted) {
    started.then((c) => c.abort(), () => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      started.then((c) => c.abort(), () => undefined);
      reject(abortReason(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    started.then(
      (c) => {
        signal.removeEventListener('abort', onAbort);
        resolve(c);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
