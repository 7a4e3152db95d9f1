import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import { readRunClaim, type ClaimedRun } from '../evidence/claim.js';
import { sha256Hex } from '../evidence/hash.js';
import { readSmallArtifact } from '../evidence/manifest.js';
import { createNdjsonArtifact } from '../evidence/ndjson.js';
import type { ArtifactRef, ClusterIdentity, CollectionRequestRecord, CollectorAction, EvidenceStore, Gap, SourceStatus, StreamResume } from '../evidence/types.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import { rowsIn, rowsTable, type AzureSourceAccess, type ProgressEvent, type SourceContext } from '../sources/types.js';
import { AksEvidenceError, describeError } from '../util/errors.js';
import { redactRawObject } from '../util/valueRedaction.js';
import { redactSecrets } from '../util/redact.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { shardLabel } from './plan.js';
import { taskStatus, type FailureCause } from './status.js';
import type { CollectTask, CollectTaskResult } from './types.js';
import { appendAll } from '../util/arrays.js';

export interface CollectTaskContext {
  store: EvidenceStore;
  kubeConfig: KubeConfigLike;
  runId: string;
  caseId: string;
  request: CollectionRequestRecord;
  cluster: ClusterIdentity;
  clock?: Clock;
  abortSignal?: AbortSignal;
  progress?: (event: ProgressEvent) => void;
  /** Max concurrent API requests inside the source (default request.concurrency ?? 16). */
  concurrency?: number;
  /** Azure access for sources that declare needs: ['azure'] (the audit log); absent in a kubeconfig run. */
  azure?: AzureSourceAccess;
  /** The sources (default SOURCES). */
  registry?: SourceRegistry;
  /** The run's claim on the store's path (read from the store when absent: one small read). */
  claim?: ClaimedRun;
}

/** The summary artifact of one task: every gap and collector action in full. */
export interface CollectTaskSummary {
  schemaVersion: 1;
  runId: string;
  /** The run's claim nonce: a retried task adopts a summary only when it carries its run's nonce. */
  claimNonce: string;
  source: string;
  shard?: string;
  status: SourceStatus;
  /** Why the task is failed (status.ts). */
  failedBecause?: FailureCause;
  records: number;
  rawObjects: number;
  apiRequests: number;
  gaps: Gap[];
  actions: CollectorAction[];
  /** Log streams resumed after a cut or a stall (absent when none). */
  resumes?: StreamResume[];
  coverage: Record<string, unknown>[];
  artifacts: ArtifactRef[];
  startedAt: string;
  endedAt: string;
}

const NDJSON = 'application/x-ndjson';
const GAP_PREVIEW = 5;

/** Artifact base path of a task attempt: sources/<source>/<shard|all>[.attempt-N]. */
function basePath(task: CollectTask, attempt: number): string {
  const name = shardLabel(task) ?? 'all';
  return `sources/${task.source}/${name}${attempt > 1 ? `.attempt-${attempt}` : ''}`;
}

/**
 * Run one collect task: stream the source's rows and raw objects into write-once NDJSON
 * artifacts, then write a summary artifact holding every gap and collector action.
 *
 * Idempotent under retry: a task whose summary already exists returns it unchanged; a task
 * whose earlier attempt died midway writes under a new ".attempt-N" name, leaving the
 * earlier artifacts untouched (evidence is never overwritten). Expected failures are gaps;
 * an unexpected error still commits what was collected, and the task reports 'failed'.
 */
