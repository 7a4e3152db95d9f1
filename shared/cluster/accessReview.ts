import pLimit from 'p-limit';
import type { Gap } from '../evidence/types.js';
import type { ClusterFacts } from './facts.js';
import { AksEvidenceError, describeError } from '../util/errors.js';
import { describeKubeError, KubeApi, kubeErrorStatus } from './kubeApi.js';
import type { KubeConfigLike } from './kubeConfig.js';

/**
 * What each source needs from the Kubernetes API, checked with SelfSubjectAccessReviews
 * before collection starts: a missing permission becomes a named gap up front ("cannot
 * create pods/exec: no command history"), not a surprise halfway through.
 */

export interface AccessRequirement {
  verb: 'get' | 'list' | 'create' | 'watch';
  resource: string;
  group?: string;
  subresource?: string;
}

export function describeRequirement(r: AccessRequirement): string {
  const resource = `${r.resource}${r.subresource ? `/${r.subresource}` : ''}`;
  return `${r.verb} ${r.group ? `${resource}.${r.group}` : resource}`;
}

export interface AccessReviewResult {
  access: NonNullable<ClusterFacts['access']>;
  gaps: Gap[];
}

/** What each source needs from the Kubernetes API, by source name (each source declares its own). */
export type AccessRequirements = Readonly<Record<string, readonly AccessRequirement[]>>;

/**
 * Review every requirement of the given sources (each distinct check once, cluster-wide).
 * A source whose review could not run is reported in `gaps`, not thrown.
 */
export async function reviewSourceAccess(
  kubeConfig: KubeConfigLike,
  requirements: AccessRequirements,
  options: { concurrency?: number; abortSignal?: AbortSignal } = {},
): Promise<AccessReviewResult> {
  const api = KubeApi.for(kubeConfig);
  const limit = pLimit(options.concurrency ?? 8);
  const checks = new Map<string, Promise<boolean | Error>>();
  const check = (r: AccessRequirement): Promise<boolean | Error> => {
    const key = describeRequirement(r);
    let p = checks.get(key);
    if (!p) {
      p = limit(async () => {
        options.abortSignal?.throwIfAborted();
        try {
          const review = await api.postJson<{ status?: { allowed?: boolean } }>(
            '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
            {
              apiVersion: 'authorization.k8s.io/v1',
              kind: 'SelfSubjectAccessReview',
              spec: {
                resourceAttributes: {
                  verb: r.verb,
                  resource: r.resource,
                  ...(r.group ? { group: r.group } : {}),
                  ...(r.subresource ? { subresource: r.subresource } : {}),
                },
              },
            },
            { retry: { maxAttempts: 3 }, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) },
          );
          return Boolean(review.status?.allowed);
        } catch (error) {
          return error instanceof Error ? error : new Error(String(error));
        }
      });
      checks.set(key, p);
    }
    return p;
  };

  const access: NonNullable<ClusterFacts['access']> = {};
  const gaps: Gap[] = [];
  for (const [source, reqs] of Object.entries(requirements)) {
    const outcomes = await Promise.all(reqs.map(async (r) => [r, await check(r)] as const));
    const failed = outcomes.filter(([, o]) => o instanceof Error);
    const missing = outcomes.filter(([, o]) => o === false).map(([r]) => describeRequirement(r));
    if (failed.length) {
      const first = failed[0]?.[1] as Error;
      const status = kubeStatus(first);
      gaps.push({
        source,
        reason: status === 401 ? 'unauthorized' : status === 403 ? 'forbidden' : 'error',
        detail: `access review could not run (${status ? `HTTP ${status}` : 'no answer'}: ${safeMessage(first)}); collection will try anyway`,
      });
    }
    access[source] = { allowed: missing.length === 0 && failed.length === 0, missing };
    if (missing.length) {
      gaps.push({
        source,
        reason: 'forbidden',
        detail: `the collector's identity may not ${missing.join(', ')} (self-subject access review); grant it through Azure RBAC or a Kubernetes RoleBinding, or expect this source to be partial`,
      });
    }
  }
  return { access, gaps };
}

function kubeStatus(error: unknown): number | undefined {
  return kubeErrorStatus(error);
}

/** One line of the failure, bounded. */
function safeMessage(error: Error): string {
  return describeKubeError(error).split('\n')[0]?.slice(0, 200) ?? describeError(error);
}

/**
 * Count the pods for shard planning, cheaply: one list with limit=1 reads remainingItemCount;
 * servers that do not send it are paged through (500 per page) and counted.
 */
export async function countPods(kubeConfig: KubeConfigLike, options: { pageSize?: number; maxPages?: number; abortSignal?: AbortSignal } = {}): Promise<number> {
  const api = KubeApi.for(kubeConfig);
  interface PodList {
    items?: unknown[] | null;
    metadata?: { continue?: string; remainingItemCount?: number };
  }
  const request = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  try {
    const first = await api.getJson<PodList>('/api/v1/pods', { limit: 1 }, request);
    const remaining = first.metadata?.remainingItemCount;
    if (!first.metadata?.continue) return first.items?.length ?? 0;
    if (typeof remaining === 'number') return (first.items?.length ?? 0) + remaining;
    let count = 0;
    let cont: string | undefined;
    const pageSize = options.pageSize ?? 500;
    const maxPages = options.maxPages ?? 400;
    for (let page = 0; page < maxPages; page++) {
      options.abortSignal?.throwIfAborted();
      const list = await api.getJson<PodList>('/api/v1/pods', { limit: pageSize, continue: cont }, request);
      count += list.items?.length ?? 0;
      cont = list.metadata?.continue || undefined;
      if (!cont) return count;
    }
    return count;
  } catch (error) {
    throw new AksEvidenceError('ERR_POD_COUNT', `counting pods failed (${kubeStatus(error) ?? 'no answer'}: ${safeMessage(error as Error)})`, { cause: error });
  }
}
