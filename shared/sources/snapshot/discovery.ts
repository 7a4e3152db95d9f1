import pLimit from 'p-limit';
import { KubeApiError, type KubeApi, type KubeRequestOptions } from '../../cluster/kubeApi.js';
import { RetriesExhaustedError } from '../../cluster/retry.js';

/**
 * API discovery for the snapshot: every listable resource type the server serves — core,
 * built-in groups, aggregated APIs and custom resources — each at its preferred version.
 */

/** One listable resource type found by discovery. */
export interface DiscoveredType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
}

export const resourceKey = (group: string, resource: string): string => (group ? `${group}/${resource}` : resource);
export const gvPath = (group: string, version: string): string => (group ? `/apis/${group}/${version}` : `/api/${version}`);
export const streamFor = (t: Pick<DiscoveredType, 'group' | 'version' | 'resource'>): string => `${t.group || 'core'}_${t.version}_${t.resource}`;

/** A failure the snapshot records as a gap (the API answered, or retries ran out), not a fault. */
export function expectedFailure(error: unknown): boolean {
  return error instanceof KubeApiError || error instanceof RetriesExhaustedError;
}

interface ApiResourceJson {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

export interface DiscoveryResult {
  types: DiscoveredType[];
  /** Group/versions whose discovery failed (aggregated API down, forbidden, ...). */
  failures: { group: string; version: string; error: unknown }[];
}

/**
 * Every listable resource type: for each group, every served version is read and each
 * resource is taken at the first version (in the server's preference order) that serves it,
 * like kubectl's ServerPreferredResources. Subresources (names with "/") and types without
 * the list verb are skipped.
 */
export async function discoverResourceTypes(api: KubeApi, options: KubeRequestOptions = {}, concurrency = 8): Promise<DiscoveryResult> {
  const failures: DiscoveryResult['failures'] = [];
  const types: DiscoveredType[] = [];
  const groupVersions: { group: string; versions: string[] }[] = [];
  const core = await api.getJson<{ versions?: string[] }>('/api', undefined, options);
  groupVersions.push({ group: '', versions: core.versions ?? ['v1'] });
  const apis = await api.getJson<{ groups?: { name: string; versions?: { version: string }[]; preferredVersion?: { version: string } }[] }>('/apis', undefined, options);
  for (const g of apis.groups ?? []) {
    const versions = (g.versions ?? []).map((v) => v.version);
    const preferred = g.preferredVersion?.version;
    if (preferred && versions.includes(preferred)) {
      versions.splice(versions.indexOf(preferred), 1);
      versions.unshift(preferred);
    }
    groupVersions.push({ group: g.name, versions });
  }
  // Every group/version's resource list, fetched concurrently; merged in the server's order.
  const limit = pLimit(Math.max(1, concurrency));
  const lists = await Promise.all(
    groupVersions.flatMap(({ group, versions }) =>
      versions.map((version) =>
        limit(async () => {
          try {
            // An aggregated API that is down answers 503 persistently: one retry, not the full budget.
            const gvOptions: KubeRequestOptions = { ...options, retry: { ...options.retry, maxAttempts: Math.min(options.retry?.maxAttempts ?? 2, 2) } };
            return { group, version, resources: (await api.getJson<{ resources?: ApiResourceJson[] }>(gvPath(group, version), undefined, gvOptions)).resources ?? [] };
          } catch (error) {
            if (!expectedFailure(error)) throw error;
            return { group, version, error };
          }
        }),
      ),
    ),
  );
  const seen = new Set<string>();
  for (const l of lists) {
    if ('error' in l) {
      failures.push({ group: l.group, version: l.version, error: l.error });
      continue;
    }
    for (const r of l.resources) {
      // A resource is taken at the first (most preferred) version that serves it.
      if (r.name.includes('/') || !(r.verbs ?? []).includes('list') || seen.has(resourceKey(l.group, r.name))) continue;
      seen.add(resourceKey(l.group, r.name));
      types.push({ group: l.group, version: l.version, resource: r.name, kind: r.kind, namespaced: r.namespaced });
    }
  }
  return { types, failures };
}
