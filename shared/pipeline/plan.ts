import type { CollectionRequestRecord } from '../evidence/types.js';
import type { ClusterFacts, CollectTask } from './types.js';

/** Sources whose work grows with the pod count; they are split into pod shards. */
export const POD_SHARDED_SOURCES: ReadonlySet<string> = new Set(['containerlogs', 'commandhistory']);

export interface PlanOptions {
  /**
   * Pods per shard for pod-sharded sources (default 250). At the bench's 2 containers ×
   * 200 lines per pod a shard is ~100k log lines: seconds of work, far inside a
   * Consumption plan's 5-minute activity timeout even on a slow API server.
   */
  podsPerShard?: number;
  /** Upper bound on shards per source (default 64): bounds orchestration history size. */
  maxShards?: number;
}

/**
 * Plan the collect tasks of a run: one per source, pod-sharded sources split by pod pages
 * when the pod count is known. Pure and deterministic, so the orchestrator may call it.
 */
export function planCollectTasks(
  request: CollectionRequestRecord,
  facts: ClusterFacts,
  options: PlanOptions = {},
): CollectTask[] {
  const podsPerShard = Math.max(1, options.podsPerShard ?? 250);
  const maxShards = Math.max(1, options.maxShards ?? 64);
  const tasks: CollectTask[] = [];
  for (const source of request.sources) {
    // The audit log is read from Azure, not the API server: only when ARM says it is exported.
    // When it is not, resolution already named that as the run's first gap.
    if (source === 'audit') {
      if (facts.audit?.enabled) tasks.push({ source });
      continue;
    }
    const podCount = facts.podCount;
    if (POD_SHARDED_SOURCES.has(source) && podCount !== undefined && podCount > podsPerShard) {
      const count = Math.min(maxShards, Math.ceil(podCount / podsPerShard));
      for (let index = 0; index < count; index++) tasks.push({ source, shard: { index, count } });
    } else {
      tasks.push({ source });
    }
  }
  return tasks;
}

/** "3-of-8" for shard index 2 of 8; undefined when not sharded. */
export function shardLabel(task: CollectTask): string | undefined {
  return task.shard ? `${task.shard.index + 1}-of-${task.shard.count}` : undefined;
}
