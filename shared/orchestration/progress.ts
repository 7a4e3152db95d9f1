import type { Gap } from '../evidence/types.js';
import { shardLabel } from '../pipeline/plan.js';
import type { ClusterFacts } from '../cluster/facts.js';
import type { CollectTask, CollectTaskResult, SealResult } from '../pipeline/types.js';
import type { CollectionRunOutput, IngestTableOutcome, RunCustomStatus } from './types.js';

/**
 * Pure helpers the orchestrator uses to shape custom status, fill in failed tasks and build
 * its output. Deterministic (time is passed in), so safe under replay.
 */

const MAX_DETAIL = 500;
const MAX_FAILED_LISTED = 20;

export function auditLogState(facts: ClusterFacts | undefined): RunCustomStatus['auditLog'] {
  if (!facts?.audit) return 'unknown';
  return facts.audit.enabled ? 'enabled' : 'not-enabled';
}

/** Run-level gaps for custom status: a handful, shortened (custom status is limited to 16 KB). */
export function runGapsPreview(facts: ClusterFacts, max = 5): NonNullable<RunCustomStatus['gaps']> {
  return facts.gaps.slice(0, max).map((g) => ({ source: g.source, reason: g.reason, detail: g.detail.length > 300 ? `${g.detail.slice(0, 299)}…` : g.detail }));
}

/** A result standing in for a task whose activity still failed after every retry. */
export function failedTaskResult(task: CollectTask, error: unknown, at: string): CollectTaskResult {
  // The failure's reason line only: the rest is the worker's stack trace.
  const message = (error instanceof Error ? error.message : String(error)).split('\n')[0]?.trim() ?? '';
  const detail = `collect activity failed after every retry: ${message}`.slice(0, MAX_DETAIL);
  const shard = shardLabel(task);
  const gap: Gap = { source: task.source, reason: 'retries-exhausted', detail };
  return {
    source: task.source,
    ...(shard ? { shard } : {}),
    status: 'failed',
    records: 0,
    rawObjects: 0,
    gapCount: 1,
    actionCount: 0,
    apiRequests: 0,
    artifacts: [],
    gapsPreview: [gap],
    startedAt: at,
    endedAt: at,
  };
}

const RANK: Record<string, number> = { complete: 0, skipped: 1, partial: 2, failed: 3 };

/** Per-source progress from the finished tasks. */
export function sourceProgress(tasks: readonly CollectTask[], results: readonly (CollectTaskResult | undefined)[]): NonNullable<RunCustomStatus['sources']> {
  const out: NonNullable<RunCustomStatus['sources']> = {};
  const totals = new Map<string, { total: number; finished: number }>();
  tasks.forEach((task, i) => {
    const t = totals.get(task.source) ?? { total: 0, finished: 0 };
    t.total++;
    const r = results[i];
    if (r) t.finished++;
    totals.set(task.source, t);
    const s = (out[task.source] ??= { status: r ? r.status : 'running', records: 0, gaps: 0, tasks: '' });
    if (r) {
      if (s.status === 'running' || (RANK[r.status] ?? 0) > (RANK[s.status] ?? 0)) s.status = r.status;
      s.records += r.records;
      s.gaps += r.gapCount;
    }
  });
  for (const [source, t] of totals) {
    const s = out[source];
    if (s) s.tasks = `${t.finished}/${t.total}`;
  }
  return out;
}

export function taskCounts(results: readonly CollectTaskResult[]): CollectionRunOutput['tasks'] {
  const counts = { total: results.length, complete: 0, partial: 0, failed: 0, skipped: 0 };
  for (const r of results) counts[r.status]++;
  return counts;
}

/** Tables that received rows, in first-seen order: one ingestEvidence activity each. */
export function tablesWithRows(results: readonly CollectTaskResult[]): string[] {
  const tables: string[] = [];
  for (const r of results) {
    for (const a of r.artifacts) {
      if (a.kind === 'rows' && a.table && a.records > 0 && !tables.includes(a.table)) tables.push(a.table);
    }
  }
  return tables;
}

export function buildRunOutput(init: {
  runId: string;
  caseId: string;
  clusterResourceId: string;
  startedAt: string;
  endedAt: string;
  facts: ClusterFacts;
  results: readonly CollectTaskResult[];
  seal: SealResult;
  ingestion?: IngestTableOutcome[];
}): CollectionRunOutput {
  const tasks = taskCounts(init.results);
  const failedTasks = init.results
    .filter((r) => r.status === 'failed')
    .slice(0, MAX_FAILED_LISTED)
    .map((r) => ({
      source: r.source,
      ...(r.shard ? { shard: r.shard } : {}),
      detail: (r.gapsPreview[0]?.detail ?? 'failed').slice(0, MAX_DETAIL),
    }));
  const anyGap = Object.values(init.seal.gaps).some((n) => n > 0) || init.facts.gaps.length > 0;
  const ingestionFailed = init.ingestion?.some((t) => t.status === 'failed' || t.status === 'partial') ?? false;
  const outcome = tasks.failed === 0 && tasks.partial === 0 && !anyGap && !ingestionFailed ? 'complete' : 'partial';
  return {
    runId: init.runId,
    caseId: init.caseId,
    clusterResourceId: init.clusterResourceId,
    startedAt: init.startedAt,
    endedAt: init.endedAt,
    outcome,
    seal: init.seal,
    tasks,
    failedTasks,
    ...(init.ingestion
      ? {
          ingestion: {
            tables: init.ingestion,
            rowsSent: init.ingestion.reduce((n, t) => n + t.rowsSent, 0),
            rowsFailed: init.ingestion.reduce((n, t) => n + t.rowsFailed, 0),
          },
        }
      : {}),
  };
}
