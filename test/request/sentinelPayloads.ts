/**
 * Sentinel incident trigger bodies, shaped as a playbook's "When Microsoft Sentinel incident
 * creation rule was triggered" output: { eventUniqueId, objectSchemaType, objectEventType,
 * workspaceInfo, workspaceId, object: { id, name, etag, type, properties: { …, alerts,
 * relatedEntities } } }. Entities follow the Sentinel REST shape (kind + properties); the
 * alert carries Defender for Containers' own entity JSON ($id/$ref, "Type").
 */
export const SUB = '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d';
export const CLUSTER_ID = `/subscriptions/${SUB}/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-payments`;
export const OTHER_CLUSTER_ID = `/subscriptions/${SUB}/resourceGroups/rg-batch/providers/Microsoft.ContainerService/managedClusters/aks-batch`;
const WORKSPACE = `/subscriptions/${SUB}/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-soc`;
export const INCIDENT_ID = `${WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/4b1f6a0e-8f5d-4c1e-9a3b-2d7c6e5f4a3b`;

function incidentEnvelope(properties: Record<string, unknown>, incidentId = INCIDENT_ID): Record<string, unknown> {
  return {
    eventUniqueId: '7d0c5a2e-1b3f-4e6d-8a9c-0b1d2e3f4a5b',
    objectSchemaType: 'Incident',
    objectEventType: 'Create',
    workspaceInfo: { SubscriptionId: SUB, ResourceGroupName: 'rg-soc', WorkspaceName: 'law-soc' },
    workspaceId: '3f2e1d0c-9b8a-4765-8432-10fedcba9876',
    object: {
      id: incidentId,
      name: incidentId.split('/').pop(),
      etag: '"0300bf09-0000-0000-0000-5c37296e0000"',
      type: 'Microsoft.SecurityInsights/Incidents',
      properties: {
        description: 'Analysis of processes running within a container detected a suspicious download.',
        status: 'New',
        owner: { objectId: null, email: null, assignedTo: null, userPrincipalName: null },
        labels: [],
        firstActivityTimeUtc: '2026-11-22T09:41:07.113Z',
        lastActivityTimeUtc: '2026-11-22T09:41:07.113Z',
        lastModifiedTimeUtc: '2026-11-22T09:42:31.870674Z',
        createdTimeUtc: '2026-11-22T09:42:31.870674Z',
        additionalData: {
          alertsCount: 1,
          bookmarksCount: 0,
          commentsCount: 0,
          alertProductNames: ['Azure Security Center'],
          tactics: ['Execution'],
          techniques: ['T1609'],
        },
        relatedAnalyticRuleIds: [`${WORKSPACE}/providers/Microsoft.SecurityInsights/alertRules/a1b2c3d4-0000-4000-8000-000000000001`],
        incidentUrl: `https://portal.azure.com/#asset/Microsoft_Azure_Security_Insights/Incident${INCIDENT_ID}`,
        providerName: 'Azure Sentinel',
        providerIncidentId: '2041',
        comments: [],
        bookmarks: [],
        ...properties,
      },
    },
  };
}

