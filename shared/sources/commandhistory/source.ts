import { createHash } from 'node:crypto';
import { KubeApi } from '../../cluster/kubeApi.js';
import { isAbortError, withRetry } from '../../cluster/retry.js';
import type { CollectorAction, Gap } from '../../evidence/types.js';
import { toRfc3339 } from '../../util/time.js';
import { HISTORY_SHELLS, historyCommand } from './historyScript.js';
import { HistoryProtocolError, HistoryStreamParser, userOfHistoryFile, type HistoryEntry, type HistoryShell } from './historyParse.js';
import { consumeProduced, ItemQueue } from '../common/itemQueue.js';
import { execInPod, PodExecTimeoutError, PodExecUpgradeError, type PodExecResult } from '../../cluster/podExec.js';
import { isRunning, iteratePods, podContainers, type PodContainer } from '../common/pods.js';
import { obj, str } from '../../util/values.js';
import { TaskPool } from '../common/taskPool.js';
import { clusterDataAction, clusterRead, kubeAccess, queueWeight, rowsIn, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { COMMAND_HISTORY_TABLE } from './table.js';

/**
 * Shell histories of root and /home/* users, read through the exec API (no kubectl, no file
 * copies): one exec of historyCommand() per running container, the next shell of
 * HISTORY_SHELLS tried only when the previous one does not exist. Execs run in parallel
 * (ctx.concurrency), each with a time limit. Every exec is reported as a CollectorAction so
 * investigators can tell the collector's execs from an attacker's in the audit log. An exec
 * cut mid-stream (the connection closed without a status) is retried once, as a second action;
 * what the retry repeats of the first one's output is dropped by exact match.
 *
 * A container without a shell, without a history file, or not running is coverage (counted in
 * the task's coverage item), not a gap: nothing failed. Gaps name what could not be read.
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

/** What the source saw of the containers of its pods: the task summary's coverage item. */
export interface HistoryCoverage {
  /** Containers of the pods listed. */
  containers: number;
  /** Containers whose history exec ran to the end (with or without history files). */
  read: number;
  withHistory: number;
  withoutHistory: number;
  /** No shell to run the read in (distroless): no shell history can exist there. */
  withoutShell: number;
  /** Not running when listed: exec is impossible. */
  notRunning: number;
  /** Containers with a gap (exec refused, failed, timed out, pod gone). */
  failed: number;
  historyFiles: number;
  /** Execs cut mid-stream and retried. */
  retried: number;
}

/**
 * The history a first exec delivered before it was cut: its entries and raw file records, so
 * the retry hands over only what the first did not (exact match). References only: nothing is
 * copied on the healthy path.
 */
class DeliveredHistory {
  readonly entries = new Map<string, HistoryEntry[]>();
  readonly fileHashes = new Set<string>();
  /** The retry received output of its own. */
  retryRead = false;
  private keys: Set<string> | undefined;

  note(path: string, entries: readonly HistoryEntry[]): void {
    const list = this.entries.get(path);
    if (list) list.push(...entries);
    else this.entries.set(path, [...entries]);
  }

  /** The entries of `path` not delivered before. */
  fresh(path: string, entries: HistoryEntry[]): HistoryEntry[] {
    this.keys ??= new Set([...this.entries].flatMap(([p, list]) => list.map((e) => entryKey(p, e))));
    return entries.filter((e) => !this.keys!.has(entryKey(path, e)));
  }
}

function entryKey(path: string, e: HistoryEntry): string {
  return `${path}\n${e.lineNumber}\n${e.commandTime ?? ''}\n${e.command}`;
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
 *   success, no files                → no-history (coverage, not a gap)
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
    if (filesRead === 0) return { action: 'no-history', detail: `${shell} ran; no shell history files under /root or /home/*` };
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
    const coverage: HistoryCoverage = { containers: 0, read: 0, withHistory: 0, withoutHistory: 0, withoutShell: 0, notRunning: 0, failed: 0, historyFiles: 0, retried: 0 };
    let records = 0;

    const put = (item: SourceItem): void => {
      records += rowsIn(item);
      queue.put(item);
    };
    const gap = (g: Omit<Gap, 'source'>): void => put({ kind: 'gap', gap: { source: SOURCE, ...g } });
    const action = (a: Omit<CollectorAction, 'kind'>): void => put({ kind: 'action', action: { kind: 'exec', ...a } });

    /**
     * One exec of one shell. Returns what to do next: 'retry' after a first exec cut mid-stream
     * (`before` then holds what it delivered, for the retry to skip).
     */
    const execShell = async (
      t: ContainerTarget,
      shell: string,
      before?: DeliveredHistory,
    ): Promise<'next-shell' | 'done' | 'failed' | { retry: DeliveredHistory; flush: () => void }> => {
      const retrying = before !== undefined;
      const delivered = retrying ? undefined : new DeliveredHistory();
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
        onEntries: (path, fileShell, parsed) => {
          const collectedAt = toRfc3339(ctx.clock());
          const entries = before ? before.fresh(path, parsed) : parsed;
          delivered?.note(path, entries);
          if (entries.length > 0) put({ kind: 'rows', rows: entries.map((entry) => historyRow(target, path, fileShell, entry, collectedAt)) });
        },
        onFileEnd: (_path, received) => {
          if (raw) {
            const record = raw.record(target, received);
            const key = `${String(record['path'])}\n${String(record['sha256'])}`;
            // The retry reads again a file the first exec already recorded whole: recorded once.
            if (!before?.fileHashes.has(key)) put({ kind: 'raw', stream: 'files', object: record });
            delivered?.fileHashes.add(key);
          }
          raw = undefined;
        },
      });
      const finish = (outcome: CollectorAction['outcome'], extra: { exitCode?: number; detail?: string } = {}): void => {
        action({
          at,
          namespace: t.namespace,
          pod: t.pod,
          container: t.container.name,
          command,
          outcome,
          ...(retrying ? { attempt: 2 } : {}),
          durationMs: Date.now() - started,
          ...extra,
        });
      };
      const failed = (reason: Gap['reason'], detail: string): 'failed' => {
        gap({ reason, detail, ...where });
        return 'failed';
      };
      let result: PodExecResult;
      let attempts = 0;
      try {
        result = await withRetry(
          () => {
            attempts++;
            ctx.countRequest?.();
            return execInPod(
              kc,
              { namespace: t.namespace, pod: t.pod, container: t.container.name, command },
              {
                abortSignal: signal,
                timeoutInMs: execTimeoutInMs,
                onStdout: (chunk) => {
                  if (before) before.retryRead = true;
                  if (protocolError) return;
                  try {
                    parser.push(chunk);
                  } catch (error) {
                    if (error instanceof HistoryProtocolError) protocolError = error;
                    else throw error;
                  }
                },
              },
            );
          },
          { abortSignal: signal, maxAttempts: 4 },
        );
      } catch (error) {
        if (queue.isStopped || signal.aborted || isAbortError(error)) throw error;
        const retried = attempts > 1 ? ` (after ${attempts} attempts)` : '';
        if (error instanceof PodExecTimeoutError) {
          finish('failed', { detail: `timed out after ${execTimeoutInMs} ms` });
          return failed('timeout', `history exec did not finish within ${execTimeoutInMs} ms; ${error.stdoutBytes} bytes were read`);
        }
        const upgrade =
          error instanceof PodExecUpgradeError
            ? error
            : (error as { lastError?: unknown }).lastError instanceof PodExecUpgradeError
              ? (error as { lastError: PodExecUpgradeError }).lastError
              : undefined;
        const status = upgrade?.status;
        if (status === 404) {
          finish('vanished', { detail: 'the pod no longer exists (HTTP 404)' });
          return failed('pod-vanished', 'pod deleted before its history could be read');
        } else if (status === 403) {
          finish('failed', { detail: 'refused: pods/exec forbidden (HTTP 403)' });
          forbidden.execs++;
          forbidden.namespaces.add(t.namespace);
          forbidden.first ||= upgrade?.message ?? '';
          return 'failed';
        } else if (status === 400) {
          finish('failed', { detail: 'refused: the container is not running (HTTP 400)' });
          return failed('container-not-running', 'container stopped before its history could be read (HTTP 400)');
        }
        const detail = `${error instanceof Error ? error.message : String(error)}${retried}`;
        finish('failed', { detail });
        return failed(attempts > 1 && upgrade ? 'retries-exhausted' : 'exec-failed', detail);
      }

      const flush = (): void => {
        try {
          parser.end();
        } catch (error) {
          if (error instanceof HistoryProtocolError) protocolError ??= error;
          else throw error;
        }
      };
      if (result.end === 'closed-without-status' && delivered && !protocolError) {
        // Cut mid-stream: once more, as a second collector action. The rows of complete lines
        // stay; the part of a file cut short is held back (the retry reads it whole), and
        // flushed only if the retry brings nothing.
        coverage.retried++;
        const stderr = result.stderr.trim() ? `; stderr: ${result.stderr.trim().slice(0, 300)}` : '';
        finish('failed', { detail: `the connection closed without a status after ${result.stdoutBytes} bytes (${files} file(s) begun)${stderr}; retried once` });
        return { retry: delivered, flush };
      }
      // Flush the parser: a stream that stops inside a file is a protocol error (the kept rows stay).
      if (!protocolError && result.end !== 'start-failed') flush();
      const outcome = historyExecOutcome(shell, result, files, protocolError);
      const exitCode = result.exitCode !== undefined ? { exitCode: result.exitCode } : {};
      finish(outcome.action, { detail: retrying && outcome.gap ? `${outcome.detail} (on the retry)` : outcome.detail, ...exitCode });
      if (outcome.action === 'no-shell') return 'next-shell';
      if (outcome.gap) return failed(outcome.gap, retrying ? `${outcome.detail} (on the retry: the first exec was cut mid-stream)` : outcome.detail);
      if (outcome.action === 'no-history') coverage.withoutHistory++;
      else {
        coverage.withHistory++;
        coverage.historyFiles += files;
      }
      coverage.read++;
      return 'done';
    };

    const runContainer = async (t: ContainerTarget): Promise<void> => {
      try {
        for (const shell of HISTORY_SHELLS) {
          let next = await execShell(t, shell);
          if (typeof next === 'object') {
            const first = next;
            next = await execShell(t, shell, first.retry);
            // The retry read nothing: keep the first exec's part of the file it was cut in.
            if (next === 'failed' && !first.retry.retryRead) first.flush();
          }
          if (next === 'failed') coverage.failed++;
          if (next !== 'next-shell') return;
        }
        // No shell (tried every one of HISTORY_SHELLS, each recorded as a no-shell action): coverage.
        coverage.withoutShell++;
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
        coverage.containers += running.length + notRunning.length;
        // Exec needs a running container: not an item that could have been read.
        coverage.notRunning += notRunning.length;
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
      if (!signal.aborted) put({ kind: 'coverage', coverage: { [SOURCE]: { ...coverage } } });
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
    description: 'Shell histories (bash, zsh, ash, sh) of root and /home/* users, read through the exec API from every running container; every exec is recorded.',
    tables: [COMMAND_HISTORY_TABLE],
    // A WebSocket exec is an upgraded GET: Kubernetes up to 1.34 authorizes it as `get pods/exec`,
    // 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) also requires `create`: review both.
    kubernetesAccess: [kubeAccess('list', 'pods'), kubeAccess('get', 'pods', { subresource: 'exec' }), kubeAccess('create', 'pods', { subresource: 'exec' })],
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
