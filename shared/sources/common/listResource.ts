import { describeKubeError, gapReasonFor, KubeApi, KubeApiError } from '../../cluster/kubeApi.js';
import { listAll, type KubeListItem } from '../../cluster/paginate.js';
import { RetriesExhaustedError, isAbortError } from '../../cluster/retry.js';
import type { Gap } from '../../evidence/types.js';
import { namespacedListPaths, namespaceSelected } from './namespaces.js';
import type { SourceContext, SourceItem } from '../types.js';

/**
 * Listing one resource type for a source: paginated, namespace-filtered, and with the
 * expected failures (403, 401, 404, retries exhausted, 410 beyond the relist budget)
 * turned into gaps so the source carries on with what it can read.
 */

export interface ResourceListing {
  /** The source the gaps belong to. */
  source: string;
  /** e.g. '/api/v1' or '/apis/rbac.authorization.k8s.io/v1'. */
  groupVersionPath: string;
  /** Plural resource name, e.g. 'pods', 'clusterrolebindings'. */
  resource: string;
  /** Cluster-scoped resources are listed once, whatever the namespace filter. */
  namespaced: boolean;
  /** Page size (default 500). */
  limit?: number;
  /** Server-side field selector, e.g. spec.nodeName=<node>. */
  fieldSelector?: string;
}

export type ListEvent = { kind: 'object'; object: KubeListItem } | SourceItem;

/** Options every Kubernetes request of a source carries. */
export function requestOptions(ctx: SourceContext): { abortSignal?: AbortSignal; countRequest?: () => void } {
  const options: { abortSignal?: AbortSignal; countRequest?: () => void } = {};
  if (ctx.abortSignal) options.abortSignal = ctx.abortSignal;
  if (ctx.countRequest) options.countRequest = ctx.countRequest;
  return options;
}

/** True for failures a source records as a gap rather than throws. */
export function isExpectedKubeFailure(error: unknown): boolean {
  return error instanceof KubeApiError || error instanceof RetriesExhaustedError;
}

export function gapFromError(source: string, error: unknown, resource: string, extra: Partial<Gap> = {}): Gap {
  return { source, reason: gapReasonFor(error), detail: describeKubeError(error), resource, ...extra };
}

export async function* listResource(ctx: SourceContext, listing: ResourceListing): AsyncGenerator<ListEvent> {
  const api = KubeApi.for(ctx.kubeConfig);
  const paths = listing.namespaced ? namespacedListPaths(listing.groupVersionPath, listing.resource, ctx.namespaces) : [`${listing.groupVersionPath}/${listing.resource}`];
  const relists: { path: string; relists: number }[] = [];
  for (const path of paths) {
    try {
      for await (const object of listAll(api, path, {
        ...requestOptions(ctx),
        limit: listing.limit ?? 500,
        ...(listing.fieldSelector ? { fieldSelector: listing.fieldSelector } : {}),
        onRelist: (info) => {
          const entry = relists.find((r) => r.path === info.path);
          if (entry) entry.relists = info.relists;
          else relists.push({ path: info.path, relists: info.relists });
        },
      })) {
        if (listing.namespaced && !namespaceSelected(object.metadata?.namespace, ctx.namespaces)) continue;
        yield { kind: 'object', object };
      }
    } catch (error) {
      if (isAbortError(error) || ctx.abortSignal?.aborted || !isExpectedKubeFailure(error)) throw error;
      const namespace = /\/namespaces\/([^/]+)\//.exec(path)?.[1];
      yield {
        kind: 'gap',
        gap: gapFromError(listing.source, error, `${listing.resource}${namespace ? ` in ${decodeURIComponent(namespace)}` : ''}`, {
          ...(namespace ? { namespace: decodeURIComponent(namespace) } : {}),
        }),
      };
    }
  }
  if (relists.length > 0) {
    // Expired continue tokens cost a relist from scratch; objects were deduplicated by uid.
    yield { kind: 'coverage', coverage: { [listing.source]: { relistsAfterExpiredContinue: relists } } };
  }
}