/** Defender for Containers: "Detected suspicious file download" on a pod of aks-payments. */
export function defenderContainersIncident(): Record<string, unknown> {
  return incidentEnvelope({
    title: 'Detected suspicious file download (Preview)',
    severity: 'High',
    incidentNumber: 2041,
    alerts: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/6c3a9f5e-2b1d-4e8f-a7c6-5d4e3f2a1b0c`,
        name: '6c3a9f5e-2b1d-4e8f-a7c6-5d4e3f2a1b0c',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'SecurityAlert',
        properties: {
          alertDisplayName: 'Detected suspicious file download (Preview)',
          alertType: 'K8S.NODE_SuspectDownloadArtifacts',
          compromisedEntity: 'aks-payments',
          confidenceLevel: 'Unknown',
          description: 'Analysis of processes running within a container or directly on a Kubernetes node has detected a suspicious download of a remote file.',
          productComponentName: 'Containers',
          productName: 'Azure Security Center',
          providerAlertId: '2517538088322968242_7e1bc2b8-3f6a-4b2c-9d1e-0a5b6c7d8e9f',
          remediationSteps: ['Review with the relevant user and make sure the download was intended.'],
          resourceIdentifiers: [
            { type: 'AzureResource', resourceId: CLUSTER_ID },
            { type: 'LogAnalytics', workspaceId: '3f2e1d0c-9b8a-4765-8432-10fedcba9876', subscriptionId: SUB, resourceGroup: 'rg-soc' },
          ],
          severity: 'High',
          startTimeUtc: '2026-11-22T09:41:07.113Z',
          endTimeUtc: '2026-11-22T09:41:07.113Z',
          status: 'New',
          systemAlertId: '7e1bc2b8-3f6a-4b2c-9d1e-0a5b6c7d8e9f',
          tactics: ['Execution'],
          timeGenerated: '2026-11-22T09:42:11.5Z',
          vendorName: 'Microsoft',
          alertLink: 'https://portal.azure.com/#blade/Microsoft_Azure_Security_AzureDefenderForData/AlertBlade/alertId/2517538088322968242_7e1bc2b8',
          // Defender's own entity JSON, as the SecurityAlert row carries it.
          entities: [
            { $id: '2', ResourceId: CLUSTER_ID, ResourceType: 'Kubernetes Service', ResourceName: 'aks-payments', Type: 'azure-resource' },
            { $id: '3', CloudResource: { $ref: '2' }, Type: 'K8s-cluster' },
            { $id: '4', Name: 'payments', Cluster: { $ref: '3' }, Type: 'K8s-namespace' },
            {
              $id: '5',
              Name: 'checkout-7d9f8b6c5-x2l4p',
              Namespace: { $ref: '4' },
              Labels: { app: 'checkout', 'pod-template-hash': '7d9f8b6c5' },
              Type: 'K8s-pod',
            },
            { $id: '6', ImageId: 'sha256:3f1e2d…', Type: 'container-image' },
            { $id: '7', Name: 'checkout', Image: { $ref: '6' }, Pod: { $ref: '5' }, Privileged: false, Type: 'container' },
            { $id: '8', HostName: 'aks-nodepool1-12345678-vmss000002', OSFamily: 'Linux', Type: 'host' },
          ],
        },
      },
    ],
    relatedEntities: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0`,
        name: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'AzureResource',
        properties: { resourceId: CLUSTER_ID, subscriptionId: SUB, friendlyName: 'aks-payments' },
      },
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9`,
        name: '1a2b3c4d-5e6f-4071-8293-a4b5c6d7e8f9',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'Host',
        properties: { hostName: 'aks-nodepool1-12345678-vmss000002', osFamily: 'Linux', friendlyName: 'aks-nodepool1-12345678-vmss000002' },
      },
    ],
  });
}

/** Two clusters: one as a related entity (ARM id in lower case), one only in an alert's resourceIdentifiers. */
export function twoClusterIncident(): Record<string, unknown> {
  return incidentEnvelope({
    title: 'Multi-stage attack across clusters',
    severity: 'Medium',
    incidentNumber: 2042,
    alerts: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/aa000000-0000-4000-8000-000000000001`,
        name: 'aa000000-0000-4000-8000-000000000001',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'SecurityAlert',
        properties: {
          alertDisplayName: 'New container in the kube-system namespace detected',
          alertType: 'K8S_KubeSystemContainer',
          severity: 'Medium',
          resourceIdentifiers: [{ Type: 'AzureResource', AzureResourceId: `${OTHER_CLUSTER_ID}/agentPools/nodepool1` }],
        },
      },
    ],
    relatedEntities: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/bb000000-0000-4000-8000-000000000002`,
        name: 'bb000000-0000-4000-8000-000000000002',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'AzureResource',
        properties: { resourceId: CLUSTER_ID.toLowerCase(), subscriptionId: SUB, friendlyName: 'aks-payments' },
      },
    ],
  });
}

/** A sign-in incident: accounts and IPs, no Kubernetes anywhere. */
export function accountOnlyIncident(): Record<string, unknown> {
  return incidentEnvelope({
    title: 'Impossible travel activity',
    severity: 'Low',
    incidentNumber: 2043,
    alerts: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/cc000000-0000-4000-8000-000000000003`,
        name: 'cc000000-0000-4000-8000-000000000003',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'SecurityAlert',
        properties: {
          alertDisplayName: 'Impossible travel activity',
          severity: 'Low',
          resourceIdentifiers: [{ type: 'LogAnalytics', workspaceId: '3f2e1d0c-9b8a-4765-8432-10fedcba9876' }],
        },
      },
    ],
    relatedEntities: [
      { id: 'x', name: 'x', type: 'Microsoft.SecurityInsights/Entities', kind: 'Account', properties: { accountName: 'alice', upnSuffix: 'contoso.com', friendlyName: 'alice' } },
      { id: 'y', name: 'y', type: 'Microsoft.SecurityInsights/Entities', kind: 'Ip', properties: { address: '203.0.113.7', friendlyName: '203.0.113.7' } },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// The shapes Sentinel really sends through the Logic Apps incident trigger, and what the
// SecurityInsights API and the SecurityAlert table add. The trigger body carries the incident,
// its relatedEntities and its alerts (under "Alerts") but not the alerts' own entities.

export const WORKSPACE_ID = '3f2e1d0c-9b8a-4765-8432-10fedcba9876';
export const WORKSPACE_ARM_ID = WORKSPACE;
export const NODE_RESOURCE_GROUP = 'MC_rg-payments_aks-payments_westeurope';
export const VMSS_VM_ID = `/subscriptions/${SUB}/resourceGroups/${NODE_RESOURCE_GROUP}/providers/Microsoft.Compute/virtualMachineScaleSets/aks-nodepool1-12345678-vmss/virtualMachines/2`;

export function incidentArmId(name: string): string {
  return `${WORKSPACE}/providers/Microsoft.SecurityInsights/Incidents/${name}`;
}

/** The Logic Apps trigger body: "Alerts" with a capital A (as the connector emits it), alerts without their entities. */
function logicAppsBody(incidentId: string, properties: Record<string, unknown>): Record<string, unknown> {
  const body = incidentEnvelope(properties, incidentId) as { object: { properties: Record<string, unknown> } };
  const props = body.object.properties;
  props.Alerts = props.alerts;
  delete props.alerts;
  return body;
}

/** A SecurityAlert in the REST shape (trigger body "Alerts", incidents/{id}/alerts). */
export function restAlert(systemAlertId: string, properties: Record<string, unknown>): Record<string, unknown> {
  return {
    id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/${systemAlertId}`,
    name: systemAlertId,
    type: 'Microsoft.SecurityInsights/Entities',
    kind: 'SecurityAlert',
    properties: { systemAlertId, status: 'New', vendorName: 'Microsoft', confidenceLevel: 'Unknown', friendlyName: properties.alertDisplayName, ...properties },
  };
}

// 1. Defender for Containers, through the Logic Apps trigger: the cluster as a related entity, the pod only in the alert's Entities.
export const DEFENDER_INCIDENT_ID = incidentArmId('5a1e0c2b-7d3f-4e8a-9b6c-1d2e3f4a5b6c');
export const DEFENDER_ALERT_ID = '2f6c9a1e-4b7d-4c3e-8a5f-6b7c8d9e0f1a';
export const DEFENDER_POD = 'payments/checkout-7d9f8b6c5-x2l4p';

export function logicAppsDefenderIncident(): Record<string, unknown> {
  return logicAppsBody(DEFENDER_INCIDENT_ID, {
    title: 'Detected suspicious file download (Preview)',
    severity: 'High',
    incidentNumber: 3101,
    alerts: [
      restAlert(DEFENDER_ALERT_ID, {
        alertDisplayName: 'Detected suspicious file download (Preview)',
        alertType: 'K8S.NODE_SuspectDownloadArtifacts',
        productName: 'Azure Security Center',
        productComponentName: 'Containers',
        severity: 'High',
        resourceIdentifiers: [
          { type: 'AzureResource', resourceId: CLUSTER_ID },
          { type: 'LogAnalytics', workspaceId: WORKSPACE_ID, subscriptionId: SUB, resourceGroup: 'rg-soc' },
        ],
        startTimeUtc: '2026-11-22T09:41:07.113Z',
        endTimeUtc: '2026-11-22T09:41:07.113Z',
        timeGenerated: '2026-11-22T09:42:11.5Z',
      }),
    ],
    relatedEntities: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0`,
        name: '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'AzureResource',
        properties: { resourceId: CLUSTER_ID, subscriptionId: SUB, friendlyName: 'aks-payments' },
      },
    ],
  });
}

