/**
 * Azure role definitions the deployment uses: the built-in roles it assigns (ids verified
 * against Microsoft's published role list) and the two custom roles it defines — the
 * collector role the Function's identity gets on clusters, and the workstation role for
 * running the CLI (infra/custom-role.cli.json).
 */

export interface BuiltInRole {
  name: string;
  /** Role definition GUID: the same in every tenant. */
  id: string;
  /** Why this deployment assigns it. */
  usedFor: string;
}

/**
 * Ids from MicrosoftDocs/azure-docs, articles/role-based-access-control/built-in-roles/
 * (monitor.md, storage.md, security.md), each role's JSON `"name"`.
 */
export const BUILT_IN_ROLES = {
  // monitor.md › Monitoring Metrics Publisher: dataActions Microsoft.Insights/Metrics/Write, Microsoft.Insights/Telemetry/Write.
  monitoringMetricsPublisher: {
    name: 'Monitoring Metrics Publisher',
    id: '3913510d-42f4-4e42-8a64-420c390055eb',
    usedFor: 'Logs Ingestion API on each DCR; Entra-authenticated telemetry to Application Insights',
  },
  // storage.md › Storage Blob Data Contributor: blobs read/write/delete/add/move.
  storageBlobDataContributor: {
    name: 'Storage Blob Data Contributor',
    id: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe',
    usedFor: 'write and read evidence, scoped to the evidence container only',
  },
  // storage.md › Storage Blob Data Owner: containers/*, blobs/*.
  storageBlobDataOwner: {
    name: 'Storage Blob Data Owner',
    id: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
    usedFor: 'Functions host storage (AzureWebJobsStorage, deployment package container), as the Functions documentation requires',
  },
  // storage.md › Storage Queue Data Contributor.
  storageQueueDataContributor: {
    name: 'Storage Queue Data Contributor',
    id: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
    usedFor: 'Durable Functions control and work-item queues in the host storage account',
  },
  // storage.md › Storage Table Data Contributor.
  storageTableDataContributor: {
    name: 'Storage Table Data Contributor',
    id: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
    usedFor: 'Durable Functions history and instance tables in the host storage account',
  },
  // security.md › Key Vault Secrets Officer: Microsoft.KeyVault/vaults/secrets/* (data).
  keyVaultSecretsOfficer: {
    name: 'Key Vault Secrets Officer',
    id: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
    usedFor: 'the Functions host keeps its keys in the vault (AzureWebJobsSecretStorageType=keyvault)',
  },
  // security.md › Key Vault Secrets User: secrets/getSecret/action, secrets/readMetadata/action.
  keyVaultSecretsUser: {
    name: 'Key Vault Secrets User',
    id: '4633458b-17de-408a-b874-0445c86b69e6',
    usedFor: 'the playbook reads the Function key, scoped to that one secret',
  },
  // security.md › Microsoft Sentinel Automation Contributor: workflows/triggers/listCallbackUrl/action, ...
  sentinelAutomationContributor: {
    name: 'Microsoft Sentinel Automation Contributor',
    id: 'f4c81013-99ee-4d62-a7ee-b3f1f648599a',
    usedFor: 'lets the Azure Security Insights service principal run the playbook from an automation rule',
  },
  // security.md › Microsoft Sentinel Reader: Microsoft.SecurityInsights/*/read, Microsoft.OperationalInsights/workspaces/query/read,
  // workspaces/analytics/query/action (the SecurityInsights incident alerts/entities POSTs are read actions of the incident).
  sentinelReader: {
    name: 'Microsoft Sentinel Reader',
    id: '8d289c81-5878-46d4-8554-54e1e3d8b5cb',
    usedFor:
      "the Function reads an incident's alerts and entities (SecurityInsights API), its SecurityAlert rows and the rows behind a scheduled rule (Log Analytics query), scoped to the Sentinel workspace",
  },
  // security.md › Microsoft Sentinel Responder: Microsoft.SecurityInsights/incidents/* (no delete).
  sentinelResponder: {
    name: 'Microsoft Sentinel Responder',
    id: '3e150937-b8fe-4cfb-8069-0eaf05ecd056',
    usedFor: 'the playbook comments on the incident',
  },
} as const satisfies Record<string, BuiltInRole>;

