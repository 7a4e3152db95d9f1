import type { Readable } from 'node:stream';
import type { KubeApi } from './kubeApi.js';
import { abortReason, withRetry, type RetryOptions } from './retry.js';
import { AksEvidenceError } from '../util/errors.js';
import { ByteLineSplitter, type LineBatch } from '../util/lines.js';

/**
 * One container log, streamed on the KubeApi's pooled connection: lines are split as bytes
 * arrive and handed to the caller, who may make the stream wait (the body is not read
 * further until the caller's promise settles, so backpressure reaches the socket). Nothing
 * holds more than a chunk and one partial line.
 *
 * Why not client-node's Log: it reads the body through fetch, a WHATWG stream and a stream
 * adapter into a pipe; on thousands of logs that machinery cost more CPU than splitting the
 * lines and building their rows (880k lines: the source's CPU went from 4.6 s to 2.9 s on
 * this path). The request is the
 * same GET .../log?container=&timestamps=true[&previous=true][&sinceSeconds=], authenticated
 * through the KubeConfig exactly as client-node does it.
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
  onLines?: (lines: string[]) => void | Promise<void>;
  /**
   * The same lines as byte ranges, instead of onLines: no string is made per line (the
   * container-log row encoder works on bytes). The batch is reused: read it before returning.
   */
  onLineBytes?: (lines: LineBatch) => void | Promise<void>;
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

export async function streamContainerLog(
  api: KubeApi,
  request: ContainerLogRequest,
  options: ContainerLogStreamOptions,
): Promise<ContainerLogStreamResult> {
  const path = `/api/v1/namespaces/${request.namespace}/pods/${request.pod}/log`;
  const query = {
    container: request.container,
    timestamps: true,
    ...(request.previous ? { previous: true } : {}),
    ...(request.sinceSeconds && request.sinceSeconds > 0 ? { sinceSeconds: request.sinceSeconds } : {}),
  };
  const signal = options.abortSignal;
  const retry: RetryOptions = { ...options.retry };
  if (signal) retry.abortSignal = signal;
  const body: Readable = await withRetry(
    () => api.openStreamOnce(path, query, { ...(signal ? { abortSignal: signal } : {}), ...(options.countRequest ? { countRequest: options.countRequest } : {}) }),
    retry,
  );

  const splitter = new ByteLineSplitter();
  let lines = 0;
  let bytes = 0;
  const deliver = async (batch: LineBatch): Promise<void> => {
    lines += batch.count;
    const pending = options.onLineBytes ? options.onLineBytes(batch) : options.onLines?.(batch.texts());
    if (pending) await pending;
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      const batch = splitter.push(chunk);
      if (batch.count > 0) await deliver(batch);
    }
    const last = splitter.end();
    if (last.count > 0) await deliver(last);
  } catch (error) {
    // Stop the HTTP body: nothing reads it any more.
    body.destroy();
    if (signal?.aborted) throw abortReason(signal);
    if (error instanceof Error && error.name === 'QueueStoppedError') throw error;
    throw new LogStreamInterruptedError(lines, error);
  }
  return { lines, bytes };
}