/** Defender for Containers' own entity JSON for that alert, as the SecurityAlert row stores it (a JSON string with $id/$ref). */
export function defenderAlertEntitiesJson(): string {
  return JSON.stringify([
    { $id: '2', ResourceId: CLUSTER_ID, ResourceType: 'Kubernetes Service', ResourceName: 'aks-payments', Type: 'azure-resource' },
    { $id: '3', CloudResource: { $ref: '2' }, Type: 'K8s-cluster' },
    { $id: '4', Name: 'payments', Cluster: { $ref: '3' }, Type: 'K8s-namespace' },
    { $id: '5', Name: 'checkout-7d9f8b6c5-x2l4p', Namespace: { $ref: '4' }, Labels: { app: 'checkout' }, Type: 'K8s-pod' },
    { $id: '6', ImageId: 'sha256:3f1e2d4c5b6a79880716253443526170f1e2d3c4b5a69788', Type: 'container-image' },
    { $id: '7', Name: 'checkout', Image: { $ref: '6' }, Pod: { $ref: '5' }, Privileged: false, Type: 'container' },
  ]);
}

// 2. A scheduled analytic rule over AKSAudit: only the workspace as resource identifier, an account entity, the query in additionalData.
export const SCHEDULED_INCIDENT_ID = incidentArmId('6b2f1d3c-8e4a-4f9b-0c7d-2e3f4a5b6c7d');
export const SCHEDULED_ALERT_ID = '3a7d0b2f-5c8e-4d4f-9b6a-7c8d9e0f1a2b';
export const SCHEDULED_POD = 'payments/api-5c7d9f8b6-q9z2m';
export const AKSAUDIT_RULE_QUERY =
  '// The query_now parameter represents the time (in UTC) at which the scheduled analytics rule ran to produce this alert.\n' +
  'set query_now = datetime(2026-11-22T10:05:00.0000000Z);\n' +
  'AKSAudit\n| where Verb == "create" and ObjectRef.subresource == "exec"\n| project TimeGenerated, User = tostring(User.username), ObjectRef, SourceIps\n';
