import { createHash } from 'node:crypto';
import { KubeApi } from '../../cluster/kubeApi.js';
import { isAbortError, withRetry } from '../../cluster/retry.js';
import type { CollectorAction, Gap } from '../../evidence/types.js';
import { toRfc3339 } from '../../util/time.js';
import { HISTORY_SHELLS, historyCommand } from './historyScript.js';
import { HistoryProtocolError, HistoryStreamParser, userOfHistoryFile, type HistoryEntry, type HistoryShell } from './historyParse.js';
import { consumeProduced, ItemQueue } from '../common/itemQueue.js';
import { execInPod, PodExecTimeoutError, PodExecUpgradeError, type PodExecResult } from '../../cluster/podExec.js';
import { describeContainerState, isRunning, iteratePods, podContainers, type PodContainer } from '../common/pods.js';
import { obj, str } from '../../util/values.js';
import { TaskPool } from '../common/taskPool.js';
import { clusterDataAction, clusterRead, kubeAccess, queueWeight, rowsIn, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { COMMAND_HISTORY_TABLE } from './table.js';

/**
 * Shell histories of root and /home/* users, read through the exec API (no kubectl, no file
 * copies): one exec of historyCommand() per running container, the next shell of
 * HISTORY_SHELLS tried only when the previous one does not exist. Execs run in parallel
 * (ctx.concurrency), each with a time limit. Every exec is reported as a CollectorAction so
 * investigators can tell the collector's execs from an attacker's in the audit log.
 *
 * Raw objects (stream 'files'): each history file as read (path, size, sha256, content),
 * content kept up to maxRawFileBytes.
 */

const SOURCE = 'commandhistory';

export interface CommandHistoryOptions {
  /** Time limit of one exec in ms (default 30000). */
  execTimeoutInMs?: number;
  /** History files up to this size keep their content in the raw artifact (default 4 MiB); larger ones keep size and sha256. */
  maxRawFileBytes?: number;
}

const MISSING_BINARY = /no such file or directory|executable file not found|not found in \$PATH|exec format error/i;

interface ContainerTarget {
  namespace: string;
  pod: string;
  container: PodContainer;
}

export function historyRow(target: { namespace: string; pod: string; container: string }, path: string, shell: HistoryShell, entry: HistoryEntry, collectedAt: string): Row {
  return {
    TimeGenerated: entry.commandTime ?? collectedAt,
    namespace: target.namespace,
    pod_name: target.pod,
    container_name: target.container,
    command: entry.command,
    history_file: path,
    shell,
    user: userOfHistoryFile(path),
    line_number: entry.lineNumber,
    command_time: entry.commandTime ?? null,
  };
}

/** Raw record of one history file, built while its bytes stream past. */
class RawFileRecorder {
  private hash = createHash('sha256');
  private parts: Buffer[] = [];
  private kept = 0;
  private overflow = false;
  constructor(
    readonly path: string,
    readonly size: number,
    private readonly maxBytes: number,
  ) {}

  add(chunk: Buffer): void {
    this.hash.update(chunk);
    if (this.overflow) return;
    if (this.kept + chunk.length > this.maxBytes) {
      this.overflow = true;
      this.parts = [];
      return;
    }
    this.parts.push(Buffer.from(chunk));
    this.kept += chunk.length;
  }

  record(target: { namespace: string; pod: string; container: string }, received: number): Record<string, unknown> {
    const content = Buffer.concat(this.parts);
    const utf8 = content.toString('utf8');
    const roundTrips = Buffer.from(utf8, 'utf8').equals(content);
    return {
      kind: 'HistoryFile',
      namespace: target.namespace,
      pod: target.pod,
      container: target.container,
      path: this.path,
      size: this.size,
      receivedBytes: received,
      sha256: this.hash.digest('hex'),
      ...(this.overflow
        ? { contentOmitted: `larger than ${this.maxBytes} bytes: every command is in the rows` }
        : roundTrips
          ? { encoding: 'utf8', content: utf8 }
          : { encoding: 'base64', content: content.toString('base64') }),
    };
  }
}

function runningTargets(pod: Record<string, unknown>): { running: PodContainer[]; notRunning: PodContainer[] } {
  const running: PodContainer[] = [];
  const notRunning: PodContainer[] = [];
  for (const c of podContainers(pod)) (isRunning(c.status) ? running : notRunning).push(c);
  return { running, notRunning };
}

export interface HistoryExecOutcome {
  /** The CollectorAction outcome of this exec; 'no-shell' means: try the next shell. */
  action: CollectorAction['outcome'];
  /** The gap to record, if any. */
  gap?: Gap['reason'];
  detail: string;
}

/**
 * What one finished history exec means. Pure, so every branch is testable without a runtime:
 *   the shell binary is missing      → no-shell (the next shell is tried)
 *   the runtime could not start it   → failed + exec-failed
 *   success, files read              → ok
 *   success, no files                → no-history + no-history gap
 *   non-zero exit, no status, garbled output → failed + exec-failed (rows already read are kept)
 */
export function historyExecOutcome(shell: string, result: PodExecResult, filesRead: number, protocolError?: Error): HistoryExecOutcome {
  const said = `${result.message ?? ''} ${result.stderr}`;
  const describe = [result.message, result.stderr.trim() ? `stderr: ${result.stderr.trim().slice(0, 300)}` : ''].filter(Boolean).join('; ') || 'no detail';
  const shellMissing =
    result.stdoutBytes === 0 &&
    MISSING_BINARY.test(said) &&
    (result.end === 'start-failed' || (result.end === 'non-zero-exit' && (result.exitCode === 126 || result.exitCode === 127)));
  if (shellMissing) return { action: 'no-shell', detail: `${shell} not found in the container` };
  if (result.end === 'start-failed') return { action: 'failed', gap: 'exec-failed', detail: `the runtime could not start ${shell}: ${describe}` };
  if (result.end === 'success' && !protocolError) {
    if (filesRead === 0) return { action: 'no-history', gap: 'no-history', detail: `${shell} ran; no shell history files under /root or /home/*` };
    return { action: 'ok', detail: `${filesRead} history file(s) read` };
  }
  const why =
    result.end === 'non-zero-exit'
      ? `exit code ${result.exitCode}: ${describe}`
      : result.end === 'closed-without-status'
        ? `the connection closed without a status: ${describe}`
        : describe;
  return { action: 'failed', gap: 'exec-failed', detail: `${protocolError ? `${protocolError.message}; ` : ''}${why}; ${filesRead} file(s) read before` };
}

export function createCommandHistorySource(options: CommandHistoryOptions = {}): SourceDefinition {
  const execTimeoutInMs = options.execTimeoutInMs ?? 30_000;
  const maxRawFileBytes = options.maxRawFileBytes ?? 4 * 1024 * 1024;

  async function* collect(ctx: SourceContext): AsyncGenerator<SourceItem> {
    const kc = KubeApi.for(ctx.kubeConfig).kubeConfig;
    const stop = new AbortController();
    const signal = ctx.abortSignal ? AbortSignal.any([ctx.abortSignal, stop.signal]) : stop.signal;
    // Weighed in rows: a history file's entries arrive as one 'rows' item.
    const queue = new ItemQueue<SourceItem>(Math.max(1000, ctx.concurrency * 64), queueWeight);
    const pool = new TaskPool(Math.max(1, ctx.concurrency));
    const forbidden = { execs: 0, namespaces: new Set<string>(), first: '' };
    let records = 0;

    const put = (item: SourceItem): void => {
      records += rowsIn(item);
      queue.put(item);
    };
    const gap = (g: Omit<Gap, 'source'>): void => put({ kind: 'gap', gap: { source: SOURCE, ...g } });
    const action = (a: Omit<CollectorAction, 'kind'>): void => put({ kind: 'action', action: { kind: 'exec', ...a } });

    /** One exec of one shell. Returns what to do next. */
    const execShell = async (t: ContainerTarget, shell: string): Promise<'next-shell' | 'done'> => {
      const target = { namespace: t.namespace, pod: t.pod, container: t.container.name };
      const where = { namespace: t.namespace, pod: t.pod, container: t.container.name, resource: `pods/exec ${t.namespace}/${t.pod} (${t.container.name})` };
      const command = historyCommand(shell);
      const at = toRfc3339(ctx.clock());
      const started = Date.now();
      let files = 0;
      let raw: RawFileRecorder | undefined;
      let protocolError: HistoryProtocolError | undefined;
      const parser = new HistoryStreamParser({
        onFile: (path, size) => {
          files++;
          raw = new RawFileRecorder(path, size, maxRawFileBytes);
        },
        onFileData: (_path, chunk) => raw?.add(chunk),
        onEntries: (path, fileShell, entries) => {
          const collectedAt = toRfc3339(ctx.clock());
          if (entries.length > 0) put({ kind: 'rows', rows: entries.map((entry) => historyRow(target, path, fileShell, entry, collectedAt)) });
        },
        onFileEnd: (_path, received) => {
          if (raw) put({ kind: 'raw', stream: 'files', object: raw.record(target, received) });
          raw = undefined;
        },
      });
      const finish = (outcome: CollectorAction['outcome'], extra: { exitCode?: number; detail?: string } = {}): void => {
        action({ at, namespace: t.namespace, pod: t.pod, container: t.container.name, command, outcome, durationMs: Date.now() - started, ...extra });
      };
      let result: PodExecResult;
      let attempts = 0;
      try {
        result = await withRetry(
          () => {
            attempts++;
            ctx.countRequest?.();
            return execInPod(kc, { namespace: t.namespace, pod: t.pod, container: t.container.name, command }, {
              abortSignal: signal,
              timeoutInMs: execTimeoutInMs,
              onStdout: (chunk) => {
                if (protocolError) return;
                try {
                  parser.push(chunk);
                } catch (error) {
                  if (error instanceof HistoryProtocolError) protocolError = error;
                  else throw error;
                }
              },
            });
          },
          { abortSignal: signal, maxAttempts: 4 },
        );
      } catch (error) {
        if (queue.isStopped || signal.aborted || isAbortError(error)) throw error;
        const retried = attempts > 1 ? ` (after ${attempts} attempts)` : '';
        if (error instanceof PodExecTimeoutError) {
          finish('failed', { detail: `timed out after ${execTimeoutInMs} ms` });
          gap({ reason: 'timeout', detail: `history exec did not finish within ${execTimeoutInMs} ms; ${error.stdoutBytes} bytes were read`, ...where });
          return 'done';
        }
        const upgrade = error instanceof PodExecUpgradeError ? error : (error as { lastError?: unknown }).lastError instanceof PodExecUpgradeError ? ((error as { lastError: PodExecUpgradeError }).lastError) : undefined;
        const status = upgrade?.status;
        if (status === 404) {
          finish('vanished', { detail: 'the pod no longer exists (HTTP 404)' });
          gap({ reason: 'pod-vanished', detail: 'pod deleted before its history could be read', ...where });
        } else if (status === 403) {
          finish('failed', { detail: 'refused: pods/exec forbidden (HTTP 403)' });
          forbidden.execs++;
          forbidden.namespaces.add(t.namespace);
          forbidden.first ||= upgrade?.message ?? '';
        } else if (status === 400) {
          finish('failed', { detail: 'refused: the container is not running (HTTP 400)' });
          gap({ reason: 'container-not-running', detail: 'container stopped before its history could be read (HTTP 400)', ...where });
        } else {
          const detail = `${error instanceof Error ? error.message : String(error)}${retried}`;
          finish('failed', { detail });
          gap({ reason: attempts > 1 && upgrade ? 'retries-exhausted' : 'exec-failed', detail, ...where });
        }
        return 'done';
      }

      // Flush the parser: a stream that stops inside a file is a protocol error (the kept rows stay).
      if (!protocolError && result.end !== 'start-failed') {
        try {
          parser.end();
        } catch (error) {
          if (error instanceof HistoryProtocolError) protocolError = error;
          else throw error;
        }
      }
      const outcome = historyExecOutcome(shell, result, files, protocolError);
      finish(outcome.action, { detail: outcome.detail, ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}) });
      if (outcome.gap) gap({ reason: outcome.gap, detail: outcome.detail, ...where });
      return outcome.action === 'no-shell' ? 'next-shell' : 'done';
    };

    const runContainer = async (t: ContainerTarget): Promise<void> => {
      try {
        for (const shell of HISTORY_SHELLS) {
          if ((await execShell(t, shell)) === 'done') return;
        }
        gap({
          reason: 'no-shell',
          detail: `no shell in the container (tried ${HISTORY_SHELLS.join(', ')}): its history cannot be read through exec`,
          namespace: t.namespace,
          pod: t.pod,
          container: t.container.name,
          resource: `pods/exec ${t.namespace}/${t.pod} (${t.container.name})`,
        });
      } catch (error) {
        if (queue.isStopped || signal.aborted || isAbortError(error)) return;
        throw error;
      }
    };

    const produce = async (): Promise<void> => {
      for await (const event of iteratePods({ ...ctx, abortSignal: signal }, SOURCE, { sharded: true })) {
        if (signal.aborted || pool.failed) break;
        if (event.kind !== 'object') {
          await queue.putAndWait(event);
          continue;
        }
        const pod = event.object;
        const metadata = obj(pod.metadata);
        const namespace = str(metadata.namespace);
        const name = str(metadata.name);
        const { running, notRunning } = runningTargets(pod);
        for (const c of notRunning) {
          gap({
            reason: 'container-not-running',
            detail: `history not read: container ${describeContainerState(c.status)} (exec needs a running container)`,
            namespace,
            pod: name,
            container: c.name,
            resource: `pods/exec ${namespace}/${name} (${c.name})`,
          });
        }
        if (queue.full) await queue.room();
        for (const container of running) await pool.run(() => runContainer({ namespace, pod: name, container }));
      }
      await pool.drain();
      if (forbidden.execs > 0) {
        gap({
          reason: 'forbidden',
          detail: `pods/exec was refused for ${forbidden.execs} container(s) in namespace(s) ${[...forbidden.namespaces].sort().join(', ')}: ${forbidden.first}`,
          resource: 'pods/exec',
        });
      }
    };

    let lastProgress = 0;
    yield* consumeProduced(queue, produce, stop, () => {
      if (ctx.progress && records - lastProgress >= 1000) {
        lastProgress = records;
        ctx.progress({ source: SOURCE, records });
      }
    });
    if (ctx.abortSignal?.aborted) throw ctx.abortSignal.reason;
  }

  return {
    name: SOURCE,
    description:
      'Shell histories (bash, zsh, ash, sh) of root and /home/* users, read through the exec API from every running container; every exec is recorded.',
    tables: [COMMAND_HISTORY_TABLE],
    kubernetesAccess: [kubeAccess('list', 'pods'), kubeAccess('create', 'pods', { subresource: 'exec' })],
    azurePermissions: [
      clusterRead('pods', 'list pods'),
      // Azure RBAC cannot restrict which command runs: a template switch.
      clusterDataAction('pods/exec/action', 'exec one read-only command per container to read shell history', 'allowExecForShellHistory'),
    ],
    sharding: 'pods',
    collect,
  };
}

export const commandHistorySource: SourceDefinition = createCommandHistorySource();
