import type { ClusterIdentity, Gap } from '../evidence/types.js';

/** Where the cluster's kube-audit / kube-audit-admin diagnostic settings send the audit log. */
export interface AuditLogCoverage {
  enabled: boolean;
  categories: string[];
  destinations: { workspaceId?: string; storageAccountId?: string }[];
}

/** Facts from cluster resolution (ARM + access review). No credential, ever. */
export interface ClusterFacts {
  cluster: ClusterIdentity;
  /** 'entra' (AKS-managed Entra ID / Azure RBAC), 'local-accounts', or 'kubeconfig' for the CLI. */
  authMode: 'entra' | 'local-accounts' | 'kubeconfig';
  localAccountsDisabled?: boolean;
  privateCluster?: boolean;
  /** Addons such as omsagent (Container Insights), azurepolicy. */
  addons?: Record<string, boolean>;
  /** kube-audit / kube-audit-admin diagnostic settings and where they go. */
  audit?: AuditLogCoverage;
  /** Per source: may this identity read what it needs? From self-subject access reviews. */
  access?: Record<string, { allowed: boolean; missing: string[] }>;
  /** Pod count at resolution time: drives shard planning. */
  podCount?: number;
  /** Run-level gaps found during resolution (audit log not enabled first). */
  gaps: Gap[];
}
