import type { NamespaceFilter } from '../types.js';

/**
 * The namespace filter of a run: an empty include list means every namespace; exclude wins.
 * With an include list, sources list namespace by namespace (fewer permissions needed, less
 * data fetched); without one they list cluster-wide and drop excluded namespaces.
 */

/** True when objects of `namespace` are in the run. Cluster-scoped objects (no namespace) always are. */
export function namespaceSelected(namespace: string | undefined, filter: NamespaceFilter): boolean {
  if (namespace === undefined || namespace === '') return true;
  if (filter.exclude?.includes(namespace)) return false;
  if (filter.include && filter.include.length > 0) return filter.include.includes(namespace);
  return true;
}

/** The namespaces to list one by one, or undefined to list cluster-wide. */
export function namespacesToList(filter: NamespaceFilter): string[] | undefined {
  if (!filter.include || filter.include.length === 0) return undefined;
  const exclude = new Set(filter.exclude ?? []);
  return [...new Set(filter.include)].filter((ns) => !exclude.has(ns));
}

/**
 * The collection paths of a namespaced resource for a run, e.g. for ('/api/v1', 'pods'):
 * ['/api/v1/pods'] cluster-wide, or ['/api/v1/namespaces/a/pods', ...] with an include list.
 */
export function namespacedListPaths(groupVersionPath: string, resource: string, filter: NamespaceFilter): string[] {
  const namespaces = namespacesToList(filter);
  if (namespaces === undefined) return [`${groupVersionPath}/${resource}`];
  return namespaces.map((ns) => `${groupVersionPath}/namespaces/${encodeURIComponent(ns)}/${resource}`);
}
