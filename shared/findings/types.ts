/**
 * The findings model shared by the RBAC and workload analyzers, the findings sources
 * (online) and `aks-evidence analyze` (offline). Analyzers are pure: objects in, findings out.
 */

/** Ordered from least to most severe. */
export const SEVERITIES = ['info', 'low', 'medium', 'high', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export function severityRank(severity: Severity): number {
  return SEVERITIES.indexOf(severity);
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return severityRank(a) >= severityRank(b) ? a : b;
}

export function isSeverity(value: string): value is Severity {
  return (SEVERITIES as readonly string[]).includes(value);
}

/** A Kubernetes object as read from the API or a file (wire format, camelCase JSON). */
export interface K8sObject {
  apiVersion?: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    creationTimestamp?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: { kind?: string; name?: string; uid?: string; controller?: boolean }[];
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** A reference to a workload object (pod or pod template owner). */
export interface WorkloadRef {
  kind: string;
  namespace: string;
  name: string;
  serviceAccount: string;
}

export type SubjectKind = 'User' | 'Group' | 'ServiceAccount';

export interface SubjectRef {
  kind: SubjectKind;
  name: string;
  /** ServiceAccount namespace; absent for users and groups. */
  namespace?: string;
}

/** The path from a subject to the policy rules that grant a capability. */
export interface GrantPath {
  bindingKind: 'RoleBinding' | 'ClusterRoleBinding';
  bindingName: string;
  /** RoleBinding namespace; absent for ClusterRoleBindings. */
  bindingNamespace?: string;
  roleKind: 'Role' | 'ClusterRole';
  roleName: string;
  /**
   * When the bound ClusterRole is aggregated: the chain of ClusterRoles the rule came through,
   * from the first aggregated role to the one that declares the rule (e.g. ['edit', 'system:aggregate-to-edit']).
   */
  aggregatedFrom?: string[];
  /** Indexes of the matching rules in the `rules` of the role that declares them. */
  ruleIndexes: number[];
}

export interface RbacFinding {
  type: 'rbac';
  /** Stable rule id, e.g. rbac.secrets-read. */
  ruleId: string;
  severity: Severity;
  title: string;
  description: string;
  subject: SubjectRef;
  grant: GrantPath;
  /** '*' when cluster-wide, otherwise the namespace the binding grants in. */
  scopeNamespace: string;
  verbs: string[];
  /** Matched resources, subresources as 'pods/exec'; nonResourceURLs as they are written. */
  resources: string[];
  apiGroups: string[];
  /** Set when every matching rule is limited to these names. */
  resourceNames?: string[];
  /** A default binding of Kubernetes or AKS (see EXPECTED_BINDINGS); hidden unless asked for. */
  expected: boolean;
  /** Why it is expected (the documented default it matches). */
  expectedReason?: string;
  /** Workloads whose pods run as a service account this subject covers. */
  workloads: WorkloadRef[];
  /** Count of such workloads (workloads may be capped). */
  workloadCount: number;
  /** One-line explanation of what matched and why this severity. */
  details: string;
  /** Creation time of the granting binding, when known. */
  createdAt?: string;
}

export type ContainerType = 'container' | 'init' | 'ephemeral';

export interface WorkloadFinding {
  type: 'workload';
  ruleId: string;
  severity: Severity;
  title: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
  /** Empty for pod-level findings. */
  containerName?: string;
  containerType?: ContainerType;
  /** Exact field path in the object, e.g. spec.template.spec.containers[1].securityContext.privileged. */
  fieldPath: string;
  details: string;
  serviceAccount: string;
  /** The controlling owner (e.g. ReplicaSet/web-7d9c) when the object is owned. */
  owner?: string;
  /** Creation time of the object, when known. */
  createdAt?: string;
}

export type Finding = RbacFinding | WorkloadFinding;

/** What an analysis could not see or resolve: stated, never silently ignored. */
export interface AnalysisNote {
  /** e.g. 'missing-role', 'unavailable-type', 'no-rbac-objects'. */
  code: string;
  message: string;
}
