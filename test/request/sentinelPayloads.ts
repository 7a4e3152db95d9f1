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
