import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import pLimit from 'p-limit';
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
}

/**
 * The whole pipeline in-process (the CLI's host): plan → collect every task with bounded
 * concurrency → seal. The Durable orchestrator runs the same three steps as activities.
 */
export async function collectRun(options: CollectRunOptions): Promise<SealResult & { manifest: Manifest }> {
  const clock = options.clock ?? systemClock;
  const startedAt = toRfc3339(clock());
  const { store, runId, request } = options;
  const custody = new CustodyLog(store, { runId, caseId: request.caseId, collector: options.collector, clock });
  await custody.record('collection-started', { request, cluster: options.facts.cluster, location: store.location });

  const tasks = planCollectTasks(request, options.facts, {
    ...(options.podsPerShard ? { podsPerShard: options.podsPerShard } : {}),
    ...(options.registry ? { registry: options.registry } : {}),
  });
  options.progress?.({ kind: 'planned', tasks: tasks.length });
  const limit = pLimit(Math.max(1, options.taskConcurrency ?? Math.min(12, tasks.length || 1)));
  const results = await Promise.all(
    tasks.map((task) => limit(() => runTask(task, options, clock, custody))),
  );

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
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.beforeManifest ? { beforeManifest: options.beforeManifest } : {}),
    onSealed: async (result) => {
      await custody.record('manifest-sealed', { manifestSha256: result.manifestSha256, artifacts: result.artifactCount });
    },
  });
  options.progress?.({ kind: 'sealed', result: sealed });
  return sealed;
}

async function runTask(task: CollectTask, options: CollectRunOptions, clock: Clock, custody: CustodyLog): Promise<CollectTaskResult> {
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
    ...(options.registry ? { registry: options.registry } : {}),
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    progress: (e) => options.progress?.({ kind: 'task-progress', source: e.source, records: e.records, ...(e.message ? { message: e.message } : {}) }),
  });
  await custody.record('artifacts-sealed', {
    source: task.source,
    ...(shard ? { shard } : {}),
    status: result.status,
    artifacts: result.artifacts.map((a) => ({ path: a.path, sha256: a.sha256, bytes: a.bytes, records: a.records })),
  });
  options.progress?.({ kind: 'task-finished', result });
  return result;
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
          'Check the cluster\'s diagnostic settings for kube-audit / kube-audit-admin, or run through the Functions app with the cluster resource id.',
      },
      ...extraGaps,
    ],
  };
}
