import type { KubeApi, KubeRequestOptions, QueryValue } from './kubeApi.js';
import { KubeApiError } from './kubeApi.js';

/**
 * Paginated Kubernetes lists: limit + continue, with the 410 rule. When a continue token
 * expires mid-list the list restarts from scratch and objects already yielded (by uid, or
 * namespace/name when an object has none) are skipped, so every object is yielded once.
 */

export interface ListOptions extends KubeRequestOptions {
  /** Page size asked of the server (default 500). */
  limit?: number;
  labelSelector?: string;
  fieldSelector?: string;
  /**
   * Serve the list as of this resourceVersion (first page only: continuations carry their own
   * snapshot). With resourceVersionMatch 'Exact' the server answers 410 once it is compacted.
   */
  resourceVersion?: string;
  resourceVersionMatch?: 'Exact' | 'NotOlderThan';
  /** Relists allowed after expired continue tokens before giving up with the 410 error (default 3). */
  maxRelists?: number;
  /** Called when a list restarts after a 410 (for the manifest's coverage). */
  onRelist?: (info: { path: string; relists: number; yieldedSoFar: number }) => void;
  /**
   * Called once per page with the list's metadata (resourceVersion), kind, the server's Date
   * header, and item count; `first` on the first page of a list (again after a relist).
   */
  onPage?: (info: { path: string; items: number; first: boolean; resourceVersion?: string; kind?: string; date?: string }) => void;
}

/** One object of a list, with the list's apiVersion/kind restored (list items are served without them). */
export type KubeListItem = Record<string, unknown> & {
  apiVersion?: string;
  kind?: string;
  metadata?: { name?: string; namespace?: string; uid?: string; creationTimestamp?: string; [k: string]: unknown };
};

interface ListDocument {
  apiVersion?: string;
  kind?: string;
  metadata?: { continue?: string; resourceVersion?: string; remainingItemCount?: number };
  items?: KubeListItem[] | null;
}

function identity(item: KubeListItem): string {
  const m = item.metadata ?? {};
  return m.uid ?? `${m.namespace ?? ''}/${m.name ?? ''}`;
}

/**
 * Every object of a list endpoint, page by page (at most one page held at a time, plus the
 * uids seen, which only a relist needs). `path` is the collection path, e.g. /api/v1/pods.
 * Throws KubeApiError (403, 404, ...) or RetriesExhaustedError for the caller to turn into a gap.
 */
export async function* listAll(api: KubeApi, path: string, options: ListOptions = {}): AsyncGenerator<KubeListItem> {
  const limit = options.limit ?? 500;
  const maxRelists = options.maxRelists ?? 3;
  const seen = new Set<string>();
  let relists = 0;
  let continueToken: string | undefined;
  let relisting = false;
  for (;;) {
    const query: Record<string, QueryValue> = {
      limit,
      continue: continueToken,
      labelSelector: options.labelSelector,
      fieldSelector: options.fieldSelector,
      ...(continueToken === undefined && options.resourceVersion !== undefined
        ? { resourceVersion: options.resourceVersion, resourceVersionMatch: options.resourceVersionMatch }
        : {}),
    };
    let page: ListDocument;
    let date: string | undefined;
    try {
      page = await api.getJson<ListDocument>(path, query, {
        ...options,
        onResponse: (info) => {
          date = info.date;
          options.onResponse?.(info);
        },
      });
    } catch (error) {
      if (error instanceof KubeApiError && error.status === 410 && continueToken !== undefined && relists < maxRelists) {
        relists++;
        relisting = true;
        continueToken = undefined;
        options.onRelist?.({ path, relists, yieldedSoFar: seen.size });
        continue;
      }
      throw error;
    }
    options.onPage?.({
      path,
      items: page.items?.length ?? 0,
      first: continueToken === undefined,
      ...(page.metadata?.resourceVersion ? { resourceVersion: page.metadata.resourceVersion } : {}),
      ...(page.kind ? { kind: page.kind } : {}),
      ...(date ? { date } : {}),
    });
    const itemKind = page.kind?.endsWith('List') ? page.kind.slice(0, -'List'.length) : undefined;
    for (const raw of page.items ?? []) {
      const key = identity(raw);
      if (relisting && seen.has(key)) continue;
      seen.add(key);
      yield withTypeMeta(raw, page.apiVersion, itemKind);
    }
    continueToken = page.metadata?.continue || undefined;
    if (continueToken === undefined) return;
  }
}

/** Restore apiVersion and kind on a list item (first keys, like kubectl get -o json), leaving the rest untouched. */
export function withTypeMeta(item: KubeListItem, apiVersion: string | undefined, kind: string | undefined): KubeListItem {
  if ((item.apiVersion && item.kind) || (!apiVersion && !kind)) return item;
  return { apiVersion: item.apiVersion ?? apiVersion, kind: item.kind ?? kind, ...item };
}
