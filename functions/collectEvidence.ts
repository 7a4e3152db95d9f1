import * as df from 'durable-functions';
import type { OrchestrationContext, OrchestrationHandler, Task } from 'durable-functions';
import { planCollectTasks } from '../shared/pipeline/plan.js';
import { planWaves, requestShare, runBudget } from '../shared/pipeline/loadBudget.js';
import type { ClusterFacts } from '../shared/cluster/facts.js';
import type { CollectTaskResult, SealResult } from '../shared/pipeline/types.js';
import { auditLogState, buildRunOutput, failedTaskResult, runGapsPreview, sourceProgress, tablesWithRows } from '../shared/orchestration/progress.js';
import {
  FUNCTION_NAMES,
  type CollectionRunInput,
  type CollectionRunOutput,
  type CollectSourceInput,
  type IngestEvidenceInput,
  type IngestTableOutcome,
  type ResolveClusterInput,
  type RunCustomStatus,
  type SealEvidenceInput,
  type StopPreservationEvent,
  STOP_PRESERVATION_EVENT,
} from '../shared/orchestration/types.js';
import { initialPreservationState, preservationLoop, preservationStatus } from '../shared/orchestration/preservation.js';

/**
 * The collectEvidence orchestrator: resolveCluster → collectSource × each planned task (fan-out)
 * → sealEvidence once every task has finished (fan-in) → ingestEvidence × each table with rows
 * (when ingestion is configured) → the run summary.
 *
 * Deterministic: time only from context.df.currentUtcDateTime, no I/O, no environment; the
 * plan is a pure function of the input and the resolved facts. Histories stay small:
 * activities pass facts and artifact references, never evidence or credentials.
 */

/** Transient faults (ARM throttling, a dropped connection) get three attempts with backoff. */
export function activityRetry(): df.RetryOptions {
  const retry = new df.RetryOptions(5_000, 3);
  retry.backoffCoefficient = 2;
  retry.maxRetryIntervalInMilliseconds = 60_000;
  return retry;
}

/**
 * Wait for every task and keep every outcome. Task.all fails fast on the first task that
 * still fails after its retries, while the others keep running; then each remaining task is
 * awaited on its own. Yielding an already-scheduled task adds no new action, so the
 * orchestration's actions are the same whichever way the tasks finish, and replay stays
 * deterministic. Activities return expected failures as data, so this path is for faults.
 */
export function* settleAll<T>(context: OrchestrationContext, tasks: Task[], onFailure: (index: number, error: unknown) => T): Generator<Task, T[], unknown> {
  // Task.all refuses an empty list (e.g. only "audit" was asked for and it is not exported).
  if (tasks.length === 0) return [];
  try {
    return (yield context.df.Task.all(tasks)) as T[];
  } catch {
    const results: T[] = [];
    for (const [index, task] of tasks.entries()) {
      if (!task.isCompleted && !task.isFaulted) {
        try {
          yield task;
        } catch {
          // recorded below from task.result
        }
      }
      results.push(task.isCompleted ? (task.result as T) : onFailure(index, task.result));
    }
    return results;
  }
}

/**
 * Run tasks in waves (planWaves: shares within the budget, one kind of work per wave); the
 * next wave starts when every task of this one has finished. Waves rather than a sliding
 * window: a window re-yields running tasks in a new Task.any, and durable-functions can then
 * schedule them again (Azure/azure-functions-durable-js#574); a wave yields only fresh tasks.
 * Every outcome is kept, in plan order; a task that failed after its retries becomes
 * `onFailure(index, error)`.
 */
export function* runInWaves<T>(
  context: OrchestrationContext,
  waves: readonly (readonly number[])[],
  start: (index: number) => Task,
  onFailure: (index: number, error: unknown) => T,
  onWave?: (results: readonly (T | undefined)[]) => void,
): Generator<Task, T[], unknown> {
  const results: T[] = [];
  for (const wave of waves) {
    const outcomes = yield* settleAll<T>(context, wave.map(start), (i, error) => onFailure(wave[i]!, error));
    wave.forEach((index, i) => {
      results[index] = outcomes[i]!;
    });
    onWave?.(results);
  }
  return results;
}

