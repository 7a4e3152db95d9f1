import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectionRequestRecord } from '../evidence/types.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import type { CollectTask } from './types.js';

export interface PlanOptions {
  /**
   * Pods per shard for pod-sharded sources (default 250). At the bench's 2 containers ×
   * 200 lines per pod a shard is ~100k log lines: seconds of work, far inside a
   * Consumption plan's 5-minute activity timeout even on a slow API server.
   */
  podsPerShard?: number;
  /** Upper bound on shards per source (default 64): bounds orchestration history size. */
  maxShards?: number;
  /** The sources (default SOURCES). */
  registry?: SourceRegistry;
}

/**
 * Plan the collect tasks of a run: one per source, pod-sharded sources split by pod pages
 * when the pod count is known; a source whose needs the facts do not meet (the audit log not
 * exported) is left out, and sealing records it as skipped with the facts' reason. Pure and
 * deterministic, so the orchestrator may call it.
 */
export function planCollectTasks(request: CollectionRequestRecord, facts: ClusterFacts, options: PlanOptions = {}): CollectTask[] {
  const podsPerShard = Math.max(1, options.podsPerShard ?? 250);
  const maxShards = Math.max(1, options.maxShards ?? 64);
  const registry = options.registry ?? SOURCES;
  const podSharded = registry.podSharded();
  const tasks: CollectTask[] = [];
  for (const source of request.sources) {
    if (!isPlannable(source, facts, registry)) continue;
    const podCount = facts.podCount;
    if (podSharded.has(source) && podCount !== undefined && podCount > podsPerShard) {
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

/** False when the source cannot run with these facts (its plannable() says so); unknown names are left to the collect task to refuse. */
export function isPlannable(source: string, facts: ClusterFacts, registry: SourceRegistry = SOURCES): boolean {
  if (!registry.has(source)) return true;
  return registry.get(source).plannable?.(facts) ?? true;
}
