/**
 * An AKS managed cluster named by Azure Resource Manager: the one identity every trigger
 * resolves to. ARM ids are case-insensitive; `key` is the lower-cased id used wherever two
 * spellings of the same cluster must compare equal (instance ids, de-duplication).
 */
export interface ClusterRef {
  /** /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name> */
  resourceId: string;
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export const SUBSCRIPTION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Resource group names: 1-90 of letters, digits, _ - . ( ), not ending in a period. */
export const RESOURCE_GROUP_PATTERN = /^[-\w.()]{0,89}[-\w()]$/u;
/** AKS cluster names: 1-63 of letters, digits, _ and -, starting and ending with a letter or digit. */
export const CLUSTER_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

const MANAGED_CLUSTER_ID = /^\/subscriptions\/([^/]+)\/resourcegroups\/([^/]+)\/providers\/microsoft\.containerservice\/managedclusters\/([^/]+)\/?$/i;

/** Everything after the cluster segment is ignored: alert ids are often sub-resources of it. */
const MANAGED_CLUSTER_PREFIX =
  /\/subscriptions\/([0-9a-f-]{36})\/resourcegroups\/([-\w.()]{1,90})\/providers\/microsoft\.containerservice\/managedclusters\/([A-Za-z0-9_-]{1,63})(?=$|[/?#"\s])/i;

export const EXAMPLE_CLUSTER_ID = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod';

export function clusterKey(ref: ClusterRef): string {
  return ref.resourceId.toLowerCase();
}

export function buildClusterRef(subscriptionId: string, resourceGroup: string, name: string): ClusterRef {
  return {
    resourceId: `/subscriptions/${subscriptionId.toLowerCase()}/resourceGroups/${resourceGroup}/providers/Microsoft.ContainerService/managedClusters/${name}`,
    subscriptionId: subscriptionId.toLowerCase(),
    resourceGroup,
    name,
  };
}

/**
 * Parse an exact managedClusters resource id. Returns a reason naming what is wrong and the
 * expected shape, so a 400 can tell the caller how to fix it.
 */
export function parseManagedClusterId(id: string): { ok: true; ref: ClusterRef } | { ok: false; reason: string } {
  const m = MANAGED_CLUSTER_ID.exec(id.trim());
  if (!m) {
    return {
      ok: false,
      reason: `not an AKS managed cluster resource id; expected ${EXAMPLE_CLUSTER_ID}`,
    };
  }
  const [, sub = '', rg = '', name = ''] = m;
  if (!SUBSCRIPTION_ID_PATTERN.test(sub)) return { ok: false, reason: `subscription "${sub}" is not a GUID` };
  if (!RESOURCE_GROUP_PATTERN.test(rg)) return { ok: false, reason: `resource group "${rg}" is not a valid resource group name` };
  if (!CLUSTER_NAME_PATTERN.test(name)) return { ok: false, reason: `cluster name "${name}" is not a valid AKS cluster name` };
  return { ok: true, ref: buildClusterRef(sub, rg, name) };
}

/**
 * Find a managed cluster id at the start of, or inside, a longer ARM id (an alert or a
 * sub-resource of the cluster). Case-insensitive, as ARM is.
 */
export function findManagedClusterId(text: string): ClusterRef | undefined {
  const m = MANAGED_CLUSTER_PREFIX.exec(text);
  if (!m) return undefined;
  const [, sub = '', rg = '', name = ''] = m;
  if (!SUBSCRIPTION_ID_PATTERN.test(sub) || !RESOURCE_GROUP_PATTERN.test(rg) || !CLUSTER_NAME_PATTERN.test(name)) return undefined;
  return buildClusterRef(sub, rg, name);
}
