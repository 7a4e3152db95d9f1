import { PassThrough, Writable } from 'node:stream';
import { Exec, type KubeConfig, type V1Status } from '@kubernetes/client-node';
// Not re-exported by the package index; needed to bind the handler to this exec's own streams.
import { WebSocketHandler, type WebSocketInterface } from '@kubernetes/client-node/dist/web-socket-handler.js';
import WebSocket from 'ws';
import { pooledUpgradeOptions } from '../cluster/upgradeAgent.js';
import { abortReason, isRetryableNetworkError, isRetryableStatus, type RetryClassification } from '../cluster/retry.js';
import { AksEvidenceError } from '../util/errors.js';

/**
 * One command run in a container through the exec API (client-node's Exec over WebSocket,
 * channel protocol v5 or v4), stdout streamed to a callback, stderr kept (bounded), the
 * V1Status read from the status channel, and the socket's close awaited.
 *
 * Handled here, from client-node's code: the default WebSocketHandler closes
 * process.stdout/stderr on a v5 CLOSE frame and throws (uncaught, inside the socket's
 * message event) on channel 255 or an unparsable status, so each exec gets its own handler
 * bound to its own streams and a guarded binary handler; a socket that closes without a
 * status (pod killed, connection reset) ends the exec as 'closed-without-status'; the
 * upgrade itself cannot be aborted, so on abort we stop waiting and terminate the socket
 * as soon as it exists.
 */

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

/** Exit code of an exec status: 0 on Success, the ExitCode cause on NonZeroExitCode. */
export function exitCodeOf(status: V1Status): number | undefined {
  if (status.status === 'Success') return 0;
  const cause = status.details?.causes?.find((c) => c.reason === 'ExitCode');
  if (cause?.message !== undefined && /^\d+$/.test(cause.message)) return Number(cause.message);
  return undefined;
}

type ExecSocket = Awaited<ReturnType<WebSocketInterface['connect']>>;
/** WebSocket.CLOSED */
const SOCKET_CLOSED = 3;

class GuardedHandler implements WebSocketInterface {
  constructor(
    private readonly inner: WebSocketHandler,
    private readonly onProtocolError: (error: unknown) => void,
  ) {}

  connect(
    path: string,
    textHandler: ((text: string) => boolean) | null,
    binaryHandler: ((stream: number, buff: Buffer) => boolean) | null,
  ): Promise<ExecSocket> {
    return this.inner.connect(path, textHandler, (stream, buff) => {
      // CLOSE (255) frames were already applied to our streams by the handler; unknown channels are ignored.
      if (stream > WebSocketHandler.StatusStream) return true;
      try {
        return binaryHandler ? binaryHandler(stream, buff) : true;
      } catch (error) {
        this.onProtocolError(error);
        return false;
      }
    });
  }
}

function upgradeStatus(error: unknown): number | undefined {
  const message = (error as { message?: unknown } | null)?.message;
  const m = typeof message === 'string' ? /Unexpected server response: (\d{3})/.exec(message) : null;
  return m ? Number(m[1]) : undefined;
}

export async function execInPod(kc: KubeConfig, request: PodExecRequest, options: PodExecOptions): Promise<PodExecResult> {
  const started = Date.now();
  const timeoutInMs = options.timeoutInMs ?? 30_000;
  const timeout = AbortSignal.timeout(timeoutInMs);
  const signal = options.abortSignal ? AbortSignal.any([options.abortSignal, timeout]) : timeout;
  const maxStderr = options.maxStderrBytes ?? 2048;

  let stdoutBytes = 0;
  let stdoutError: unknown;
  const stderrParts: Buffer[] = [];
  let stderrBytes = 0;
  const stdout = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      stdoutBytes += chunk.length;
      if (stdoutError === undefined) {
        try {
          options.onStdout(chunk);
        } catch (error) {
          stdoutError = error;
        }
      }
      callback();
    },
  });
  const stderr = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (stderrBytes < maxStderr) {
        const part = chunk.subarray(0, maxStderr - stderrBytes);
        stderrParts.push(Buffer.from(part));
        stderrBytes += part.length;
      }
      callback();
    },
  });
  let protocolError: unknown;
  const handler = new WebSocketHandler(kc, (uri, protocols, opts) => new WebSocket(uri, protocols, pooledUpgradeOptions(kc, opts)), {
    stdin: new PassThrough(),
    stdout,
    stderr,
  });
  const exec = new Exec(kc, new GuardedHandler(handler, (e) => (protocolError = e)));

  let status: V1Status | undefined;
  let statusSeen: () => void = () => undefined;
  const statusReceived = new Promise<void>((resolve) => (statusSeen = resolve));
  let socket: ExecSocket | undefined;
  const connecting = exec.exec(request.namespace, request.pod, request.container, request.command, stdout, stderr, null, false, (s) => {
    status = s;
    statusSeen();
  });

  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = (): void => reject(timeout.aborted && !options.abortSignal?.aborted ? new PodExecTimeoutError(timeoutInMs, stdoutBytes) : abortReason(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  aborted.catch(() => undefined);

  try {
    try {
      socket = await Promise.race([connecting, aborted]);
    } catch (error) {
      if (signal.aborted) {
        connecting.then((s) => s.terminate(), () => undefined);
        throw error;
      }
      const code = upgradeStatus(error);
      const message = (error as { message?: unknown } | null)?.message;
      throw new PodExecUpgradeError(code, `exec into ${request.namespace}/${request.pod} (${request.container}) failed: ${typeof message === 'string' ? message : String(error)}`, { cause: error });
    }
    const ws = socket;
    // The status and the close may already have happened while the upgrade promise resolved.
    const closed = ws.readyState === SOCKET_CLOSED ? Promise.resolve() : new Promise<void>((resolve) => ws.addEventListener('close', () => resolve(), { once: true }));
    // The status ends the exec (client-node then closes the socket; its close handshake is not waited for).
    await Promise.race([closed, statusReceived, aborted]);
  } catch (error) {
    socket?.terminate();
    throw error;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }

  if (stdoutError !== undefined) throw stdoutError;
  const result: PodExecResult = {
    end: 'closed-without-status',
    stderr: Buffer.concat(stderrParts).toString('utf8'),
    stdoutBytes,
    protocol: socket.protocol,
    durationMs: Date.now() - started,
  };
  if (protocolError !== undefined && status === undefined) {
    result.message = `unreadable status from the server: ${protocolError instanceof Error ? protocolError.message : String(protocolError)}`;
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
