import type { ClusterRef } from './clusterRef.js';
import { findManagedClusterId } from './clusterRef.js';
import type { ArmClients } from './arm.js';

/**
 * Which AKS cluster owns a node resource group (MC_<group>_<cluster>_<region>, or a custom
 * name): a node-level alert names a scale set or VM there, not the cluster. The managed
 * cluster's `nodeResourceGroup` property is the only authority (custom names and underscores
 * in group or cluster names make the MC_ name ambiguous), so the clusters of the subscription
 * are listed and matched. ARM filters a list to what the caller may read: the Function's
 * identity sees the clusters it was given access to.
 */
export interface NodeResourceGroupResolver {
  clustersOwning(subscriptionId: string, nodeResourceGroup: string, options: { abortSignal: AbortSignal }): Promise<ClusterRef[]>;
}

/** Clusters looked at per subscription, at most. */
const MAX_CLUSTERS_LISTED = 2_000;

export function createNodeResourceGroupResolver(clientsFor: (subscriptionId: string) => ArmClients): NodeResourceGroupResolver {
  return {
    async clustersOwning(subscriptionId, nodeResourceGroup, { abortSignal }) {
      const wanted = nodeResourceGroup.toLowerCase();
      const found: ClusterRef[] = [];
      let seen = 0;
      for await (const mc of clientsFor(subscriptionId).containerService.managedClusters.list({ abortSignal })) {
        if (++seen > MAX_CLUSTERS_LISTED) break;
        if (mc.nodeResourceGroup?.toLowerCase() !== wanted || !mc.id) continue;
        const ref = findManagedClusterId(mc.id);
        if (ref) found.push(ref);
      }
      return found;
    },
  };
}