/**
 * The application id of the "Azure Security Insights" first-party service principal, the same
 * in every tenant; its object id differs per tenant and is a template parameter.
 */
export const AZURE_SECURITY_INSIGHTS_APP_ID = '98785600-1bb7-4fb9-b9fa-19afe2c8a360';

const K8S = 'Microsoft.ContainerService/managedClusters';

/**
 * Kubernetes data actions (AKS-managed Entra ID + Azure RBAC) the collector needs, with the
 * sources that need them. Names from MicrosoftDocs azure-docs permissions/containers.md.
 * pods/log has no data action of its own: AKS authorizes `GET pods/log` with pods/read.
 */
export const COLLECTOR_READ_DATA_ACTIONS: readonly { action: string; neededBy: string }[] = [
  { action: `${K8S}/pods/read`, neededBy: 'containerlogs (list + pods/log), commandhistory, suspiciouspods, snapshot' },
  { action: `${K8S}/events/read`, neededBy: 'events (core/v1)' },
  { action: `${K8S}/events.k8s.io/events/read`, neededBy: 'events (events.k8s.io/v1)' },
  { action: `${K8S}/namespaces/read`, neededBy: 'networkpolicies (namespaces without a policy), snapshot' },
  { action: `${K8S}/serviceaccounts/read`, neededBy: 'serviceaccounts' },
  { action: `${K8S}/rbac.authorization.k8s.io/roles/read`, neededBy: 'snapshot (RBAC)' },
  { action: `${K8S}/rbac.authorization.k8s.io/rolebindings/read`, neededBy: 'rbacbindings' },
  { action: `${K8S}/rbac.authorization.k8s.io/clusterroles/read`, neededBy: 'snapshot (RBAC)' },
  { action: `${K8S}/rbac.authorization.k8s.io/clusterrolebindings/read`, neededBy: 'rbacbindings' },
  { action: `${K8S}/batch/cronjobs/read`, neededBy: 'cronjobs' },
  { action: `${K8S}/batch/jobs/read`, neededBy: 'snapshot (workloads)' },
  { action: `${K8S}/apps/deployments/read`, neededBy: 'snapshot (workloads)' },
  { action: `${K8S}/apps/daemonsets/read`, neededBy: 'snapshot (workloads)' },
  { action: `${K8S}/apps/statefulsets/read`, neededBy: 'snapshot (workloads)' },
  { action: `${K8S}/apps/replicasets/read`, neededBy: 'snapshot (workloads)' },
  { action: `${K8S}/networking.k8s.io/networkpolicies/read`, neededBy: 'networkpolicies' },
  { action: `${K8S}/admissionregistration.k8s.io/mutatingwebhookconfigurations/read`, neededBy: 'snapshot (admission webhooks)' },
  { action: `${K8S}/admissionregistration.k8s.io/validatingwebhookconfigurations/read`, neededBy: 'snapshot (admission webhooks)' },
  { action: `${K8S}/apiextensions.k8s.io/customresourcedefinitions/read`, neededBy: 'snapshot (CRDs)' },
  { action: `${K8S}/apiregistration.k8s.io/apiservices/read`, neededBy: 'snapshot (aggregated API services)' },
  // The rest of the built-in types the snapshot lists (every type discovery serves, Kubernetes 1.30).
  // Custom resources cannot be named in advance: their lists answer 403 and the snapshot's
  // coverage report names each one; add `<group>/<resource>/read` here for CRDs that matter.
  ...[
    'configmaps', 'endpoints', 'limitranges', 'nodes', 'persistentvolumeclaims', 'persistentvolumes', 'podtemplates',
    'replicationcontrollers', 'resourcequotas', 'services', 'componentstatuses',
    'apps/controllerrevisions', 'autoscaling/horizontalpodautoscalers', 'policy/poddisruptionbudgets',
    'admissionregistration.k8s.io/validatingadmissionpolicies', 'admissionregistration.k8s.io/validatingadmissionpolicybindings',
    'certificates.k8s.io/certificatesigningrequests', 'coordination.k8s.io/leases', 'discovery.k8s.io/endpointslices',
    'flowcontrol.apiserver.k8s.io/flowschemas', 'flowcontrol.apiserver.k8s.io/prioritylevelconfigurations',
    'networking.k8s.io/ingressclasses', 'networking.k8s.io/ingresses', 'node.k8s.io/runtimeclasses', 'scheduling.k8s.io/priorityclasses',
    'storage.k8s.io/csidrivers', 'storage.k8s.io/csinodes', 'storage.k8s.io/csistoragecapacities', 'storage.k8s.io/storageclasses',
    'storage.k8s.io/volumeattachments',
  ].map((r) => ({ action: `${K8S}/${r}/read`, neededBy: r === 'replicationcontrollers' ? 'workloadfindings, snapshot' : 'snapshot' })),
  // Creating a SelfSubjectAccessReview persists nothing; resolveCluster asks what this identity may read.
  { action: `${K8S}/authorization.k8s.io/selfsubjectaccessreviews/write`, neededBy: 'resolveCluster (access review)' },
];

