import { clusterRead, kubeAccess, type AzurePermission } from '../types.js';
import type { TypeListing } from './listTypes.js';

/** The workload kinds the findings sources list: workloadfindings analyzes them, rbacfindings maps them to service accounts. */

/** Every workload kind with a pod template (and pods themselves). */
export const WORKLOAD_LISTINGS: readonly TypeListing[] = [
  { groupVersionPath: '/api/v1', resource: 'pods', namespaced: true },
  { groupVersionPath: '/api/v1', resource: 'replicationcontrollers', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'deployments', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'daemonsets', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'statefulsets', namespaced: true },
  { groupVersionPath: '/apis/apps/v1', resource: 'replicasets', namespaced: true },
  { groupVersionPath: '/apis/batch/v1', resource: 'jobs', namespaced: true },
  { groupVersionPath: '/apis/batch/v1', resource: 'cronjobs', namespaced: true },
];

/** List access and Azure read permissions for the workload listings (also used by rbacfindings). */
export const WORKLOAD_ACCESS = WORKLOAD_LISTINGS.map((l) => {
  const group = /^\/apis\/([^/]+)\//.exec(l.groupVersionPath)?.[1];
  return kubeAccess('list', l.resource, group ? { group } : {});
});
export function workloadReadPermissions(why: string): AzurePermission[] {
  return WORKLOAD_LISTINGS.map((l) => {
    const group = /^\/apis\/([^/]+)\//.exec(l.groupVersionPath)?.[1];
    return clusterRead(group ? `${group}/${l.resource}` : l.resource, why);
  });
}
