import { SOURCES, type SourceRegistry } from '../shared/sources/registry.js';
import type { AzurePermission } from '../shared/sources/types.js';

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

const K8S = 'Microsoft.ContainerService/managedClusters';

/** What the host itself needs, whatever the sources: cluster facts, credentials, the access review. */
export const HOST_ACTIONS: readonly { action: string; neededBy: string }[] = [
  { action: `${K8S}/read`, neededBy: 'resolveCluster (auth mode, private cluster, addons)' },
  { action: `${K8S}/listClusterUserCredential/action`, neededBy: 'credentials: API server URL and CA (token comes from Entra), or the local-account kubeconfig' },
  { action: 'Microsoft.Insights/diagnosticSettings/read', neededBy: 'resolveCluster (is kube-audit exported, and where)' },
];

/** Creating a SelfSubjectAccessReview persists nothing; resolveCluster asks what this identity may read. */
export const HOST_DATA_ACTIONS: readonly { action: string; neededBy: string }[] = [
  { action: `${K8S}/authorization.k8s.io/selfsubjectaccessreviews/write`, neededBy: 'resolveCluster (access review)' },
];

/** The collector role's permissions, derived from the sources' declarations (and the host's own). */
export interface CollectorPermissions {
  actions: string[];
  /** Always granted. */
  dataActions: string[];
  /** Granted only when the template parameter is true (exec, Secret metadata). */
  switched: Record<NonNullable<AzurePermission['templateSwitch']>, string[]>;
  /** Every permission with the sources (or host step) that need it, for documentation. */
  documented: { action: string; plane: 'control' | 'data'; neededBy: string; templateSwitch?: string }[];
}

export function collectorPermissions(registry: SourceRegistry = SOURCES): CollectorPermissions {
  const fromSources = registry.azurePermissions();
  const switched: CollectorPermissions['switched'] = { allowExecForShellHistory: [], allowSecretMetadataRead: [] };
  for (const p of fromSources) if (p.templateSwitch) switched[p.templateSwitch].push(p.action);
  const documented: CollectorPermissions['documented'] = [
    ...HOST_ACTIONS.map((a) => ({ action: a.action, plane: 'control' as const, neededBy: a.neededBy })),
    ...HOST_DATA_ACTIONS.map((a) => ({ action: a.action, plane: 'data' as const, neededBy: a.neededBy })),
    ...fromSources.map((p) => ({
      action: p.action,
      plane: p.plane,
      neededBy: `${p.neededBy.join(', ')}: ${p.why}`,
      ...(p.templateSwitch ? { templateSwitch: p.templateSwitch } : {}),
    })),
  ];
  return {
    actions: [...HOST_ACTIONS.map((a) => a.action), ...fromSources.filter((p) => p.plane === 'control').map((p) => p.action)],
    dataActions: [...HOST_DATA_ACTIONS.map((a) => a.action), ...fromSources.filter((p) => p.plane === 'data' && !p.templateSwitch).map((p) => p.action)],
    switched,
    documented,
  };
}

/** The custom role for running `aks-evidence` from a workstation (infra/custom-role.cli.json). */
export function workstationRoleDefinition(registry: SourceRegistry = SOURCES): Record<string, unknown> {
  const collector = collectorPermissions(registry);
  return {
    Name: 'AKS Evidence CLI Operator',
    IsCustom: true,
    Description:
      'Run aks-evidence from a workstation: read AKS clusters through Azure RBAC (including exec for shell history and Secret metadata), ' +
      'write evidence to the evidence container, send rows to the deployed DCRs. Creates nothing: infrastructure comes from infra/azuredeploy.json.',
    Actions: [
      ...collector.actions,
      'Microsoft.Insights/dataCollectionRules/read',
      'Microsoft.Insights/dataCollectionEndpoints/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/read',
    ],
    NotActions: [],
    DataActions: [
      ...new Set([
        ...collector.dataActions,
        ...collector.switched.allowExecForShellHistory,
        ...collector.switched.allowSecretMetadataRead,
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
        'Microsoft.Insights/Telemetry/Write',
      ]),
    ],
    NotDataActions: [],
    AssignableScopes: ['/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/REPLACE-WITH-RG-OF-CLUSTERS-AND-EVIDENCE'],
  };
}
