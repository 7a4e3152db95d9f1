import type { ReflectedResource } from '../cluster/reflector.js';

/**
 * What a preservation window watches: pods (their deletions, terminations and restarts fetch
 * logs; their changes are recorded), events (appended), and the objects an attacker changes to
 * stay — workloads, RBAC, admission webhooks, CronJobs — recorded before and after. Secrets are
 * not watched: a watch would stream their values, and metadata-only watches are not what every
 * API server serves; the first collection lists them by metadata.
 */
/** The longest window: a week (a longer incident starts a new window). */
export const MAX_PRESERVE_SECONDS = 7 * 86400;

export interface WatchedResource extends ReflectedResource {
  /** What a change of it is recorded as: 'pods' (logs and changes), 'events' (appended), 'objects' (changes). */
  role: 'pods' | 'events' | 'objects';
}

function objects(group: string, version: string, resource: string): WatchedResource {
  const prefix = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return { key: group ? `${group}/${resource}` : resource, path: `${prefix}/${resource}`, cache: true, role: 'objects' };
}

export const WATCHED_RESOURCES: readonly WatchedResource[] = [
  { key: 'pods', path: '/api/v1/pods', cache: true, role: 'pods' },
  { key: 'events', path: '/api/v1/events', cache: false, role: 'events' },
  objects('apps', 'v1', 'deployments'),
  objects('apps', 'v1', 'daemonsets'),
  objects('apps', 'v1', 'statefulsets'),
  objects('apps', 'v1', 'replicasets'),
  objects('batch', 'v1', 'jobs'),
  objects('batch', 'v1', 'cronjobs'),
  objects('rbac.authorization.k8s.io', 'v1', 'roles'),
  objects('rbac.authorization.k8s.io', 'v1', 'rolebindings'),
  objects('rbac.authorization.k8s.io', 'v1', 'clusterroles'),
  objects('rbac.authorization.k8s.io', 'v1', 'clusterrolebindings'),
  objects('admissionregistration.k8s.io', 'v1', 'mutatingwebhookconfigurations'),
  objects('admissionregistration.k8s.io', 'v1', 'validatingwebhookconfigurations'),
];

/**
 * The smallest load budget (--concurrency) a window can run under: each watched resource keeps
 * one watch stream open, and each open stream holds a permit of the budget for as long as it is
 * open; at least one permit must stay free for the log fetches the watches trigger.
 */
export function minimumPreservationBudget(resources: readonly WatchedResource[] = WATCHED_RESOURCES): number {
  return resources.length + 1;
}

/** The shortest window a run can ask for: one bounded preservation activity's worth. */
export const MIN_PRESERVE_SECONDS = 60;

/**
 * What is wrong with a window of `seconds` under a load budget of `concurrency` (undefined when
 * nothing is): the HTTP request's preserveFor, the Sentinel incident's, and the app setting
 * that gives every Sentinel-started run a window are checked by this one rule.
 */
export function preserveForProblem(seconds: number, concurrency: number | undefined, budgetSetting = 'AKS_EVIDENCE_CONCURRENCY'): string | undefined {
  if (!Number.isInteger(seconds) || seconds < MIN_PRESERVE_SECONDS || seconds > MAX_PRESERVE_SECONDS) {
    return `must be from ${MIN_PRESERVE_SECONDS} seconds to 7 days (${MAX_PRESERVE_SECONDS} seconds), e.g. "24h"; got ${String(seconds)}`;
  }
  const floor = minimumPreservationBudget();
  if (concurrency !== undefined && concurrency < floor) {
    return `a preservation window keeps ${floor - 1} watch streams open, each holding one request of the load budget, and needs one more for log fetches: the deployment's ${budgetSetting} (${concurrency}) must be at least ${floor}`;
  }
  return undefined;
}
