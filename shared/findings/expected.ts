import { severityRank, type GrantPath, type Severity, type SubjectRef } from './types.js';

/**
 * Default bindings of Kubernetes (the RBAC bootstrap policy the API server creates) and of AKS,
 * with the RBAC rule ids each one is expected to trigger. A finding is marked `expected` only
 * when the binding, the role it refers to, the subject AND the rule id all match an entry:
 * a subject added to a default binding, a default binding pointed at another role, or a default
 * role that gained a capability outside its list is reported like any other finding.
 *
 * Limits, stated: a capability added to a default role that the role already had under another
 * rule id stays hidden behind that id (e.g. more secrets on a controller that reads secrets);
 * bindings of AKS add-ons not listed here are reported, not hidden.
 */
export interface ExpectedBinding {
  bindingKind: 'ClusterRoleBinding' | 'RoleBinding';
  bindingName: string;
  bindingNamespace?: string;
  roleKind: 'ClusterRole' | 'Role';
  roleName: string;
  subject: SubjectRef;
  /** RBAC rule ids this default grant triggers; '*' for every rule. */
  ruleIds: readonly string[] | '*';
  /** Expected only up to this severity (a default role that gained a capability is not hidden). */
  maxSeverity?: Severity;
  why: string;
}

const PUBLIC = ['rbac.public-binding'];

/**
 * kube-controller-manager controllers that run with their own service account in kube-system,
 * bound by ClusterRoleBinding system:controller:<name> to ClusterRole system:controller:<name>,
 * and the rule ids their default roles trigger.
 */
export const CONTROLLER_SERVICE_ACCOUNTS: Readonly<Record<string, readonly string[]>> = {
  'attachdetach-controller': [],
  'certificate-controller': ['rbac.csr-approve'],
  'clusterrole-aggregation-controller': ['rbac.escalate-bind'],
  'cronjob-controller': ['rbac.workload-create'],
  'daemon-set-controller': ['rbac.workload-create'],
  'deployment-controller': ['rbac.workload-create'],
  'disruption-controller': [],
  'endpoint-controller': [],
  'endpointslice-controller': [],
  'endpointslicemirroring-controller': [],
  'ephemeral-volume-controller': [],
  // Older releases let the expand controller read secrets for in-tree volume plugins.
  'expand-controller': ['rbac.secrets-read'],
  // get/list/watch/patch/update/delete on */*: reads secrets, patches workloads, bindings and
  // webhooks, proxies to nodes, deletes events: it is the garbage collector.
  'generic-garbage-collector': [
    'rbac.secrets-read',
    'rbac.workload-create',
    'rbac.pod-exec',
    'rbac.rolebinding-modify',
    'rbac.webhook-modify',
    'rbac.node-proxy',
    'rbac.events-delete',
  ],
  'horizontal-pod-autoscaler': [],
  'job-controller': ['rbac.workload-create'],
  'legacy-service-account-token-cleaner': [],
  // get/list/delete/deletecollection on */*: it empties deleted namespaces.
  'namespace-controller': ['rbac.secrets-read', 'rbac.pod-exec', 'rbac.webhook-modify', 'rbac.node-proxy', 'rbac.events-delete'],
  'node-controller': [],
  'persistent-volume-binder': ['rbac.workload-create', 'rbac.secrets-read'],
  'pod-garbage-collector': [],
  'pv-protection-controller': [],
  'pvc-protection-controller': [],
  'replicaset-controller': ['rbac.workload-create'],
  'replication-controller': ['rbac.workload-create'],
  // list/watch on */* for quota usage.
  'resourcequota-controller': ['rbac.secrets-read'],
  'root-ca-cert-publisher': [],
  'route-controller': [],
  'selinux-warning-controller': [],
  'service-account-controller': [],
  'service-cidrs-controller': [],
  'service-controller': [],
  'statefulset-controller': ['rbac.workload-create'],
  'ttl-after-finished-controller': [],
  'ttl-controller': [],
  'validatingadmissionpolicy-status-controller': [],
  'volumeattributesclass-protection-controller': [],
};

const sa = (name: string, namespace = 'kube-system'): SubjectRef => ({ kind: 'ServiceAccount', name, namespace });
const user = (name: string): SubjectRef => ({ kind: 'User', name });
const group = (name: string): SubjectRef => ({ kind: 'Group', name });

