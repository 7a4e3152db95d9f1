import type WebSocket from 'ws';
import { KubeApi } from './kubeApi.js';
import type { KubeConfigLike } from './kubeConfig.js';
import { abortReason, isRetryableNetworkError, isRetryableStatus, type RetryClassification } from './retry.js';
import { AksEvidenceError } from '../util/errors.js';

/** One command run in a container through the exec API: the request, options and outcome types, and execInPod (below). */

export interface PodExecRequest {
  namespace: string;
  pod: string;
  container: string;
  command: string[];
}

export interface PodExecOptions {
  /** stdout bytes, in order, as they arrive. A throw ends the exec (the socket is closed). */
  onStdout: (chunk: Buffer) => void;
  abortSignal?: AbortSignal;
  /** Per-exec time limit in ms (default 30000). */
  timeoutInMs?: number;
  /** stderr bytes kept for the outcome (default 2048). */
  maxStderrBytes?: number;
}

export type PodExecEnd =
  /** The status channel reported success (exit code 0). */
  | 'success'
  /** The command ran and exited non-zero. */
  | 'non-zero-exit'
  /** The runtime could not start the command (e.g. the binary is missing). */
  | 'start-failed'
  /** The socket closed without a status. */
  | 'closed-without-status';

export interface PodExecResult {
  end: PodExecEnd;
  exitCode?: number;
  /** The status message (secret-free: runtime messages name paths and exit codes). */
  message?: string;
  stderr: string;
  stdoutBytes: number;
  /** The subprotocol the server chose. */
  protocol: string;
  durationMs: number;
}

/** The exec could not even start: the upgrade was refused (HTTP status) or the connection failed. */
export class PodExecUpgradeError extends AksEvidenceError {
  override name = 'PodExecUpgradeError';
  constructor(
    readonly status: number | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_EXEC_UPGRADE', message, options);
  }

  /** Nothing ran yet, so 429, 5xx and connection failures are safe to retry. */
  retryClassification(): RetryClassification {
    if (this.status !== undefined) return { retryable: isRetryableStatus(this.status) };
    const cause = this.cause as { error?: unknown } | undefined;
    return { retryable: isRetryableNetworkError(cause?.error ?? cause) };
  }
}

/** The exec ran out of time (per-exec timeout). */
export class PodExecTimeoutError extends AksEvidenceError {
  override name = 'PodExecTimeoutError';
  constructor(
    readonly timeoutInMs: number,
    readonly stdoutBytes: number,
  ) {
    super('ERR_EXEC_TIMEOUT', `exec timed out after ${timeoutInMs} ms`);
  }
}

/** The exec status channel's document (a meta/v1 Status; only what the outcome needs). */
export interface V1Status {
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { causes?: { reason?: string; message?: string; field?: string }[] };
}

/** Exit code of an exec status: 0 on Success, the ExitCode cause on NonZeroExitCode. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message !== undefined && /^\d+$/.test(cause.message)) return Number(cause.message);
  return undefined;
}

/** The exec subprotocols offered, newest first: v5 adds CLOSE frames; v4 is the oldest with a JSON status channel (every supported AKS version speaks both). */
export const EXEC_PROTOCOLS = ['v5.channel.k8s.io', 'v4.channel.k8s.io'];
const STDOUT = 1;
const STDERR = 2;
const STATUS = 3;

/** The message of a Kubernetes Status body, one line, at most 300 characters; undefined when the body is not one. */
function statusMessageOf(body: string): string | undefined {
  try {
    const status = JSON.parse(body) as { kind?: unknown; message?: unknown };
    if (status.kind !== 'Status' || typeof status.message !== 'string') return undefined;
    return status.message.replace(/\s+/g, ' ').trim().slice(0, 300);
  } catch {
    return undefined;
  }
}

function upgradeStatus(error: unknown): number | undefined {
  const message = (error as { message?: unknown } | null)?.message;
  const m = typeof message === 'string' ? /Unexpected server response: (\d{3})/.exec(message) : null;
  return m ? Number(m[1]) : undefined;
}

/** wss://server/api/v1/namespaces/<ns>/pods/<pod>/exec?command=..&container=..&stdout=true&stderr=true */
function execUrl(server: string, request: PodExecRequest): string {
  const query = new URLSearchParams({ container: request.container, stdin: 'false', stdout: 'true', stderr: 'true', tty: 'false' });
  for (const part of request.command) query.append('command', part);
  const base = server.replace(/\/+$/, '').replace(/^http/, 'ws');
  return `${base}/api/v1/namespaces/${encodeURIComponent(request.namespace)}/pods/${encodeURIComponent(request.pod)}/exec?${query.toString()}`;
}

/** ws loads with the first exec: a collection without command history never pays for it. */
let wsModule: Promise<typeof WebSocket> | undefined;
const loadWs = (): Promise<typeof WebSocket> => (wsModule ??= import('ws').then((m) => m.default));

/**
 * Run one command in a container over the exec WebSocket (channel protocol v5 or v4),
 * authenticated like every Kubernetes request (KubeApi: token, client certificate, exec
 * credential plugin, Entra, proxy), on the cluster's pooled TLS setup, holding one permit of
 * the cluster's load budget until the socket has closed.
 *
 * Written on `ws` rather than client-node's Exec: that one needs a handler bound to streams
 * per call (its default closes process.stdout on a v5 CLOSE frame and throws inside the
 * socket's message event on an unknown channel or an unreadable status), and on thousands
 * of history execs its stream plumbing cost more CPU than the frames themselves.
 *
 * Channels: 1 stdout (to onStdout, in order), 2 stderr (kept, bounded), 3 status (a V1Status:
 * it ends the exec), 255 v5 CLOSE (ignored: the status or the socket's close ends the exec),
 * anything else ignored. A socket that closes without a status (pod killed, connection
 * reset) ends the exec as 'closed-without-status'. The upgrade can be aborted; on abort or
 * time-out the socket is terminated.
 */