export const SCHEDULED_WINDOW = { start: '2026-11-22 09:05:00Z', end: '2026-11-22 10:05:00Z' };

export function scheduledAlertExtendedProperties(): Record<string, string> {
  return {
    'Query Period': '01:00:00',
    'Trigger Operator': 'GreaterThan',
    'Trigger Threshold': '0',
    'Correlation Id': '7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f',
    'Search Query Results Overall Count': '1',
    'Data Sources': '["law-soc"]',
    Query: AKSAUDIT_RULE_QUERY,
    'Query Start Time UTC': SCHEDULED_WINDOW.start,
    'Query End Time UTC': SCHEDULED_WINDOW.end,
    'Analytic Rule Ids': '["a1b2c3d4-0000-4000-8000-000000000009"]',
    'Event Grouping': 'SingleAlert',
    'Analytic Rule Name': 'AKS: exec into a pod',
    ProcessedBySentinel: 'True',
    'Alert generation status': 'Full alert created',
  };
}

export function scheduledAksAuditIncident(): Record<string, unknown> {
  return logicAppsBody(SCHEDULED_INCIDENT_ID, {
    title: 'AKS: exec into a pod',
    severity: 'Medium',
    incidentNumber: 3102,
    providerName: 'Azure Sentinel',
    alerts: [
      restAlert(SCHEDULED_ALERT_ID, {
        alertDisplayName: 'AKS: exec into a pod',
        alertType: `${SUB}_a1b2c3d4-0000-4000-8000-000000000009`,
        productName: 'Azure Sentinel',
        productComponentName: 'Scheduled Alerts',
        severity: 'Medium',
        // A scheduled rule without an AzureResource mapping names only the workspace.
        resourceIdentifiers: [{ type: 'LogAnalytics', workspaceId: WORKSPACE_ID, subscriptionId: SUB, resourceGroup: 'rg-soc' }],
        additionalData: scheduledAlertExtendedProperties(),
        startTimeUtc: '2026-11-22T09:12:44Z',
        endTimeUtc: '2026-11-22T09:12:44Z',
      }),
    ],
    relatedEntities: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b`,
        name: '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'Account',
        properties: { accountName: 'mallory', upnSuffix: 'contoso.com', friendlyName: 'mallory' },
      },
    ],
  });
}

/** What the AKSAudit rule's query returns for its window: the exec, its _ResourceId the cluster. */
export function aksAuditRuleRows(): ({ TimeGenerated: string; _ResourceId?: string } & Record<string, unknown>)[] {
  return [
    {
      TimeGenerated: '2026-11-22T09:12:44.118Z',
      User: 'mallory@contoso.com',
      ObjectRef: { resource: 'pods', namespace: 'payments', name: 'api-5c7d9f8b6-q9z2m', subresource: 'exec', apiVersion: 'v1' },
      SourceIps: ['203.0.113.7'],
      _ResourceId: CLUSTER_ID.toLowerCase(),
    },
    // Outside the alert's window: must not count.
    {
      TimeGenerated: '2026-11-21T22:00:00Z',
      User: 'alice@contoso.com',
      ObjectRef: { resource: 'pods', namespace: 'batch', name: 'job-1', subresource: 'exec' },
      _ResourceId: OTHER_CLUSTER_ID.toLowerCase(),
    },
  ];
}

// 3. A node-level alert naming the scale-set VM in the cluster's node resource group (MC_…).
export const NODE_INCIDENT_ID = incidentArmId('7c3a2e4d-9f5b-4a0c-1d8e-3f4a5b6c7d8e');
export const NODE_ALERT_ID = '4b8e1c3a-6d9f-4e5a-0c7b-8d9e0f1a2b3c';
export const NODE_NAME = 'aks-nodepool1-12345678-vmss000002';

export function nodeLevelIncident(): Record<string, unknown> {
  return logicAppsBody(NODE_INCIDENT_ID, {
    title: 'A file downloaded and executed on a Kubernetes node',
    severity: 'High',
    incidentNumber: 3103,
    alerts: [
      restAlert(NODE_ALERT_ID, {
        alertDisplayName: 'A file downloaded and executed on a Kubernetes node',
        alertType: 'K8S.NODE_DownloadAndExecute',
        productName: 'Azure Security Center',
        productComponentName: 'Containers',
        severity: 'High',
        compromisedEntity: 'aks-nodepool1-12345678-vmss_2',
        resourceIdentifiers: [{ type: 'AzureResource', resourceId: VMSS_VM_ID }],
      }),
    ],
    relatedEntities: [
      {
        id: `${WORKSPACE}/providers/Microsoft.SecurityInsights/Entities/8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918`,
        name: '8f7e6d5c-4b3a-4291-8f7e-6d5c4b3a2918',
        type: 'Microsoft.SecurityInsights/Entities',
        kind: 'Host',
        properties: { hostName: NODE_NAME, azureID: VMSS_VM_ID, osFamily: 'Linux', friendlyName: NODE_NAME },
      },
    ],
  });
}
