import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { createSecureContext } from 'node:tls';
import type { Gap } from '../evidence/types.js';
import { AksEvidenceError } from '../util/errors.js';
import { KubeAuth, type RequestAuth } from './kubeAuth.js';
import type { KubeConfigLike } from './kubeConfig.js';
import { RequestBudget, type ReleasePermit } from './requestBudget.js';
import { isErrorLike, isRetryableNetworkError, isRetryableStatus, RetriesExhaustedError, withRetry, type RetryClassification, type RetryOptions } from './retry.js';
import { parseRetryAfter } from '../util/retryAfter.js';

/**
 * Raw Kubernetes API access: one keep-alive connection pool per cluster, every request
 * authenticated by KubeAuth (tokens, client certificates, exec plugins, Entra, auth-providers)
 * and counted against the cluster's load budget (RequestBudget).
 *
 * Why not the generated clients: they deserialize into model classes, which drops fields
 * the model does not know and rewrites timestamps; evidence keeps objects as served; and
 * loading client-node costs ~0.45 s of CPU and ~90 MB. Why node:https rather than undici:
 * measured on the log path (docs/performance.md), undici's WebAssembly parser costs ~30 MB
 * of RSS more and more CPU per small response; for large bodies the two are even.
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

  constructor(init: { status: number; path: string; message: string; reason?: string; retryAfterInMs?: number; continueToken?: string }, options?: { cause?: unknown }) {
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
  /** Per-attempt time limit in ms from the moment the request is sent, headers and body (default 120000). */
  timeoutInMs?: number;
  /**
   * Accept header (default application/json), e.g. the PartialObjectMetadataList form that
   * keeps Secret values on the server.
   */
  accept?: string;
  /** Called with the response's Date header (the API server's clock) on every 2xx answer. */
  onResponse?: (info: { date?: string }) => void;
}

export interface KubeApiOptions {
  /** Requests in flight at once (default DEFAULT_CLUSTER_REQUEST_BUDGET); changeable later through `budget.limit`. */
  maxConcurrentRequests?: number;
}

/** What an exec WebSocket needs: the authenticated headers and an agent with the cluster's TLS setup. */
export interface UpgradeOptions {
  headers: Record<string, string | string[]>;
  agent: HttpAgent;
}

const kubeApis = new WeakMap<KubeConfigLike, KubeApi>();

/**
 * node:http without its ES-module namespace: `import ... from 'node:http'` reads every export,
 * and Node 22's lazy http.WebSocket getter then loads its bundled undici (+36 ms of CPU and
 * ~8 MB at start-up, measured); getBuiltinModule hands over the CommonJS exports as they are.
 */
const http = process.getBuiltinModule('node:http');

interface SendOptions {
  method: 'GET' | 'POST';
  accept?: string;
  body?: string;
  abortSignal?: AbortSignal;
  timeoutInMs?: number;
  countRequest?: () => void;
}

interface Sent {
  response: IncomingMessage;
  /** The per-attempt time limit, when one was asked for. */
  timeout?: AbortSignal;
}

export class KubeApi {
  readonly kubeConfig: KubeConfigLike;
  /** API server URL without credentials. */
  readonly server: string;
  /** The load budget: requests in flight at once on this cluster from this process. */
  readonly budget: RequestBudget;
  private readonly auth: KubeAuth;
  private readonly secure: boolean;
  /** Keep-alive agents by TLS material (a rotated client certificate gets a new pool). */
  private readonly agents = new Map<string, Promise<HttpAgent>>();
  /** Agents for exec upgrades (a WebSocket cannot reuse a connection), one SecureContext each. */
  private readonly upgradeAgents = new Map<string, Promise<HttpAgent>>();

