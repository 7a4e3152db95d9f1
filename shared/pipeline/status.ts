import type { Gap, SourceStatus } from '../evidence/types.js';

/**
 * What a status means, for a task and for a source (the same rule, applied to a task's own
 * outcome and then to the sum of a source's tasks):
 *
 *   complete  everything listed was collected. Coverage notes — a container without a shell or
 *             without a history file, a container that never ran — are counts, not gaps.
 *   partial   some named items are missing: each one is a gap naming it.
 *   failed    a prerequisite failed (the list the work comes from, e.g. the pod list: what it
 *             would have listed is missing without a name), or the collection stopped on an
 *             unexpected error, or nothing at all was collected while something was missing.
 *   skipped   not collected because the cluster facts do not allow it (decided at sealing).
 */

/** Why a task or a source is failed. */
export type FailureCause = 'prerequisite' | 'error' | 'nothing-collected';

export interface StatusInput {
  /** Rows collected. */
  records: number;
  gaps: readonly Pick<Gap, 'prerequisite'>[] | number;
  /** The collection stopped on an unexpected error. */
  stoppedByError: boolean;
}

export interface StatusOutcome {
  status: Exclude<SourceStatus, 'skipped'>;
  failedBecause?: FailureCause;
}

/** The status of one task from its own outcome. */
export function taskStatus(input: StatusInput): StatusOutcome {
  const gaps = typeof input.gaps === 'number' ? input.gaps : input.gaps.length;
  const prerequisite = typeof input.gaps !== 'number' && input.gaps.some((g) => g.prerequisite !== undefined);
  if (prerequisite) return { status: 'failed', failedBecause: 'prerequisite' };
  if (input.stoppedByError) return { status: 'failed', failedBecause: 'error' };
  if (gaps > 0 && input.records === 0) return { status: 'failed', failedBecause: 'nothing-collected' };
  return { status: gaps > 0 ? 'partial' : 'complete' };
}

export interface TaskStatusPart {
  status: SourceStatus;
  failedBecause?: FailureCause;
  records: number;
  gapCount: number;
}

/**
 * The status of a source from its tasks (shards). A shard that collected nothing while missing
 * something does not fail the source when other shards collected: only a failed prerequisite,
 * an unexpected error, or nothing collected by the whole source does.
 */
export function sourceStatus(parts: readonly TaskStatusPart[]): StatusOutcome {
  const byCause = (cause: FailureCause): boolean => parts.some((p) => p.status === 'failed' && p.failedBecause === cause);
  // Results written before causes were recorded: a failed task without one counts as an error.
  if (byCause('prerequisite')) return { status: 'failed', failedBecause: 'prerequisite' };
  if (byCause('error') || parts.some((p) => p.status === 'failed' && p.failedBecause === undefined)) return { status: 'failed', failedBecause: 'error' };
  const records = parts.reduce((n, p) => n + p.records, 0);
  const gaps = parts.reduce((n, p) => n + p.gapCount, 0);
  return taskStatus({ records, gaps, stoppedByError: false });
}
