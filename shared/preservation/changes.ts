import type { KubeListItem } from '../cluster/paginate.js';
import { sha256Hex } from '../evidence/hash.js';
import type { Row } from '../tables/table.js';
import { redactRawObject, type EnvValueHandling } from '../util/valueRedaction.js';
import { str } from '../util/values.js';

/**
 * An object change as the evidence keeps it: the object before and after, each through the one
 * value redaction every raw object goes through (env values and serialized annotations as
 * SHA-256 unless the run keeps them), and the kubechanges_CL row naming what changed.
 */

export type ChangeType = 'added' | 'modified' | 'deleted';
export type SeenBy = 'watch' | 'relist' | 'window-start';

/** The raw record of one change (changes.raw.ndjson.gz). */
export interface ChangeRecord {
  change: ChangeType;
  seenAt: string;
  seenBy: SeenBy;
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid: string;
  before?: unknown;
  after?: unknown;
}

const MAX_PATHS = 50;
/** Bookkeeping every write changes: not what an investigator means by "what changed". */
const IGNORED = new Set(['metadata.resourceVersion', 'metadata.managedFields']);

/** Field paths whose values differ ("spec.template.spec.containers[0].image"), at most 50. */
export function changedPaths(before: unknown, after: unknown): string[] {
  const out: string[] = [];
  const walk = (a: unknown, b: unknown, path: string, depth: number): void => {
    if (out.length >= MAX_PATHS || IGNORED.has(path)) return;
    if (a === b) return;
    const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object';
    if (!bothObjects || Array.isArray(a) !== Array.isArray(b) || depth >= 12) {
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(path || '(root)');
      return;
    }
    if (Array.isArray(a) && Array.isArray(b)) {
      for (let i = 0; i < Math.max(a.length, b.length); i++) walk(a[i], b[i], `${path}[${i}]`, depth + 1);
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(ao), ...Object.keys(bo)])].sort()) walk(ao[key], bo[key], path ? `${path}.${key}` : key, depth + 1);
  };
  walk(before, after, '', 0);
  return out;
}

/** The raw record and the row of one change; before/after are redacted here, once. */
export function changeEvidence(
  change: ChangeType,
  object: KubeListItem,
  previous: KubeListItem | undefined,
  seen: { at: string; by: SeenBy },
  envValues: EnvValueHandling,
): { record: string; row: Row } {
  const m = object.metadata ?? {};
  const before = previous ? redactRawObject(previous, envValues) : undefined;
  const after = change === 'deleted' ? undefined : redactRawObject(object, envValues);
  const beforeJson = before === undefined ? undefined : JSON.stringify(before);
  const afterJson = after === undefined ? undefined : JSON.stringify(after);
  const kind = str(object.kind);
  const namespace = str(m.namespace);
  const name = str(m.name);
  const record: ChangeRecord = {
    change,
    seenAt: seen.at,
    seenBy: seen.by,
    apiVersion: str(object.apiVersion),
    kind,
    namespace,
    name,
    uid: str(m.uid),
    ...(before !== undefined ? { before } : {}),
    ...(after !== undefined ? { after } : {}),
  };
  const paths = change === 'modified' && before !== undefined ? changedPaths(before, after) : [];
  const what = change === 'modified' ? (paths.length ? `: ${paths.slice(0, 5).join(', ')}${paths.length > 5 ? `, and ${paths.length - 5} more` : ''}` : ': no field changed') : '';
  const row: Row = {
    TimeGenerated: seen.at,
    change_type: change,
    kind,
    api_version: str(object.apiVersion),
    namespace,
    name,
    uid: str(m.uid),
    resource_version: str(m.resourceVersion),
    previous_resource_version: previous ? str(previous.metadata?.resourceVersion) : '',
    changed_paths: JSON.stringify(paths),
    seen_by: seen.by,
    before_sha256: beforeJson === undefined ? '' : sha256Hex(beforeJson),
    after_sha256: afterJson === undefined ? '' : sha256Hex(afterJson),
    summary: `${kind} ${namespace ? `${namespace}/` : ''}${name} ${change}${what}${seen.by === 'watch' ? '' : ` (${seen.by})`}`.slice(0, 1000),
  };
  // The raw record carries the redacted objects as they were hashed for the row.
  return {
    record: `{"change":${JSON.stringify(change)},"seenAt":${JSON.stringify(seen.at)},"seenBy":${JSON.stringify(seen.by)},"apiVersion":${JSON.stringify(record.apiVersion)},"kind":${JSON.stringify(kind)},"namespace":${JSON.stringify(namespace)},"name":${JSON.stringify(name)},"uid":${JSON.stringify(record.uid)}${beforeJson !== undefined ? `,"before":${beforeJson}` : ''}${afterJson !== undefined ? `,"after":${afterJson}` : ''}}`,
    row,
  };
}