  constructor(kubeConfig: KubeConfigLike, options: KubeApiOptions = {}) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) {
      throw new AksEvidenceError('ERR_KUBECONFIG', 'the kubeconfig has no current cluster: select a context with --context or set current-context');
    }
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/+$/, '');
    this.secure = !this.server.startsWith('http:');
    if (!this.secure && !cluster.skipTLSVerify) {
      throw new AksEvidenceError('ERR_KUBECONFIG', `the API server ${cluster.server} is plain http: use https, or set insecure-skip-tls-verify for a deliberate test setup`);
    }
    this.auth = KubeAuth.for(kubeConfig);
    this.budget = new RequestBudget(options.maxConcurrentRequests);
  }

  /** The KubeApi shared by everyone using this kubeconfig object in this process (one connection pool, one budget). */
  static for(kubeConfig: KubeConfigLike): KubeApi {
    let api = kubeApis.get(kubeConfig);
    if (!api) {
      api = new KubeApi(kubeConfig);
      kubeApis.set(kubeConfig, api);
    }
    return api;
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
    return this.jsonOnce<T>(path, query, { method: 'GET', ...options });
  }

  /** POST a JSON document (a SelfSubjectAccessReview) and read the JSON answer, with retries like getJson. */
  async postJson<T = unknown>(path: string, body: unknown, options: KubeRequestOptions = {}): Promise<T> {
    const retry: RetryOptions = { ...options.retry };
    if (options.abortSignal) retry.abortSignal = options.abortSignal;
    const text = JSON.stringify(body);
    return withRetry(() => this.jsonOnce<T>(path, undefined, { method: 'POST', body: text, ...options }), retry);
  }

  private async jsonOnce<T>(path: string, query: Record<string, QueryValue> | undefined, options: KubeRequestOptions & { method: 'GET' | 'POST'; body?: string }): Promise<T> {
    const timeoutInMs = options.timeoutInMs ?? 120_000;
    const { method } = options;
    let sent: Sent;
    try {
      sent = await this.send(path, query, {
        method,
        accept: options.accept ?? 'application/json',
        timeoutInMs,
        ...(options.body !== undefined ? { body: options.body } : {}),
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
        ...(options.countRequest ? { countRequest: options.countRequest } : {}),
      });
    } catch (error) {
      throw this.transportError(method, path, error, options.abortSignal, timeoutInMs);
    }
    const { response } = sent;
    const status = response.statusCode ?? 0;
    let text: string;
    try {
      text = (await readBody(response)).toString('utf8');
    } catch (error) {
      const failure = this.transportError(method, path, error, options.abortSignal, timeoutInMs, sent.timeout);
      if (failure instanceof KubeApiError && failure.reason !== 'Timeout') {
        throw new KubeApiError({ status: 0, path, message: `${method} ${path}: the response body could not be read: ${transportMessage(error)}` }, { cause: error });
      }
      throw failure;
    }
    if (status >= 200 && status < 300) {
      let body: T;
      try {
        body = JSON.parse(text) as T;
      } catch (error) {
        throw new KubeApiError({ status: 0, path, message: `${method} ${path}: the response body could not be read: ${transportMessage(error)}` }, { cause: error });
      }
      options.onResponse?.({ date: headerValue(response.headers.date) });
      return body;
    }
    throw kubeApiErrorFromResponse(method, path, status, text, headerValue(response.headers['retry-after']));
  }

  /**
   * One streaming GET, no retry: resolves with the body once a 2xx status arrived (the caller
   * reads it, with backpressure, and must consume or destroy it: the request holds a permit of
   * the load budget until its body ends). Any other answer or a transport failure throws
   * KubeApiError, so the call can be retried before any byte is read.
   */
  async openStreamOnce(path: string, query: Record<string, QueryValue> | undefined, options: Omit<KubeRequestOptions, 'retry' | 'timeoutInMs'> = {}): Promise<Readable> {
    let sent: Sent;
    try {
      sent = await this.send(path, query, {
        method: 'GET',
        ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
        ...(options.countRequest ? { countRequest: options.countRequest } : {}),
      });
    } catch (error) {
      throw this.transportError('GET', path, error, options.abortSignal, undefined);
    }
    const { response } = sent;
    const status = response.statusCode ?? 0;
    if (status >= 200 && status < 300) return response;
    const text = (await readBody(response).catch(() => Buffer.alloc(0))).toString('utf8');
    throw kubeApiErrorFromResponse('GET', path, status, text, headerValue(response.headers['retry-after']));
  }

  /**
   * Headers and agent for an exec WebSocket, authenticated like every request. The agent keeps
   * one TLS SecureContext per TLS material: an upgrade cannot reuse a connection, so each exec
   * pays a handshake, and without a shared context Node would also parse the CA bundle, the
   * client certificate and key again for every one (thousands of history execs spent more CPU
   * on that than on the handshakes).
   */
  async upgradeOptions(): Promise<UpgradeOptions> {
    const auth = await this.auth.resolve();
    let agent = this.upgradeAgents.get(auth.tlsKey);
    if (!agent) {
      agent = this.createAgent(auth, false);
      this.upgradeAgents.set(auth.tlsKey, agent);
      agent.catch(() => this.upgradeAgents.delete(auth.tlsKey));
    }
    return { headers: auth.headers, agent: await agent };
  }

  /** The server refused the credentials: renewable ones (exec plugin, token-file) are fetched again. */
  credentialsRefused(): boolean {
    if (!this.auth.renewable) return false;
    this.auth.invalidate();
    return true;
  }

  /**
   * Wait until no request is in flight (at most `timeoutInMs`, default 5000), then close the
   * pooled connections. A host ending an activity calls it, so that the activity's last
   * connection (an exec's socket closing after its status) is gone before the next wave starts.
   */
  async close(timeoutInMs = 5000): Promise<void> {
    await this.budget.whenIdle(timeoutInMs);
    const agents = [...this.agents.values(), ...this.upgradeAgents.values()];
    this.agents.clear();
    this.upgradeAgents.clear();
    for (const agent of agents) (await agent.catch(() => undefined))?.destroy();
  }

  /**
   * Send one request under the load budget: authenticate, wait for a permit, send. The permit
   * is given back when the response has been read to its end or destroyed, or the request failed.
   * A 401 with renewable credentials (an exec plugin, a token-file) is asked once more with fresh ones.
   */
  private async send(path: string, query: Record<string, QueryValue> | undefined, options: SendOptions, renewed = false): Promise<Sent> {
    const url = this.url(path, query);
    const auth = await this.auth.resolve();
    const agent = await this.agentFor(auth);
    const release = await this.budget.acquire(options.abortSignal);
    let timeout: AbortSignal | undefined;
    let response: IncomingMessage;
    try {
      timeout = options.timeoutInMs !== undefined ? AbortSignal.timeout(options.timeoutInMs) : undefined;
      // A dependent signal, not a listener on the caller's: dozens of streams share one run signal.
      const signals = [options.abortSignal, timeout].filter((x): x is AbortSignal => x !== undefined);
      const signal = signals.length > 0 ? AbortSignal.any(signals) : undefined;
      options.countRequest?.();
      response = await request(
        this.secure,
        url,
        {
          method: options.method,
          agent,
          headers: {
            ...auth.headers,
            ...(options.accept ? { Accept: options.accept } : {}),
            ...(options.body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(options.body)) } : {}),
          },
          ...(signal ? { signal } : {}),
        },
        options.body,
      );
    } catch (error) {
      release();
      if (timeout?.aborted && !options.abortSignal?.aborted) throw timedOut(options.method, path, options.timeoutInMs!, error);
      throw error;
    }
    holdUntilDone(response, release);
    if (response.statusCode === 401 && !renewed && this.credentialsRefused()) {
      response.resume();
      return this.send(path, query, options, true);
    }
    return timeout ? { response, timeout } : { response };
  }

  private agentFor(auth: RequestAuth): Promise<HttpAgent> {
    let agent = this.agents.get(auth.tlsKey);
    if (!agent) {
      agent = this.createAgent(auth, true);
      this.agents.set(auth.tlsKey, agent);
      agent.catch(() => this.agents.delete(auth.tlsKey));
    }
    return agent;
  }

  private async createAgent(auth: RequestAuth, keepAlive: boolean): Promise<HttpAgent> {
    const { tls } = auth;
    const proxyUrl = this.kubeConfig.getCurrentCluster()?.proxyUrl;
    const tlsOptions: https.AgentOptions = {
      ...(tls.servername ? { servername: tls.servername } : {}),
      ...(tls.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
    };
    // keepAliveMsecs: TCP keep-alive probes after 30 s idle, client-go's value (cloud load balancers drop quiet connections).
    const poolOptions = { keepAlive, keepAliveMsecs: 30_000, scheduling: 'lifo' as const };
    if (proxyUrl) {
      // Proxies are rare: their agents load only when a kubeconfig names one.
      const material = { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) };
      if (/^socks/i.test(proxyUrl)) {
        const { SocksProxyAgent } = await import('socks-proxy-agent');
        return new SocksProxyAgent(proxyUrl, { ...poolOptions, ...tlsOptions, ...material });
      }
      const { HttpProxyAgent, HttpsProxyAgent } = await import('hpagent');
      return this.secure ? new HttpsProxyAgent({ proxy: proxyUrl, ...poolOptions, ...tlsOptions, ...material }) : new HttpProxyAgent({ proxy: proxyUrl, ...poolOptions });
    }
    if (!this.secure) return new http.Agent(poolOptions);
    const secureContext = createSecureContext({ ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}) });
    return new https.Agent({ ...poolOptions, ...tlsOptions, secureContext });
  }

  private transportError(method: string, path: string, error: unknown, abortSignal: AbortSignal | undefined, timeoutInMs: number | undefined, timeout?: AbortSignal): unknown {
    if (abortSignal?.aborted) return abortSignal.reason;
    if (error instanceof KubeApiError || error instanceof AksEvidenceError) return error;
    if (timeoutInMs !== undefined && timeout?.aborted) return timedOut(method, path, timeoutInMs, error);
    return new KubeApiError({ status: 0, path, message: `${method} ${path} failed: ${transportMessage(error)}` }, { cause: error });
  }
}