const crb = (name: string, roleName: string, subject: SubjectRef, ruleIds: readonly string[] | '*', why: string): ExpectedBinding => ({
  bindingKind: 'ClusterRoleBinding',
  bindingName: name,
  roleKind: 'ClusterRole',
  roleName,
  subject,
  ruleIds,
  // A public default binding is expected only while its role grants nothing risky.
  ...(ruleIds === PUBLIC ? { maxSeverity: 'low' as const } : {}),
  why,
});

const rb = (namespace: string, name: string, roleName: string, subject: SubjectRef, ruleIds: readonly string[], why: string): ExpectedBinding => ({
  bindingKind: 'RoleBinding',
  bindingName: name,
  bindingNamespace: namespace,
  roleKind: 'Role',
  roleName,
  subject,
  ruleIds,
  why,
});

/** The documented list. */
export const EXPECTED_BINDINGS: readonly ExpectedBinding[] = [
  // Kubernetes bootstrap policy: cluster role bindings.
  crb('cluster-admin', 'cluster-admin', group('system:masters'), '*', 'Kubernetes default: system:masters is cluster-admin (membership comes from client certificates, not RBAC).'),
  crb('system:basic-user', 'system:basic-user', group('system:authenticated'), PUBLIC, 'Kubernetes default: every authenticated user may review its own access.'),
  crb('system:discovery', 'system:discovery', group('system:authenticated'), PUBLIC, 'Kubernetes default: API discovery for authenticated users.'),
  crb('system:public-info-viewer', 'system:public-info-viewer', group('system:authenticated'), PUBLIC, 'Kubernetes default: /healthz, /livez, /readyz, /version for everyone.'),
  crb('system:public-info-viewer', 'system:public-info-viewer', group('system:unauthenticated'), PUBLIC, 'Kubernetes default: /healthz, /livez, /readyz, /version for everyone.'),
  crb(
    'system:kube-controller-manager',
    'system:kube-controller-manager',
    user('system:kube-controller-manager'),
    ['rbac.secrets-read', 'rbac.sa-token-create'],
    'Kubernetes default: the controller manager manages service account tokens and reads secrets.',
  ),
  crb('system:kube-scheduler', 'system:kube-scheduler', user('system:kube-scheduler'), [], 'Kubernetes default: the scheduler binds pods to nodes.'),
  crb('system:volume-scheduler', 'system:volume-scheduler', user('system:kube-scheduler'), [], 'Kubernetes default: volume binding by the scheduler.'),
  crb('system:kube-dns', 'system:kube-dns', sa('kube-dns'), [], 'Kubernetes default: DNS watches services and endpoints.'),
  crb('system:node-proxier', 'system:node-proxier', user('system:kube-proxy'), [], 'Kubernetes default: kube-proxy watches services and endpoints.'),
  crb('system:monitoring', 'system:monitoring', group('system:monitoring'), [], 'Kubernetes default: metrics and health endpoints for monitoring.'),
  crb(
    'system:service-account-issuer-discovery',
    'system:service-account-issuer-discovery',
    group('system:serviceaccounts'),
    [],
    'Kubernetes default: OIDC discovery documents for service accounts.',
  ),
  crb(
    'system:node',
    'system:node',
    group('system:nodes'),
    ['rbac.secrets-read', 'rbac.workload-create', 'rbac.sa-token-create', 'rbac.csr-approve'],
    'Kubernetes default (legacy clusters): kubelets, further limited by the Node authorizer.',
  ),
  // Controllers.
  ...Object.entries(CONTROLLER_SERVICE_ACCOUNTS).map(([name, ruleIds]) =>
    crb(`system:controller:${name}`, `system:controller:${name}`, sa(name), ruleIds, `Kubernetes default: the ${name} of kube-controller-manager.`),
  ),
  // Kubernetes bootstrap policy: role bindings in kube-system and kube-public.
  rb(
    'kube-system',
    'system::extension-apiserver-authentication-reader',
    'extension-apiserver-authentication-reader',
    user('system:kube-controller-manager'),
    [],
    'Kubernetes default: reads the authentication config map.',
  ),
  rb(
    'kube-system',
    'system::extension-apiserver-authentication-reader',
    'extension-apiserver-authentication-reader',
    user('system:kube-scheduler'),
    [],
    'Kubernetes default: reads the authentication config map.',
  ),
  rb(
    'kube-system',
    'system::leader-locking-kube-controller-manager',
    'system::leader-locking-kube-controller-manager',
    sa('kube-controller-manager'),
    [],
    'Kubernetes default: leader election.',
  ),
  rb(
    'kube-system',
    'system::leader-locking-kube-controller-manager',
    'system::leader-locking-kube-controller-manager',
    user('system:kube-controller-manager'),
    [],
    'Kubernetes default: leader election.',
  ),
  rb('kube-system', 'system::leader-locking-kube-scheduler', 'system::leader-locking-kube-scheduler', sa('kube-scheduler'), [], 'Kubernetes default: leader election.'),
  rb('kube-system', 'system::leader-locking-kube-scheduler', 'system::leader-locking-kube-scheduler', user('system:kube-scheduler'), [], 'Kubernetes default: leader election.'),
  rb(
    'kube-system',
    'system:controller:bootstrap-signer',
    'system:controller:bootstrap-signer',
    sa('bootstrap-signer'),
    ['rbac.secrets-read'],
    'Kubernetes default: signs the cluster-info config map with bootstrap token secrets.',
  ),
  rb(
    'kube-public',
    'system:controller:bootstrap-signer',
    'system:controller:bootstrap-signer',
    sa('bootstrap-signer'),
    [],
    'Kubernetes default: updates the cluster-info config map.',
  ),
  rb('kube-system', 'system:controller:cloud-provider', 'system:controller:cloud-provider', sa('cloud-provider'), [], 'Kubernetes default: cloud provider config map.'),
  rb(
    'kube-system',
    'system:controller:token-cleaner',
    'system:controller:token-cleaner',
    sa('token-cleaner'),
    ['rbac.secrets-read'],
    'Kubernetes default: deletes expired bootstrap token secrets.',
  ),
  // AKS.
  crb(
    'aks-cluster-admin-binding',
    'cluster-admin',
    user('clusterAdmin'),
    '*',
    'AKS default: the local admin account (az aks get-credentials --admin). Disable local accounts to remove it.',
  ),
  crb('aks-service-rolebinding', 'aks-service', user('aks-support'), '*', 'AKS default: the AKS service identity used by Microsoft support operations.'),
  crb('system:coredns', 'system:coredns', sa('coredns'), [], 'AKS default: CoreDNS watches services, endpoints and pods.'),
  crb('system:metrics-server', 'system:metrics-server', sa('metrics-server'), [], 'AKS default: metrics-server reads node and pod metrics.'),
  crb('system:azure-cloud-provider', 'system:azure-cloud-provider', sa('azure-cloud-provider'), [], 'AKS default: the Azure cloud provider.'),
  crb(
    'csi-azuredisk-node-secret-binding',
    'csi-azuredisk-node-secret-role',
    sa('csi-azuredisk-node-sa'),
    ['rbac.secrets-read'],
    'AKS default: the Azure Disk CSI node plugin reads storage secrets.',
  ),
  crb(
    'csi-azurefile-node-secret-binding',
    'csi-azurefile-node-secret-role',
    sa('csi-azurefile-node-sa'),
    ['rbac.secrets-read'],
    'AKS default: the Azure File CSI node plugin reads storage account key secrets.',
  ),
];

/** The expected-list entry a finding matches, if any. */
export function findExpected(
  ruleId: string,
  severity: Severity,
  subject: SubjectRef,
  grant: Pick<GrantPath, 'bindingKind' | 'bindingName' | 'bindingNamespace' | 'roleKind' | 'roleName'>,
  list: readonly ExpectedBinding[] = EXPECTED_BINDINGS,
): ExpectedBinding | undefined {
  return list.find(
    (e) =>
      e.bindingKind === grant.bindingKind &&
      e.bindingName === grant.bindingName &&
      (e.bindingNamespace ?? undefined) === (grant.bindingNamespace ?? undefined) &&
      e.roleKind === grant.roleKind &&
      e.roleName === grant.roleName &&
      e.subject.kind === subject.kind &&
      e.subject.name === subject.name &&
      (e.subject.namespace ?? undefined) === (subject.namespace ?? undefined) &&
      (e.ruleIds === '*' || e.ruleIds.includes(ruleId)) &&
      (e.maxSeverity === undefined || severityRank(severity) <= severityRank(e.maxSeverity)),
  );
}