/**
 * Shell history is read by exec'ing one read-only command; Azure RBAC cannot restrict which
 * command, so the grant is a template switch (allowExecForShellHistory).
 */
export const EXEC_DATA_ACTION = `${K8S}/pods/exec/action`;

/**
 * Secrets are recorded by metadata only, but Azure RBAC has no metadata-only permission:
 * secrets/read lets the identity read values too. A template switch (allowSecretMetadataRead).
 */
export const SECRETS_READ_DATA_ACTION = `${K8S}/secrets/read`;

/** Control-plane actions: cluster facts, the user kubeconfig (server + CA), kube-audit diagnostic settings. */
export const COLLECTOR_ACTIONS: readonly { action: string; neededBy: string }[] = [
  { action: `${K8S}/read`, neededBy: 'resolveCluster (auth mode, private cluster, addons)' },
  { action: `${K8S}/listClusterUserCredential/action`, neededBy: 'credentials: API server URL and CA (token comes from Entra), or the local-account kubeconfig' },
  { action: 'Microsoft.Insights/diagnosticSettings/read', neededBy: 'resolveCluster (is kube-audit exported, and where)' },
];

/** The custom role for running `aks-evidence` from a workstation (infra/custom-role.cli.json). */
export function workstationRoleDefinition(): Record<string, unknown> {
  return {
    Name: 'AKS Evidence CLI Operator',
    IsCustom: true,
    Description:
      'Run aks-evidence from a workstation: read AKS clusters through Azure RBAC (including exec for shell history and Secret metadata), ' +
      'write evidence to the evidence container, send rows to the deployed DCRs. Creates nothing: infrastructure comes from infra/azuredeploy.json.',
    Actions: [
      ...COLLECTOR_ACTIONS.map((a) => a.action),
      'Microsoft.Insights/dataCollectionRules/read',
      'Microsoft.Insights/dataCollectionEndpoints/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/read',
    ],
    NotActions: [],
    DataActions: [
      ...COLLECTOR_READ_DATA_ACTIONS.map((a) => a.action),
      EXEC_DATA_ACTION,
      SECRETS_READ_DATA_ACTION,
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
      'Microsoft.Insights/Telemetry/Write',
    ],
    NotDataActions: [],
    AssignableScopes: ['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/REPLACE-WITH-RG-OF-CLUSTERS-AND-EVIDENCE'],
  };
}