export async function runCollectTask(task: CollectTask, ctx: CollectTaskContext): Promise<CollectTaskResult> {
  const source = (ctx.registry ?? SOURCES).get(task.source);
  const clock = ctx.clock ?? systemClock;
  const shard = shardLabel(task);

  const { claim } = ctx.claim ?? (await readRunClaim(ctx.store));
  if (claim.runId !== ctx.runId)
    throw new AksEvidenceError('ERR_RUN_NOT_CLAIMED', `${ctx.store.location} is claimed by run ${claim.runId}, not ${ctx.runId}: refusing to write into it`);

  // A retried task returns its finished summary (zero API requests) only when the summary is
  // provably this run's: it carries the run's claim nonce, and its hash is computed from the
  // bytes read now. Anything else at a task's names (an attempt that died midway, or an object
  // this run did not write) is left untouched: the task writes its next ".attempt-N".
  let attempt = 1;
  for (;;) {
    const base = basePath(task, attempt);
    const summaryPath = `${base}.summary.json`;
    if (await ctx.store.stat(summaryPath)) {
      const own = await readOwnSummary(ctx.store, summaryPath, claim.nonce, ctx.runId, task);
      if (own) return own;
    } else if (!(await ctx.store.stat(`${base}.rows.ndjson.gz`))) {
      break;
    }
    attempt++;
  }
  const base = basePath(task, attempt);
  const startedAt = toRfc3339(clock());
  const table = rowsTable(source).name;

  const meta = (kind: string): Record<string, string> => ({
    runId: ctx.runId,
    caseId: ctx.caseId,
    source: task.source,
    kind,
    ...(shard ? { shard } : {}),
  });
  const rows = await createNdjsonArtifact(ctx.store, `${base}.rows.ndjson.gz`, {
    gzip: true,
    contentType: NDJSON,
    metadata: { ...meta('rows'), table },
  });
  const rawWriters = new Map<string, Awaited<ReturnType<typeof createNdjsonArtifact>>>();
  const envValues = ctx.request.envValues ?? 'hash';
  const gaps: Gap[] = [];
  const actions: CollectorAction[] = [];
  const coverage: Record<string, unknown>[] = [];
  const resumes: StreamResume[] = [];
  let records = 0;
  let rawObjects = 0;
  let apiRequests = 0;
  let failure: unknown;

  const sourceCtx: SourceContext = {
    kubeConfig: ctx.kubeConfig,
    cluster: ctx.cluster,
    runId: ctx.runId,
    sinceSeconds: ctx.request.sinceSeconds,
    namespaces: {
      ...(ctx.request.namespaces?.length ? { include: ctx.request.namespaces } : {}),
      ...(ctx.request.excludeNamespaces?.length ? { exclude: ctx.request.excludeNamespaces } : {}),
    },
    concurrency: ctx.concurrency ?? ctx.request.concurrency ?? 16,
    ...(task.shard ? { shard: task.shard } : {}),
    ...(ctx.request.priorityPods?.length ? { priorityPods: ctx.request.priorityPods } : {}),
    ...(ctx.request.priorityNamespaces?.length ? { priorityNamespaces: ctx.request.priorityNamespaces } : {}),
    ...(ctx.request.priorityNodes?.length ? { priorityNodes: ctx.request.priorityNodes } : {}),
    ...(ctx.azure ? { azure: ctx.azure } : {}),
    ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}),
    clock,
    ...(ctx.progress ? { progress: ctx.progress } : {}),
    ...(ctx.request.logIdleTimeoutSeconds !== undefined ? { logIdleTimeoutInMs: ctx.request.logIdleTimeoutSeconds * 1000 } : {}),
    countRequest: () => {
      apiRequests++;
    },
  };

  try {
    for await (const item of source.collect(sourceCtx)) {
      switch (item.kind) {
        case 'row':
        case 'rows':
        case 'rowsJson':
        case 'rowsNdjson': {
          if (item.kind === 'row') await rows.write(item.row);
          else if (item.kind === 'rows') await rows.writeMany(item.rows);
          else if (item.kind === 'rowsJson') await rows.writeSerialized(item.json);
          else await rows.writeNdjson(item.bytes, item.rows, item.release);
          const before = records;
          records += rowsIn(item);
          // Progress every 10,000 rows, however the rows were grouped.
          if (ctx.progress && Math.floor(records / 10_000) > Math.floor(before / 10_000)) ctx.progress({ source: task.source, records });
          break;
        }
        case 'raw': {
          const stream = safeStreamName(item.stream ?? 'raw');
          let writer = rawWriters.get(stream);
          if (!writer) {
            writer = await createNdjsonArtifact(ctx.store, `${base}.${stream}.ndjson.gz`, {
              gzip: true,
              contentType: NDJSON,
              metadata: { ...meta('raw'), stream },
            });
            rawWriters.set(stream, writer);
          }
          // Env values and serialized annotations never reach the bundle unless the request keeps them.
          await writer.write(redactRawObject(item.object, envValues));
          rawObjects++;
          break;
        }
        case 'gap':
          // Gap details quote API errors, which may quote URLs: one redaction before they are kept.
          gaps.push({ ...item.gap, detail: redactSecrets(item.gap.detail) });
          break;
        case 'action':
          actions.push(item.action);
          break;
        case 'coverage':
          coverage.push(item.coverage);
          break;
        case 'resume':
          resumes.push(item.resume);
          break;
      }
    }
  } catch (error) {
    failure = error;
    gaps.push({
      source: task.source,
      reason: isAbort(error) ? 'timeout' : 'error',
      detail: `collection stopped early: ${describeError(error)}; everything collected before it is kept`,
    });
  }

  // Commit what was collected, even after a failure: partial evidence beats none.
  const artifacts: ArtifactRef[] = [];
  const rowsWritten = await rows.close();
  artifacts.push({
    path: rowsWritten.path,
    source: task.source,
    kind: 'rows',
    sha256: rowsWritten.sha256,
    bytes: rowsWritten.bytes,
    records: rowsWritten.records,
    contentType: NDJSON,
    contentEncoding: 'gzip',
    table,
    ...(shard ? { shard } : {}),
  });
  for (const writer of rawWriters.values()) {
    const w = await writer.close();
    artifacts.push({
      path: w.path,
      source: task.source,
      kind: 'raw',
      sha256: w.sha256,
      bytes: w.bytes,
      records: w.records,
      contentType: NDJSON,
      contentEncoding: 'gzip',
      ...(shard ? { shard } : {}),
    });
  }

  if (source.deriveArtifacts && failure === undefined) {
    try {
      appendAll(artifacts, await source.deriveArtifacts(ctx.store, artifacts));
    } catch (error) {
      failure = error;
      gaps.push({ source: task.source, reason: 'error', detail: `deriving rows from the collected artifacts failed: ${describeError(error)}; the collected artifacts are kept` });
    }
  }

  const { status, failedBecause } = taskStatus({ records, gaps, stoppedByError: failure !== undefined });
  const summary: CollectTaskSummary = {
    schemaVersion: 1,
    runId: ctx.runId,
    claimNonce: claim.nonce,
    source: task.source,
    ...(shard ? { shard } : {}),
    status,
    ...(failedBecause ? { failedBecause } : {}),
    records,
    rawObjects,
    apiRequests,
    gaps,
    actions,
    ...(resumes.length ? { resumes } : {}),
    coverage,
    artifacts,
    startedAt,
    endedAt: toRfc3339(clock()),
  };
  const summaryPath = `${base}.summary.json`;
  const written = await ctx.store.writeArtifact(summaryPath, JSON.stringify(summary, null, 2) + '\n', {
    contentType: 'application/json',
    metadata: meta('summary'),
  });
  for (const a of artifacts) await ctx.store.protect?.(a.path);
  await ctx.store.protect?.(summaryPath);
  return toResult(summary, {
    path: written.path,
    source: task.source,
    kind: 'other',
    sha256: written.sha256,
    bytes: written.bytes,
    records: 1,
    contentType: 'application/json',
    ...(shard ? { shard } : {}),
  });
}