function request(secure: boolean, url: string, options: https.RequestOptions, body: string | undefined): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(url, options, resolve);
    req.once('error', reject);
    req.end(body);
  });
}

/** Give the permit back once the response is over: read to its end, destroyed, or broken. */
function holdUntilDone(response: IncomingMessage, release: ReleasePermit): void {
  if (response.destroyed || response.complete) {
    release();
    return;
  }
  response.once('close', release);
  response.once('end', release);
  response.once('error', release);
}

async function readBody(response: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of response as AsyncIterable<Buffer>) chunks.push(chunk);
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** Our own per-request time limit ran out (not the caller's abort): an expected failure, reported as a timeout gap. */
function timedOut(method: string, path: string, timeoutInMs: number, cause: unknown): KubeApiError {
  return new KubeApiError({ status: 0, path, reason: 'Timeout', message: `${method} ${path}: no complete answer within ${timeoutInMs} ms` }, { cause });
}

function transportMessage(error: unknown): string {
  if (!isErrorLike(error)) return String(error);
  const cause = isErrorLike(error.cause) ? `: ${error.cause.message}` : '';
  return `${error.message}${cause}`;
}

/** Build a KubeApiError from an error response (a Kubernetes Status body when there is one). */
export function kubeApiErrorFromResponse(method: string, path: string, status: number, bodyText: string, retryAfter: string | null | undefined): KubeApiError {
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