export async function execInPod(kc: KubeConfigLike, request: PodExecRequest, options: PodExecOptions): Promise<PodExecResult> {
  const api = KubeApi.for(kc);
  const maxStderr = options.maxStderrBytes ?? 2048;
  const [WebSocketClass, upgrade] = await Promise.all([loadWs(), api.upgradeOptions()]);
  const release = await api.budget.acquire(options.abortSignal);
  // The time limit starts once the exec may go: waiting for a permit is not the exec's time.
  const started = Date.now();
  const timeoutInMs = options.timeoutInMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutInMs);
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;
  if (signal.aborted) {
    release();
    throw abortError(signal, timeout, timeoutInMs, options, 0);
  }

  let stdoutBytes = 0;
  let stdoutError: unknown;
  const stderrParts: Buffer[] = [];
  let stderrBytes = 0;
  let status: V1Status | undefined;
  let statusError: unknown;
  let opened = false;

  let ws: WebSocket;
  try {
    ws = new WebSocketClass(execUrl(api.server, request), EXEC_PROTOCOLS, { headers: upgrade.headers as Record<string, string>, agent: upgrade.agent });
  } catch (error) {
    release();
    throw error;
  }
  ws.binaryType = 'nodebuffer';
  // The permit is the open connection's: it goes back when the socket has closed, not when the status arrived.
  ws.once('close', release);

  const outcome = new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      ws.terminate();
      reject(abortError(signal, timeout, timeoutInMs, options, stdoutBytes));
    };
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    const settle = (): void => signal.removeEventListener('abort', onAbort);

    ws.on('open', () => {
      opened = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      // Binary frames carry "<channel byte><payload>"; text frames belong to the base64 protocol, which is not offered.
      if (!isBinary || data.length < 1 || status !== undefined) return;
      const channel = data[0];
      if (channel === STDOUT) {
        if (data.length < 2 || stdoutError !== undefined) return;
        const chunk = data.subarray(1);
        stdoutBytes += chunk.length;
        try {
          options.onStdout(chunk);
        } catch (error) {
          stdoutError = error;
          settle();
          ws.terminate();
          resolve();
        }
      } else if (channel === STDERR) {
        if (stderrBytes < maxStderr) {
          const part = data.subarray(1, 1 + maxStderr - stderrBytes);
          stderrParts.push(Buffer.from(part));
          stderrBytes += part.length;
        }
      } else if (channel === STATUS) {
        try {
          status = JSON.parse(data.subarray(1).toString('utf8')) as V1Status;
        } catch (error) {
          statusError = error;
        }
        // The status ends the exec: close politely, do not wait for the close handshake.
        settle();
        ws.close();
        resolve();
      }
    });
    // A refused upgrade: read the API server's Status (who may not do what, where) instead of
    // ws's bare "Unexpected server response", so the gap names the refusal. Bounded to 8 KiB.
    ws.on('unexpected-response', (_req, res) => {
      const parts: Buffer[] = [];
      let size = 0;
      const refuse = (): void => {
        settle();
        const code = res.statusCode ?? 0;
        const said = statusMessageOf(Buffer.concat(parts).toString('utf8'));
        reject(
          new PodExecUpgradeError(
            code,
            `exec into ${request.namespace}/${request.pod} (${request.container}) failed: Unexpected server response: ${code}${said ? ` (${said})` : ''}`,
          ),
        );
        // Ends the handshake: the socket closes and the load-budget permit goes back ('close').
        ws.terminate();
      };
      res.on('data', (chunk: Buffer) => {
        if (size < 8192) parts.push(chunk.subarray(0, 8192 - size));
        size += chunk.length;
      });
      res.once('end', refuse);
      res.once('error', refuse);
    });
    ws.on('error', (error: Error) => {
      settle();
      ws.terminate();
      if (!opened) {
        const code = upgradeStatus(error);
        reject(new PodExecUpgradeError(code, `exec into ${request.namespace}/${request.pod} (${request.container}) failed: ${error.message}`, { cause: error }));
      } else resolve();
    });
    ws.on('close', () => {
      settle();
      resolve();
    });
  });
  await outcome;

  if (stdoutError !== undefined) throw stdoutError;
  const result: PodExecResult = {
    end: 'closed-without-status',
    stderr: Buffer.concat(stderrParts).toString('utf8'),
    stdoutBytes,
    protocol: ws.protocol,
    durationMs: Date.now() - started,
  };
  if (statusError !== undefined) {
    result.message = `unreadable status from the server: ${statusError instanceof Error ? statusError.message : String(statusError)}`;
    return result;
  }
  if (status) {
    const exitCode = exitCodeOf(status);
    if (status.message) result.message = status.message;
    if (exitCode === 0) {
      result.end = 'success';
      result.exitCode = 0;
    } else if (exitCode !== undefined) {
      result.end = 'non-zero-exit';
      result.exitCode = exitCode;
    } else {
      result.end = 'start-failed';
    }
  }
  return result;
}

function abortError(signal: AbortSignal, timeout: AbortSignal, timeoutInMs: number, options: PodExecOptions, stdoutBytes: number): unknown {
  return timeout.aborted && !options.abortSignal?.aborted ? new PodExecTimeoutError(timeoutInMs, stdoutBytes) : abortReason(signal);
}