export const collectEvidenceOrchestrator: OrchestrationHandler = function* (context: OrchestrationContext) {
  const input = context.df.getInput<CollectionRunInput>();
  // After the seal, a run asked to keep preserving continues as new into its preservation window (shared/orchestration/preservation.ts).
  if (input.preservation) return yield* preservationLoop(context, { ...input, preservation: input.preservation }, activityRetry());
  // A stop asked for while the run still collects is kept (it would be dropped by continue-as-new if nobody waited for it).
  const earlyStop = input.request.preserveForSeconds ? context.df.waitForExternalEvent(STOP_PRESERVATION_EVENT) : undefined;
  const now = () => context.df.currentUtcDateTime.toISOString();
  const startedAt = now();
  const { runId, request, cluster } = input;
  const caseId = request.caseId;
  const retry = activityRetry();
  const status = (s: Omit<RunCustomStatus, 'updatedAt'>) => context.df.setCustomStatus({ ...s, updatedAt: now() } satisfies RunCustomStatus);

  status({ phase: 'resolving' });
  // The claim nonce was drawn when the run started (runs started before it existed get a deterministic one).
  const claimNonce = input.claimNonce ?? context.df.newGuid(`${runId}/claim`).replace(/-/g, '');
  const resolveInput: ResolveClusterInput = {
    runId,
    caseId,
    cluster,
    request,
    claimNonce,
    startedAt,
    ...(input.previousAttempt ? { previousAttempt: input.previousAttempt } : {}),
    ...(input.podsPerShard ? { podsPerShard: input.podsPerShard } : {}),
  };
  const facts = (yield context.df.callActivityWithRetry(FUNCTION_NAMES.resolveCluster, retry, resolveInput)) as ClusterFacts;

  const tasks = planCollectTasks(request, facts, input.podsPerShard ? { podsPerShard: input.podsPerShard } : {});
  const clusterStatus = {
    auditLog: auditLogState(facts),
    runGaps: facts.gaps.length,
    ...(facts.gaps.length ? { gaps: runGapsPreview(facts) } : {}),
    ...(facts.podCount !== undefined ? { podCount: facts.podCount } : {}),
  };
  status({ phase: 'collecting', tasks: { total: tasks.length, finished: 0, failed: 0 }, sources: sourceProgress(tasks, []), ...clusterStatus });

  // The cluster's load budget, in shares: the activities of a wave never have more than
  // `budget` requests in flight between them, however many Function instances run them.
  const budget = runBudget(request.concurrency);
  const shares = tasks.map((task) => requestShare(task, budget));
  const startCollect = (index: number): Task => {
    const task = tasks[index]!;
    const collectInput: CollectSourceInput = {
      runId,
      caseId,
      cluster,
      authMode: facts.authMode,
      identity: facts.cluster,
      request,
      task,
      ...(shares[index] ? { requestShare: shares[index] } : {}),
      ...(facts.audit ? { audit: facts.audit } : {}),
    };
    return context.df.callActivityWithRetry(FUNCTION_NAMES.collectSource, retry, collectInput);
  };
  const waves = planWaves(tasks, shares, budget);
  const results = yield* runInWaves<CollectTaskResult>(
    context,
    waves,
    startCollect,
    (i, error) => failedTaskResult(tasks[i] ?? { source: 'unknown' }, error, now()),
    (byTask) => {
      const done = byTask.filter((r): r is CollectTaskResult => r !== undefined);
      if (done.length >= tasks.length) return;
      status({
        phase: 'collecting',
        tasks: { total: tasks.length, finished: done.length, failed: done.filter((r) => r.status === 'failed').length },
        sources: sourceProgress(tasks, byTask),
        ...clusterStatus,
      });
    },
  );
  const failed = results.filter((r) => r.status === 'failed').length;
  status({ phase: 'sealing', tasks: { total: tasks.length, finished: results.length, failed }, sources: sourceProgress(tasks, results), ...clusterStatus });

  const sealInput: SealEvidenceInput = { runId, caseId, request, facts, results, startedAt, sealedAt: now() };
  const seal = (yield context.df.callActivityWithRetry(FUNCTION_NAMES.sealEvidence, retry, sealInput)) as SealResult;
  const manifest = { location: seal.location, sha256: seal.manifestSha256 };

  let ingestion: IngestTableOutcome[] | undefined;
  if (input.ingest) {
    const tables = tablesWithRows(results);
    status({ phase: 'ingesting', tasks: { total: tasks.length, finished: results.length, failed }, sources: sourceProgress(tasks, results), ...clusterStatus, manifest });
    if (tables.length > 0) {
      const ingest = tables.map((table) => {
        const ingestInput: IngestEvidenceInput = { runId, caseId, clusterResourceId: cluster.resourceId, request, table, manifestSha256: seal.manifestSha256 };
        return context.df.callActivityWithRetry(FUNCTION_NAMES.ingestEvidence, retry, ingestInput);
      });
      ingestion = yield* settleAll<IngestTableOutcome>(context, ingest, (i, error) => ({
        table: tables[i] ?? 'unknown',
        status: 'failed',
        rowsSent: 0,
        rowsFailed: 0,
        detail: `ingest activity failed after every retry: ${(error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() ?? ''}`.slice(0, 500),
      }));
    } else {
      ingestion = [];
    }
  }

  const output: CollectionRunOutput = buildRunOutput({
    runId,
    caseId,
    clusterResourceId: cluster.resourceId,
    startedAt,
    endedAt: now(),
    facts,
    results,
    seal,
    ...(ingestion ? { ingestion } : {}),
  });
  if (request.preserveForSeconds) {
    // A stop raised during the collection is in the history, but its task was never awaited (so never
    // completed): look at it now, beside a timer due at once, so nothing waits.
    if (earlyStop && !earlyStop.isCompleted) yield context.df.Task.any([earlyStop, context.df.createTimer(context.df.currentUtcDateTime)]);
    const stop = earlyStop?.isCompleted ? ((earlyStop.result ?? { requestedAt: now() }) as StopPreservationEvent) : undefined;
    const state = initialPreservationState(output, facts.authMode, stop);
    status({
      phase: 'preserving',
      tasks: { total: tasks.length, finished: results.length, failed },
      sources: sourceProgress(tasks, results),
      ...clusterStatus,
      manifest,
      preservation: preservationStatus(state, 'opening'),
    });
    context.df.continueAsNew({ ...input, preservation: state } satisfies CollectionRunInput);
    return undefined;
  }
  status({ phase: 'completed', tasks: { total: tasks.length, finished: results.length, failed }, sources: sourceProgress(tasks, results), ...clusterStatus, manifest });
  return output;
};

df.app.orchestration(FUNCTION_NAMES.orchestrator, collectEvidenceOrchestrator);
