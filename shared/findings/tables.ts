import { column, type Row, type TableDefinition } from '../tables/table.js';
import { grantPathText } from './rbac.js';
import type { RbacFinding, WorkloadFinding } from './types.js';

/**
 * The findings tables and the row mapping of findings into them. TimeGenerated is the creation
 * time of the object the finding is about (the granting binding, the workload), so a binding
 * made during an incident lands at its place in the timeline; the collection time when unknown.
 */

const c = column;

export const RBAC_FINDINGS_TABLE: TableDefinition = {
  name: 'rbacfindings_CL',
  source: 'rbacfindings',
  description: 'RBAC risk: who can do what, one row per rule × subject × granting binding, with the path that grants it.',
  columns: [
    c('TimeGenerated', 'datetime', 'Creation time of the granting binding (the collection time when unknown), UTC.'),
    c('rule_id', 'string', 'Stable rule id, e.g. rbac.secrets-read.'),
    c('severity', 'string', 'critical | high | medium | low | info.'),
    // Not `title`: Log Analytics reserves it (compared case-insensitively with Title).
    c('finding_title', 'string', 'Rule title.'),
    c('subject_kind', 'string', 'User | Group | ServiceAccount.'),
    c('subject_name', 'string', 'Subject name.'),
    c('subject_namespace', 'string', 'ServiceAccount namespace (empty for users and groups).'),
    c('scope_namespace', 'string', "Namespace the grant applies in; '*' cluster-wide."),
    c('binding_kind', 'string', 'RoleBinding | ClusterRoleBinding.'),
    c('binding_name', 'string', 'Granting binding.'),
    c('role_kind', 'string', 'Role | ClusterRole.'),
    c('role_name', 'string', 'Role the binding refers to.'),
    c('aggregated_from', 'string', 'For an aggregated ClusterRole: the chain of ClusterRoles the rule came through (a > b), else empty.'),
    c('verbs', 'string', 'Matched verbs, comma-separated.'),
    c('resources', 'string', 'Matched resources (subresources as pods/exec), comma-separated.'),
    c('expected', 'boolean', 'True for a documented default binding of Kubernetes/AKS (see shared/findings/expected.ts).'),
    c('workloads', 'string', 'Workloads running as a service account this subject covers (JSON array of "Kind namespace/name (sa)"), capped.'),
    c('details', 'string', 'What matched: role, rule index, verbs and resources, limits.'),
    c('binding_namespace', 'string', 'RoleBinding namespace (empty for ClusterRoleBindings).'),
    c('rule_indexes', 'string', 'Indexes of the matching rules in the declaring role, comma-separated.'),
    c('resource_names', 'string', 'When every matching rule is limited by resourceNames: those names, comma-separated.'),
    c('api_groups', 'string', 'Matched API groups, comma-separated ("" is the core group).'),
    c('workload_count', 'int', 'Number of such workloads (the workloads column may be capped).'),
    c('grant_path', 'string', 'The whole path: binding → role [→ aggregated from …] → rule index.'),
    c('expected_reason', 'string', 'Why the finding is expected (the documented default it matches).'),
  ],
  timeline: { eventType: 'RbacFinding', namespace: 'scope_namespace', summary: 'details' },
};

export const WORKLOAD_FINDINGS_TABLE: TableDefinition = {
  name: 'workloadfindings_CL',
  source: 'workloadfindings',
  description:
    'Dangerous workloads of every kind (Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, ReplicationController), one row per finding with the exact field path.',
  columns: [
    c('TimeGenerated', 'datetime', 'Creation time of the workload object (the collection time when unknown), UTC.'),
    c('rule_id', 'string', 'Stable rule id, e.g. workload.privileged.'),
    c('severity', 'string', 'high | medium | low.'),
    c('kind', 'string', 'Object kind.'),
    c('namespace', 'string', 'Namespace.'),
    c('name', 'string', 'Object name.'),
    c('container_name', 'string', 'Container concerned, empty for pod-level findings.'),
    c('container_type', 'string', 'container | init | ephemeral, empty for pod-level findings.'),
    c('field_path', 'string', 'Exact field path, e.g. spec.template.spec.containers[1].securityContext.privileged.'),
    c('details', 'string', 'What triggered it.'),
    c('service_account', 'string', 'Service account the pods run as.'),
    // Not `title`: Log Analytics reserves it (compared case-insensitively with Title).
    c('finding_title', 'string', 'Rule title.'),
    c('owner', 'string', 'Controlling owner Kind/name, when the object is owned.'),
    c('uid', 'string', 'Object uid.'),
  ],
  timeline: { eventType: 'WorkloadFinding', namespace: 'namespace', pod: 'name', summary: 'details' },
};

export function workloadRefText(w: { kind: string; namespace: string; name: string; serviceAccount: string }): string {
  return `${w.kind} ${w.namespace}/${w.name} (${w.serviceAccount})`;
}

/** A rbacfindings_CL row. */
export function rbacFindingRow(f: RbacFinding, collectedAt: string): Row {
  return {
    TimeGenerated: validTime(f.createdAt) ?? collectedAt,
    rule_id: f.ruleId,
    severity: f.severity,
    finding_title: f.title,
    subject_kind: f.subject.kind,
    subject_name: f.subject.name,
    subject_namespace: f.subject.namespace ?? '',
    scope_namespace: f.scopeNamespace,
    binding_kind: f.grant.bindingKind,
    binding_name: f.grant.bindingName,
    role_kind: f.grant.roleKind,
    role_name: f.grant.roleName,
    aggregated_from: (f.grant.aggregatedFrom ?? []).join(' > '),
    verbs: f.verbs.join(','),
    resources: f.resources.join(','),
    expected: f.expected,
    workloads: JSON.stringify(f.workloads.map(workloadRefText)),
    details: f.details,
    binding_namespace: f.grant.bindingNamespace ?? '',
    rule_indexes: f.grant.ruleIndexes.join(','),
    resource_names: (f.resourceNames ?? []).join(','),
    api_groups: f.apiGroups.join(','),
    workload_count: f.workloadCount,
    grant_path: grantPathText(f.grant),
    expected_reason: f.expectedReason ?? '',
  };
}

/** A workloadfindings_CL row. */
export function workloadFindingRow(f: WorkloadFinding, collectedAt: string): Row {
  return {
    TimeGenerated: validTime(f.createdAt) ?? collectedAt,
    rule_id: f.ruleId,
    severity: f.severity,
    kind: f.kind,
    namespace: f.namespace,
    name: f.name,
    container_name: f.containerName ?? '',
    container_type: f.containerType ?? '',
    field_path: f.fieldPath,
    details: f.details,
    service_account: f.serviceAccount,
    finding_title: f.title,
    owner: f.owner ?? '',
    uid: f.uid ?? '',
  };
}

/** UTC RFC 3339 of a time string, or undefined when it is not one. */
export function validTime(value: string | undefined): string | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}
