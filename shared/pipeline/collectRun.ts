import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import pLimit from 'p-limit';
import { claimRunPath, type ClaimedRun, type PreviousAttempt } from '../evidence/claim.js';
import { CustodyLog } from '../evidence/custody.js';
import type { ClusterIdentity, CollectionRequestRecord, CollectorIdentity, EvidenceStore, Gap, Manifest } from '../evidence/types.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { runCollectTask } from './collectTask.js';
import { planCollectTasks, shardLabel } from './plan.js';
import { sealRun, type SealContext } from './seal.js';
import type { SourceRegistry } from '../sources/registry.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTask, CollectTaskResult, SealResult } from './types.js';

export type RunProgressEvent =
  | { kind: 'planned'; tasks: number }
  | { kind: 'task-started'; source: string; shard?: string }
  | { kind: 'task-progress'; source: string; records: number; message?: string }
  | { kind: 'task-finished'; result: CollectTaskResult }
  | { kind: 'sealed'; result: SealResult };

export interface CollectRunOptions {
  kubeConfig: KubeConfigLike;
  store: EvidenceStore;
  runId: string;
  request: CollectionRequestRecord;
  collector: CollectorIdentity;
  /** Cluster facts; for a kubeconfig run only the identity is known. */
  facts: ClusterFacts;
  /** Collect tasks running at once (default: all of them, at most 12). */
  taskConcurrency?: number;
  /** Pod shard size when facts.podCount is set (see planCollectTasks). */
  podsPerShard?: number;
  clock?: Clock;
  abortSignal?: AbortSignal;
  progress?: (event: RunProgressEvent) => void;
  /** The sources (default SOURCES). */
  registry?: SourceRegistry;
  /** See SealContext.beforeManifest (the CLI passes the report writer). */
  beforeManifest?: SealContext['beforeManifest'];
  /** The earlier attempt this run replaces, recorded in the claim and the manifest. */
  previousAttempt?: PreviousAttempt;
  /** The claim nonce (default: a new random one). A path already claimed with it is this run's own. */
  claimNonce?: string;
  /** Why the abortSignal fired, for the interruption record (default "aborted"). */
  interruptReason?: () => string;
  /** After sealing, before returning (e.g. the anchors: timestamp, Log Analytics custody row). */
  afterSeal?: (sealed: SealResult & { manifest: Manifest }, custody: CustodyLog) => Promise<void>;
}

/** The custody record that opens a run: what was asked, of which cluster, and the plan. */
export function collectionStartedDetails(
  request: CollectionRequestRecord,
  facts: ClusterFacts,
  tasks: CollectTask[],
  location: string,
  startedAt: string,
): Record<string, unknown> {
  return { request, cluster: facts.cluster, facts, tasks: tasks.map(taskLabel), location, startedAt };
}

/** "containerlogs 2-of-4", "events": how a task is named in custody and interruption records. */
export function taskLabel(task: { source: string; shard?: string | CollectTask['shard'] }): string {
  const shard = typeof task.shard === 'string' ? task.shard : task.shard ? shardLabel(task as CollectTask) : undefined;
  return shard ? `${task.source} ${shard}` : task.source;
}

/**
 * The whole pipeline in-process (the CLI's host): plan → collect every task with bounded
 * concurrency → seal. The Durable orchestrator runs the same three steps as activities.
 */
