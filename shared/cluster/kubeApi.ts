import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import type { Readable } from 'node:stream';
import { fetch, request, type Dispatcher } from 'undici';
import type { Gap } from '../evidence/types.js';
import { AksEvidenceError } from '../util/errors.js';
import {
  isRetryableNetworkError,
  isRetryableStatus,
  RetriesExhaustedError,
  withRetry,
  type RetryClassification,
  type RetryOptions,
} from './retry.js';
import { parseRetryAfter } from '../util/retryAfter.js';

/**
 * Raw Kubernetes API access on one pooled connection.
 *
 * Why not the generated clients: they deserialize into model classes, which drops fields
 * the model does not know and rewrites timestamps; evidence keeps objects as served. And
 * client-node 2.x builds a new undici Agent (a new TLS connection) for every request when
 * the cluster has a CA, so thousands of log requests would each pay a handshake. KubeApi
 * authenticates each request through the KubeConfig (tokens, exec plugins, client
 * certificates) exactly as client-node does, then sends it on one cached dispatcher.
 */

/** A Kubernetes API call failed with an HTTP status (status 0: no response at all). */
export class KubeApiError extends AksEvidenceError {
  override name = 'KubeApiError';
  /** HTTP status, 0 when the request never got an answer. */
  readonly status: number;
  /** The Status reason when the server sent one, e.g. Forbidden, Expired, NotFound. */
  readonly reason?: string;
  /** Server-requested wait for 429/503, in ms. */
  readonly retryAfterInMs?: number;
  /** The continue token a 410 carried (inconsistent continuation), when present. */
  readonly continueToken?: string;
  /** The API path (no query string: continue tokens stay out of messages). */
  readonly path: string;

  constructor(
    init: { status: number; path: string; message: string; reason?: string; retryAfterInMs?: number; continueToken?: string },
    options?: { cause?: unknown },
  ) {
    super('ERR_KUBE_API', init.message, options);
    this.status = init.status;
    this.path = init.path;
    if (init.reason !== undefined) this.reason = init.reason;
    if (init.retryAfterInMs !== undefined) this.retryAfterInMs = init.retryAfterInMs;
    if (init.continueToken !== undefined) this.continueToken = init.continueToken;
  }

  retryClassification(): RetryClassification {
    if (this.status === 0) return { retryable: isRetryableNetworkError(this.cause) };
    const classification: RetryClassification = { retryable: isRetryableStatus(this.status) };
    if (this.retryAfterInMs !== undefined) classification.retryAfterInMs = this.retryAfterInMs;
    return classification;
  }
}

