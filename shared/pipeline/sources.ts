import { rbacFindingsSource, workloadFindingsSource } from '../findings/source.js';
import { KUBEFORENSYS_SOURCE_DEFINITIONS } from '../sources/index.js';
import { snapshotSource } from '../sources/snapshot.js';
import { targetsSource } from '../sources/targets.js';
import type { SourceDefinition } from '../sources/types.js';
import { InputError } from '../util/errors.js';

/** Every source a run can collect, in the order they are listed to users. */
export const PIPELINE_SOURCES: readonly SourceDefinition[] = [
  // First: the pods, namespaces and nodes the trigger named, described before anything changes.
  targetsSource,
  ...KUBEFORENSYS_SOURCE_DEFINITIONS,
  snapshotSource,
  rbacFindingsSource,
  workloadFindingsSource,
];

const byName = new Map(PIPELINE_SOURCES.map((s) => [s.name as string, s] as const));

/**
 * Sources a host builds per run because they need Azure access (see auditSource.ts): valid in
 * a request, planned only when the cluster facts say they can run.
 */
export const HOST_BUILT_SOURCES: readonly string[] = ['audit'];

/** Collected when a request names no sources: everything. */
export const DEFAULT_SOURCES: readonly string[] = [...PIPELINE_SOURCES.map((s) => s.name), ...HOST_BUILT_SOURCES];

export function getPipelineSource(name: string): SourceDefinition {
  const source = byName.get(name);
  if (!source) {
    const hint = HOST_BUILT_SOURCES.includes(name) ? ` ("${name}" needs Azure access: the Functions host builds it per run)` : '';
    throw new InputError('sources', `unknown source "${name}"; choose from ${DEFAULT_SOURCES.join(', ')}${hint}`);
  }
  return source;
}

/** Validate a user's source list (e.g. --sources a,b): every name known, no duplicates. */
export function resolveSourceNames(names: readonly string[] | undefined): string[] {
  if (!names || names.length === 0) return [...DEFAULT_SOURCES];
  const unique = [...new Set(names.map((n) => n.trim()).filter(Boolean))];
  for (const n of unique) if (!HOST_BUILT_SOURCES.includes(n)) getPipelineSource(n);
  return unique;
}