export async function collectRun(options: CollectRunOptions): Promise<SealResult & { manifest: Manifest }> {
  const clock = options.clock ?? systemClock;
  const startedAt = toRfc3339(clock());
  const { store, runId, request } = options;
  // Before anything else: claim the path (refused when it holds anything this run did not write).
  const claim: ClaimedRun = await claimRunPath(store, {
    runId,
    caseId: request.caseId,
    collector: options.collector,
    clock,
    ...(options.claimNonce ? { nonce: options.claimNonce } : {}),
    ...(options.previousAttempt ? { previousAttempt: options.previousAttempt } : {}),
  });
  const custody = new CustodyLog(store, { runId, caseId: request.caseId, collector: options.collector, claim, clock });

  const tasks = planCollectTasks(request, options.facts, {
    ...(options.podsPerShard ? { podsPerShard: options.podsPerShard } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  });
  await custody.record('collection-started', collectionStartedDetails(request, options.facts, tasks, store.location, startedAt));
  options.progress?.({ kind: 'planned', tasks: tasks.length });
  const limit = pLimit(Math.max(1, options.taskConcurrency ?? Math.min(12, tasks.length || 1)));
  const outcomes = await Promise.all(tasks.map((task) => limit(() => runTask(task, options, clock, custody, claim))));
  const results = outcomes.flatMap((o) => (o.result ? [o.result] : []));

  let interrupted: { reason: string; unfinishedTasks: { source: string; shard?: string; detail: string }[] } | undefined;
  if (options.abortSignal?.aborted) {
    const unfinishedTasks = outcomes.flatMap((o, i) => {
      const task = tasks[i]!;
      const shard = shardLabel(task);
      const base = { source: task.source, ...(shard ? { shard } : {}) };
      if (!o.result) return [{ ...base, detail: 'never started: the collection was interrupted first' }];
      if (o.stoppedByInterrupt) return [{ ...base, detail: `stopped by the interruption (${o.result.status}); what it had collected is sealed` }];
      return [];
    });
    interrupted = { reason: options.interruptReason?.() ?? 'aborted', unfinishedTasks };
  }

  const sealed = await sealRun({
    store,
    runId,
    caseId: request.caseId,
    request,
    facts: options.facts,
    results,
    collector: options.collector,
    startedAt,
    clock,
    claim,
    custody,
    ...(interrupted ? { interrupted } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.beforeManifest ? { beforeManifest: options.beforeManifest } : {}),
  });
  await options.afterSeal?.(sealed, custody);
  options.progress?.({ kind: 'sealed', result: sealed });
  return sealed;
}

async function runTask(
  task: CollectTask,
  options: CollectRunOptions,
  clock: Clock,
  custody: CustodyLog,
  claim: ClaimedRun,
): Promise<{ result?: CollectTaskResult; stoppedByInterrupt?: boolean }> {
  // Interrupted: tasks not started yet never start; the seal names them.
  if (options.abortSignal?.aborted) return {};
  const shard = shardLabel(task);
  options.progress?.({ kind: 'task-started', source: task.source, ...(shard ? { shard } : {}) });
  const result = await runCollectTask(task, {
    store: options.store,
    kubeConfig: options.kubeConfig,
    runId: options.runId,
    caseId: options.request.caseId,
    request: options.request,
    cluster: options.facts.cluster,
    clock,
    claim,
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    progress: (e) => options.progress?.({ kind: 'task-progress', source: e.source, records: e.records, ...(e.message ? { message: e.message } : {}) }),
  });
  await custody.record('artifacts-sealed', artifactsSealedDetails(task, result));
  options.progress?.({ kind: 'task-finished', result });
  return { result, stoppedByInterrupt: options.abortSignal?.aborted === true && result.status !== 'complete' };
}

/** The custody record of a finished task: every artifact it wrote, with its hash. */
export function artifactsSealedDetails(task: CollectTask, result: CollectTaskResult): Record<string, unknown> {
  const shard = shardLabel(task);
  return {
    task: taskLabel(task),
    source: task.source,
    ...(shard ? { shard } : {}),
    status: result.status,
    artifacts: result.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes, records: a.records })),
  };
}

/** Facts for a run against a kubeconfig: no ARM, so audit-log coverage is unknown — said first. */
export function kubeconfigFacts(cluster: ClusterIdentity, extraGaps: Gap[] = []): ClusterFacts {
  return {
    cluster,
    authMode: 'kubeconfig',
    gaps: [
      {
        source: 'audit',
        reason: 'unsupported',
        detail:
          'audit log coverage not checked: collected from a kubeconfig without Azure Resource Manager access. ' +
          "Check the cluster's diagnostic settings for kube-audit / kube-audit-admin, or run through the Functions app with the cluster resource id.",
      },
      ...extraGaps,
    ],
  };
}