/** The status of a failed Kubernetes call, whichever layer threw it (KubeApi, client-node ApiException, retries). */
export function kubeErrorStatus(error: unknown): number | undefined {
  const inner = error instanceof RetriesExhaustedError ? error.lastError : error;
  if (inner instanceof KubeApiError) return inner.status === 0 ? undefined : inner.status;
  const code = (inner as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** The gap reason an expected failure maps to. */
export function gapReasonFor(error: unknown): Gap['reason'] {
  if (error instanceof RetriesExhaustedError) return 'retries-exhausted';
  if (error instanceof Error && error.name === 'TimeoutError') return 'timeout';
  if (error instanceof KubeApiError && error.status === 0 && error.reason === 'Timeout') return 'timeout';
  switch (kubeErrorStatus(error)) {
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 410:
      return 'expired-continue';
    default:
      return 'error';
  }
}

/** A one-line, secret-free description of a Kubernetes call failure. */
export function describeKubeError(error: unknown): string {
  if (error instanceof RetriesExhaustedError) return `${describeKubeError(error.lastError)} (gave up after ${error.attempts} attempts)`;
  if (error instanceof KubeApiError) return error.message;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'number') {
    // client-node's ApiException message embeds response headers and body: keep only the status and the Status message.
    const body = (error as { body?: unknown }).body;
    const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined;
    return `HTTP ${code}${typeof message === 'string' ? `: ${message}` : ''}`;
  }
  if (error instanceof Error) return error.message;
  return String(error);
}

export type QueryValue = string | number | boolean | undefined;

export interface KubeRequestOptions {
  abortSignal?: AbortSignal;
  /** Called once per HTTP request sent (retries included). */
  countRequest?: () => void;
  /** Retry policy; `{ maxAttempts: 1 }` disables retries. */
  retry?: RetryOptions;
  /** Per-attempt time limit in ms, headers and body (default 120000). */
  timeoutInMs?: number;
  /**
   * Accept header (default application/json), e.g. the PartialObjectMetadataList form that
   * keeps Secret values on the server.
   */
  accept?: string;
  /** Called with the response's Date header (the API server's clock) on every 2xx answer. */
  onResponse?: (info: { date?: string }) => void;
}

const kubeApis = new WeakMap<KubeConfig, KubeApi>();

export class KubeApi {
  readonly kubeConfig: KubeConfig;
  /** API server URL without credentials. */
  readonly server: string;
  private dispatcher: Dispatcher | undefined;
  private dispatcherResolved = false;

  constructor(kubeConfig: KubeConfig) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) {
      throw new AksEvidenceError(
        'ERR_KUBECONFIG',
        'the kubeconfig has no current cluster: select a context with --context or set current-context',
      );
    }
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/+$/, '');
  }

  /** The KubeApi shared by everyone using this KubeConfig in this process (one connection pool). */
  static for(kubeConfig: KubeConfig): KubeApi {
    let api = kubeApis.get(kubeConfig);
    if (!api) {
      api = new KubeApi(kubeConfig);
      kubeApis.set(kubeConfig, api);
    }
    return api;
  }

  /** Authenticate a request context through the KubeConfig, then move it onto the pooled dispatcher. */
  async authenticate(context: RequestContext): Promise<void> {
    await this.kubeConfig.applySecurityAuthentication(context);
    const perRequest = context.getDispatcher();
    if (!this.dispatcherResolved) {
      this.dispatcher = perRequest;
      this.dispatcherResolved = true;
    } else if (perRequest !== undefined && perRequest !== this.dispatcher) {
      // client-node made a fresh Agent for this request; nothing was sent on it yet.
      void perRequest.close().catch(() => undefined);
    }
    if (this.dispatcher) context.setDispatcher(this.dispatcher);
  }

  url(path: string, query?: Record<string, QueryValue>): string {
    const url = new URL(this.server + path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    return url.toString();
  }

  /** GET a JSON document, with retries on 429/5xx/connection failures. */
  async getJson<T = unknown>(path: string, query?: Record<string, QueryValue>, options: KubeRequestOptions = {}): Promise<T> {
    const retry: RetryOptions = { ...options.retry };
    if (options.abortSignal) retry.abortSignal = options.abortSignal;
    return withRetry(() => this.getJsonOnce<T>(path, query, options), retry);
  }

  /** One GET, no retry. Throws KubeApiError for any non-2xx answer or transport failure. */
  async getJsonOnce<T = unknown>(path: string, query: Record<string, QueryValue> | undefined, options: KubeRequestOptions = {}): Promise<T> {
    const context = new RequestContext(this.url(path, query), HttpMethod.GET);
    context.setHeaderParam('Accept', options.accept ?? 'application/json');
    await this.authenticate(context);
    const timeoutInMs = options.timeoutInMs ?? 120_000;
    const timeout = AbortSignal.timeout(timeoutInMs);
    const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;
    options.countRequest?.();
    let response;
    try {
      response = await fetch(context.getUrl(), {
        method: 'GET',
        headers: context.getHeaders(),
        signal,
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (error) {
      if (options.abortSignal?.aborted) throw options.abortSignal.reason;
      if (timeout.aborted) throw timedOut(path, timeoutInMs, error);
      throw new KubeApiError({ status: 0, path, message: `GET ${path} failed: ${transportMessage(error)}` }, { cause: error });
    }
    if (response.status >= 200 && response.status < 300) {
      try {
        const body = (await response.json()) as T;
        options.onResponse?.({ date: response.headers.get('date') ?? undefined });
        return body;
      } catch (error) {
        if (options.abortSignal?.aborted) throw options.abortSignal.reason;
        if (timeout.aborted) throw timedOut(path, timeoutInMs, error);
        throw new KubeApiError(
          { status: 0, path, message: `GET ${path}: the response body could not be read: ${transportMessage(error)}` },
          { cause: error },
        );
      }
    }
    const text = await response.text().catch(() => '');
    throw kubeApiErrorFromResponse('GET', path, response.status, text, response.headers.get('retry-after'));
  }

  /**
   * One streaming GET, no retry: resolves with the body once a 2xx status arrived (the caller
   * reads it, with backpressure, and must consume or destroy it). Any other answer or a
   * transport failure throws KubeApiError, so the call can be retried before any byte is read.
   */
  async openStreamOnce(path: string, query: Record<string, QueryValue> | undefined, options: Omit<KubeRequestOptions, 'retry' | 'timeoutInMs'> = {}): Promise<Readable> {
    const context = new RequestContext(this.url(path, query), HttpMethod.GET);
    await this.authenticate(context);
    options.countRequest?.();
    let response;
    try {
      response = await request(context.getUrl(), {
        method: 'GET',
        headers: context.getHeaders(),
        ...(options.abortSignal ? { signal: options.abortSignal } : {}),
        ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
      });
    } catch (error) {
      if (options.abortSignal?.aborted) throw options.abortSignal.reason;
      throw new KubeApiError({ status: 0, path, message: `GET ${path} failed: ${transportMessage(error)}` }, { cause: error });
    }
    if (response.statusCode >= 200 && response.statusCode < 300) return response.body;
    const text = await response.body.text().catch(() => '');
    const retryAfter = response.headers['retry-after'];
    throw kubeApiErrorFromResponse('GET', path, response.statusCode, text, Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
  }

  /** Close the pooled connections (idle sockets do not keep the process alive; call at shutdown). */
  async close(): Promise<void> {
    const dispatcher = this.dispatcher;
    this.dispatcher = undefined;
    this.dispatcherResolved = false;
    if (dispatcher) await dispatcher.close().catch(() => undefined);
  }
}

/** Our own per-request time limit ran out (not the caller's abort): an expected failure, reported as a timeout gap. */
function timedOut(path: string, timeoutInMs: number, cause: unknown): KubeApiError {
  return new KubeApiError({ status: 0, path, reason: 'Timeout', message: `GET ${path}: no complete answer within ${timeoutInMs} ms` }, { cause });
}

function transportMessage(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Build a KubeApiError from an error response (a Kubernetes Status body when there is one). */
export function kubeApiErrorFromResponse(
  method: string,
  path: string,
  status: number,
  bodyText: string,
  retryAfter: string | null | undefined,
): KubeApiError {
  let reason: string | undefined;
  let statusMessage: string | undefined;
  let continueToken: string | undefined;
  try {
    const body = JSON.parse(bodyText) as { kind?: string; reason?: unknown; message?: unknown; metadata?: { continue?: unknown } };
    if (typeof body.reason === 'string') reason = body.reason;
    if (typeof body.message === 'string') statusMessage = body.message;
    if (typeof body.metadata?.continue === 'string' && body.metadata.continue !== '') continueToken = body.metadata.continue;
  } catch {
    // Not a Status document (a proxy's HTML page, say): report the status only.
  }
  const init: ConstructorParameters<typeof KubeApiError>[0] = {
    status,
    path,
    message: `${method} ${path}: HTTP ${status}${reason ? ` ${reason}` : ''}${statusMessage ? `: ${statusMessage.slice(0, 500)}` : ''}`,
  };
  if (reason !== undefined) init.reason = reason;
  const retryAfterInMs = parseRetryAfter(retryAfter);
  if (retryAfterInMs !== undefined) init.retryAfterInMs = retryAfterInMs;
  if (continueToken !== undefined) init.continueToken = continueToken;
  return new KubeApiError(init);
}