function toResult(summary: CollectTaskSummary, summaryRef: ArtifactRef): CollectTaskResult {
  return {
    source: summary.source,
    ...(summary.shard ? { shard: summary.shard } : {}),
    status: summary.status,
    ...(summary.failedBecause ? { failedBecause: summary.failedBecause } : {}),
    records: summary.records,
    rawObjects: summary.rawObjects,
    gapCount: summary.gaps.length,
    actionCount: summary.actions.length,
    ...(summary.resumes?.length ? { resumeCount: summary.resumes.length } : {}),
    apiRequests: summary.apiRequests,
    artifacts: [...summary.artifacts, summaryRef],
    gapsPreview: summary.gaps.slice(0, GAP_PREVIEW),
    startedAt: summary.startedAt,
    endedAt: summary.endedAt,
  };
}

/** Read a task summary artifact back, with the SHA-256 of the bytes read. */
export async function readSummaryWithHash(store: EvidenceStore, path: string): Promise<{ summary: CollectTaskSummary; sha256: string; bytes: number }> {
  const bytes = await readSmallArtifact(store, path, 256 * 1024 * 1024);
  let summary: CollectTaskSummary;
  try {
    summary = JSON.parse(bytes.toString('utf8')) as CollectTaskSummary;
  } catch (error) {
    throw new AksEvidenceError('ERR_SUMMARY', `task summary ${path} in ${store.location} is not valid JSON`, { cause: error });
  }
  return { summary, sha256: sha256Hex(bytes), bytes: bytes.byteLength };
}

/** Read a task summary artifact back (sealing, or an idempotent retry). */
export async function readSummary(store: EvidenceStore, path: string): Promise<CollectTaskSummary> {
  return (await readSummaryWithHash(store, path)).summary;
}

/** True when a summary is this run's own: same run, same claim nonce. */
export function isOwnSummary(summary: Partial<CollectTaskSummary>, nonce: string, runId: string): boolean {
  return summary?.schemaVersion === 1 && summary.runId === runId && summary.claimNonce === nonce && Array.isArray(summary.artifacts);
}

async function readOwnSummary(store: EvidenceStore, path: string, nonce: string, runId: string, task: CollectTask): Promise<CollectTaskResult | undefined> {
  let read;
  try {
    read = await readSummaryWithHash(store, path);
  } catch {
    return undefined; // unreadable: not provably ours
  }
  const { summary, sha256, bytes } = read;
  if (!isOwnSummary(summary, nonce, runId) || summary.source !== task.source || summary.shard !== shardLabel(task)) return undefined;
  return toTaskResult(summary, path, sha256, bytes);
}

/** A task's result rebuilt from its summary (path, and the hash and size of the bytes read). */
export function toTaskResult(summary: CollectTaskSummary, path: string, sha256: string, bytes: number): CollectTaskResult {
  return { ...toResultOf(summary, path, sha256, bytes), reused: true };
}

function toResultOf(summary: CollectTaskSummary, path: string, sha256: string, bytes: number): CollectTaskResult {
  return toResult(summary, {
    path,
    source: summary.source,
    kind: 'other',
    sha256,
    bytes,
    records: 1,
    contentType: 'application/json',
    ...(summary.shard ? { shard: summary.shard } : {}),
  });
}

function safeStreamName(stream: string): string {
  return stream.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 120) || 'raw';
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}
