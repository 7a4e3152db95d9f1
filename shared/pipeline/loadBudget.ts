import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../cluster/requestBudget.js';
import { SOURCES, type SourceRegistry } from '../sources/registry.js';
import type { CollectTask } from './types.js';

/**
 * The cluster's load budget, split into shares for the orchestrator (docs/architecture.md,
 * "The load budget"). In one process (the CLI) every request of every source waits for a
 * permit of one RequestBudget. Across a Durable run, activities on any number of Function
 * instances cannot share a semaphore in memory, so the orchestrator hands each collect task a
 * share — the most requests its activity may have in flight — and runs the tasks in waves
 * whose shares add up to no more than the budget. Each activity enforces its share with its
 * own RequestBudget: the API server never sees more than the budget from the run, however far
 * the Function app scales out.
 */

/**
 * How many requests a task's activity may have in flight: a quarter of the budget for
 * pod-sharded sources (log streams and execs by the hundred), an eighth for the rest (lists,
 * paged one request after another; the snapshot's few dozen types), none for a source that
 * does not read the Kubernetes API (the audit log), and at least one.
 */
export function requestShare(task: CollectTask, budget: number, registry: SourceRegistry = SOURCES): number {
  const source = registry.has(task.source) ? registry.get(task.source) : undefined;
  if (source && !(source.needs ?? ['kubernetes']).includes('kubernetes')) return 0;
  const divisor = source?.sharding === 'pods' ? 4 : 8;
  return Math.max(1, Math.min(budget, Math.ceil(budget / divisor)));
}

/** The budget of a run: the request's (from the app's AKS_EVIDENCE_CONCURRENCY), else the default. */
export function runBudget(concurrency: number | undefined): number {
  return concurrency !== undefined && Number.isInteger(concurrency) && concurrency >= 1 ? concurrency : DEFAULT_CLUSTER_REQUEST_BUDGET;
}

/**
 * The waves of a run: lists of task indices whose shares add up to no more than the budget.
 * A pod-sharded source's shards fill waves of their own (shards are hash-partitioned pods:
 * they finish together, so a wave does not wait on a straggler of another kind); the one-task
 * sources (lists, short) take the room those waves leave, first fit, and waves of their own
 * after that. Sources in plan order; each wave in plan order; every task in exactly one wave.
 * Pure and deterministic, so the orchestrator may call it.
 */
export function planWaves(tasks: readonly CollectTask[], shares: readonly number[], budget: number, registry: SourceRegistry = SOURCES): number[][] {
  const long = new Map<string, number[]>();
  const single: number[] = [];
  tasks.forEach((task, index) => {
    const podSharded = registry.has(task.source) && registry.get(task.source).sharding === 'pods';
    if (task.shard || podSharded) {
      const list = long.get(task.source) ?? [];
      list.push(index);
      long.set(task.source, list);
    } else {
      single.push(index);
    }
  });
  const share = (i: number): number => shares[i] ?? 0;
  const waves: { tasks: number[]; used: number }[] = [];
  for (const group of long.values()) {
    const groupShares = group.map(share);
    for (let next = 0; next < group.length;) {
      const wave = startable(groupShares, next, 0, budget, 0).map((k) => group[k]!);
      waves.push({ tasks: wave, used: wave.reduce((n, i) => n + share(i), 0) });
      next = group.indexOf(wave[wave.length - 1]!) + 1;
    }
  }
  for (const index of single) {
    const room = waves.find((w) => w.used + share(index) <= budget);
    if (room) {
      room.tasks.push(index);
      room.used += share(index);
    } else {
      waves.push({ tasks: [index], used: share(index) });
    }
  }
  return waves.map((w) => w.tasks.sort((a, b) => a - b));
}

/**
 * Which waiting tasks may start now, from `next` in plan order: each while its share fits
 * what `inFlight` leaves of the budget (the orchestrator's next wave: inFlight 0); when
 * nothing runs, the next task starts whatever its share, so a run always moves on. Pure, so
 * the orchestrator may call it.
 */
export function startable(shares: readonly number[], next: number, inFlight: number, budget: number, running: number): number[] {
  const start: number[] = [];
  let used = inFlight;
  for (let i = next; i < shares.length; i++) {
    const share = shares[i] ?? 0;
    if (used + share > budget && !(running === 0 && start.length === 0)) break;
    start.push(i);
    used += share;
  }
  return start;
}
