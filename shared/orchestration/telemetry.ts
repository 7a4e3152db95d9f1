import { shardLabel } from '../pipeline/plan.js';
import type { CollectTaskResult, SealResult } from '../pipeline/types.js';
import { redactSecrets } from '../util/redact.js';
import { FUNCTION_NAMES, type IngestTableOutcome } from './types.js';

/**
 * What the Functions app's log records carry as structured attributes, so one run's whole
 * story — the HTTP call that started it, each activity and its outcome, status reads — is one
 * Application Insights query: `traces | where customDimensions.RunId == "<runId>"`. The names
 * are the link columns of the Log Analytics rows (RunId, CaseId, ClusterResourceId), so the
 * same id joins the app's telemetry to the evidence tables.
 *
 * Only identifiers and counts: values come from activity inputs and results, which are
 * secret-free by construction (they live in Durable history), and text is redacted once more.
 */
export interface RunAttributes {
  RunId?: string;
  CaseId?: string;
  ClusterResourceId?: string;
  /** The data source of a collect task. */
  Source?: string;
  /** The pod shard of a collect task, e.g. "3-of-8". */
  Shard?: string;
  /** The Log Analytics table of an ingest activity. */
  Table?: string;
  /** Outcome of the invocation: an activity's status, or an HTTP status code. */
  Outcome?: string;
  Records?: number;
  Gaps?: number;
  RowsSent?: number;
  RowsFailed?: number;
  ManifestSha256?: string;
  DurationMs?: number;
  /** A failure's stable code (ERR_…), never its stack. */
  ErrorCode?: string;
}

const MAX_TEXT = 512;
const ATTRIBUTE_NAMES: readonly (keyof RunAttributes)[] = [
  'RunId',
  'CaseId',
  'ClusterResourceId',
  'Source',
  'Shard',
  'Table',
  'Outcome',
  'Records',
  'Gaps',
  'RowsSent',
  'RowsFailed',
  'ManifestSha256',
  'DurationMs',
  'ErrorCode',
];

/** Keep only known attributes with scalar values, text bounded and redacted (a log sink is no place for anything else). */
export function cleanAttributes(attributes: Record<string, unknown>): RunAttributes {
  const out: Record<string, string | number> = {};
  for (const name of ATTRIBUTE_NAMES) {
    const v = attributes[name];
    if (typeof v === 'number' && Number.isFinite(v)) out[name] = v;
    else if (typeof v === 'string' && v !== '') out[name] = redactSecrets(v).slice(0, MAX_TEXT);
  }
  return out;
}

function rec(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The run attributes an activity invocation's input names (run, case, cluster, source and shard, table). */
export function activityInputAttributes(functionName: string, input: unknown): RunAttributes {
  const i = rec(input);
  const cluster = text(rec(i['cluster'])['resourceId']) ?? text(i['clusterResourceId']) ?? text(rec(rec(i['facts'])['cluster'])['resourceId']);
  const attributes: Record<string, unknown> = { RunId: i['runId'], CaseId: i['caseId'], ClusterResourceId: cluster };
  if (functionName === FUNCTION_NAMES.collectSource) {
    const task = rec(i['task']);
    attributes['Source'] = task['source'];
    const shard = typeof task['source'] === 'string' ? shardLabel(task as never) : undefined;
    if (shard) attributes['Shard'] = shard;
  }
  if (functionName === FUNCTION_NAMES.ingestEvidence) attributes['Table'] = i['table'];
  return cleanAttributes(attributes);
}

/** What an activity's result says about its outcome (status and counts; never evidence). */
export function activityResultAttributes(functionName: string, result: unknown): RunAttributes {
  const r = rec(result);
  switch (functionName) {
    case FUNCTION_NAMES.collectSource: {
      const task = r as Partial<CollectTaskResult>;
      return cleanAttributes({ Outcome: task.status, Records: task.records, Gaps: task.gapCount });
    }
    case FUNCTION_NAMES.sealEvidence: {
      const seal = r as Partial<SealResult>;
      return cleanAttributes({ Outcome: 'sealed', ManifestSha256: seal.manifestSha256 });
    }
    case FUNCTION_NAMES.ingestEvidence: {
      const outcome = r as Partial<IngestTableOutcome>;
      return cleanAttributes({ Outcome: outcome.status, RowsSent: outcome.rowsSent, RowsFailed: outcome.rowsFailed });
    }
    case FUNCTION_NAMES.resolveCluster:
      return cleanAttributes({ Outcome: 'resolved', Gaps: Array.isArray(r['gaps']) ? r['gaps'].length : undefined });
    default:
      return {};
  }
}

/** The stable code of a failure (ERR_…), when it has one. */
export function errorCodeOf(error: unknown): string | undefined {
  const code = rec(error)['code'];
  return typeof code === 'string' && /^ERR_[A-Z0-9_]+$/.test(code) ? code : undefined;
}

/** "RunId=… CaseId=… …": the attributes appended to a plain log line (the host's own log channel has no dimensions). */
export function attributesSuffix(attributes: RunAttributes): string {
  const parts = Object.entries(attributes).map(([k, v]) => `${k}=${String(v)}`);
  return parts.length ? ` [${parts.join(' ')}]` : '';
}
