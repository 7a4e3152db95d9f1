/**
 * POST /api/incidents/sentinel against Sentinel as it really answers: the Logic Apps trigger
 * body (alerts without their entities), the SecurityInsights incidents/{id}/alerts and
 * /entities API on a loopback ARM stub, SecurityAlert rows and the rows behind a scheduled
 * rule on a loopback Log Analytics query API, and ARM's managed cluster list for node
 * resource groups — all through the real SDK clients the Functions app builds from its
 * environment (shared/orchestration/environment.ts incidentReaders()).
 */
import functions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import type { ActivityEnvironment } from '../../shared/orchestration/activities.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import { incidentInstanceId } from '../../shared/orchestration/instanceId.js';
import type { CollectionRunInput } from '../../shared/orchestration/types.js';
import { parseManagedClusterId } from '../../shared/cluster/clusterRef.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { entraCluster } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub, type StubIncident } from '../fixtures/arm/server.js';
import { startLogAnalyticsStub, type LogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';
import {
  accountOnlyIncident,
  AKSAUDIT_RULE_QUERY,
  aksAuditRuleRows,
  CLUSTER_ID,
  DEFENDER_ALERT_ID,
  DEFENDER_INCIDENT_ID,
  DEFENDER_POD,
  defenderAlertEntitiesJson,
  logicAppsDefenderIncident,
  NODE_ALERT_ID,
  NODE_INCIDENT_ID,
  NODE_NAME,
  NODE_RESOURCE_GROUP,
  nodeLevelIncident,
  OTHER_CLUSTER_ID,
  restAlert,
  SCHEDULED_ALERT_ID,
  SCHEDULED_INCIDENT_ID,
  SCHEDULED_POD,
  scheduledAksAuditIncident,
  scheduledAlertExtendedProperties,
  SUB,
  VMSS_VM_ID,
} from '../request/sentinelPayloads.js';
import { logs, startDurableHost, type DurableHost } from './durableHost.js';

const ORIGIN = 'https://aks-evidence-func.azurewebsites.net';
const LA_TOKEN = 'la-stub-token-not-a-secret';

function post(body: unknown): HttpRequest {
  return new functions.HttpRequest({
    method: 'POST',
    url: `${ORIGIN}/api/incidents/sentinel`,
    headers: { 'content-type': 'application/json' },
    body: { string: JSON.stringify(body) },
  });
}
const json = (res: HttpResponseInit): any => JSON.parse(res.body as string);

/** ARM never reaches the clusters' API servers here: resolution only needs their ARM descriptions. */
const noServer = { server: 'https://127.0.0.1:1', caPem: '', token: 'unused' } as unknown as FixtureCluster;

describe('a Sentinel incident reaches the right cluster, namespaces and pods, whatever raised it', () => {
  let host: DurableHost;
  let arm: ArmStub;
  let la: LogAnalyticsStub;
  const incidents: StubIncident[] = [];

  beforeAll(async () => {
    la = await startLogAnalyticsStub({
      rows: [],
      token: LA_TOKEN,
      securityAlerts: [
        {
          SystemAlertId: DEFENDER_ALERT_ID,
          DisplayName: 'Detected suspicious file download (Preview)',
          AlertName: 'Detected suspicious file download (Preview)',
          ProductName: 'Azure Security Center',
          ProviderName: 'Detection',
          ResourceId: CLUSTER_ID,
          Entities: defenderAlertEntitiesJson(),
          ExtendedProperties: JSON.stringify({ 'Resource Type': 'Kubernetes Service', 'Compromised Host': 'aks-nodepool1-12345678-vmss000002' }),
          StartTime: '2026-11-22T09:41:07.113Z',
          EndTime: '2026-11-22T09:41:07.113Z',
          incidents: [DEFENDER_INCIDENT_ID.split('/').pop()!],
        },
        {
          SystemAlertId: SCHEDULED_ALERT_ID,
          DisplayName: 'AKS: exec into a pod',
          AlertName: 'AKS: exec into a pod',
          ProductName: 'Azure Sentinel',
          ProviderName: 'ASI Scheduled Alerts',
          ResourceId: '',
          Entities: JSON.stringify([{ $id: '3', Name: 'mallory', UPNSuffix: 'contoso.com', Type: 'account' }]),
          ExtendedProperties: JSON.stringify(scheduledAlertExtendedProperties()),
          StartTime: '2026-11-22T09:12:44Z',
          EndTime: '2026-11-22T09:12:44Z',
        },
      ],
      alertQueries: [{ query: AKSAUDIT_RULE_QUERY, rows: aksAuditRuleRows(), types: { ObjectRef: 'dynamic', SourceIps: 'dynamic' } }],
    });
    incidents.push(
      // The alerts API adds nothing the trigger lacked for Defender (its entities are only in SecurityAlert).
      {
        id: DEFENDER_INCIDENT_ID,
        alerts: [restAlert(DEFENDER_ALERT_ID, { alertDisplayName: 'Detected suspicious file download (Preview)', productName: 'Azure Security Center' })],
        entities: [],
      },
      {
        id: SCHEDULED_INCIDENT_ID,
        alerts: [],
        entities: [{ id: 'acc', name: 'acc', type: 'Microsoft.SecurityInsights/Entities', kind: 'Account', properties: { accountName: 'mallory' } }],
      },
      { id: NODE_INCIDENT_ID, alerts: [], entities: [], status: 403 },
    );
    arm = await startArmStub({
      clusters: [entraCluster(noServer, 'aks-payments', { resourceGroup: 'rg-payments' }), entraCluster(noServer, 'aks-batch', { resourceGroup: 'rg-batch' })].map((c) => ({
        ...c,
        subscriptionId: SUB,
        properties: { ...c.properties, nodeResourceGroup: `MC_${c.resourceGroup}_${c.name}_westeurope` },
      })),
      incidents,
    });
    const env: ActivityEnvironment = {
      settings: loadAppSettings({ AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net', AKS_EVIDENCE_CONTAINER: 'evidence' }),
      credential: testCredential({ [ARM_SCOPE]: ARM_TOKEN, [`${new URL(la.endpoint).origin}/.default`]: LA_TOKEN }),
      arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
      collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
      azure: { logs: { endpoint: la.endpoint, clientOptions: { tlsOptions: { ca: la.caPem }, retryOptions: { maxRetries: 0 } } } },
    };
    configureFunctionsRuntime({ activityEnvironment: env });
    host = await startDurableHost({ orchestrators: { collectEvidence: collectEvidenceOrchestrator }, activities: {}, execute: false });
  });
  afterAll(async () => {
    configureFunctionsRuntime({});
    await Promise.all([host?.stop(), arm?.stop(), la?.stop()]);
  });

  function startedInput(res: HttpResponseInit, cluster = CLUSTER_ID): CollectionRunInput {
    const body = json(res);
    const run = body.runs.find((r: { cluster: string }) => r.cluster.toLowerCase() === cluster.toLowerCase());
    if (!run) throw new Error(`no run for ${cluster}: ${res.body as string}`);
    return JSON.parse(host.instances.get(run.runId)!.inputJson) as CollectionRunInput;
  }

  const ways = (input: CollectionRunInput) => Object.fromEntries(input.request.incidentResolution!.ways.map((w) => [w.step, w.outcome]));

  it('Defender for Containers through the Logic Apps trigger: the pod and namespace come from the SecurityAlert entities the body lacks', async () => {
    const res = await startFromSentinelIncident(post(logicAppsDefenderIncident()), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(202);
    const body = json(res);
    expect(body.runs).toHaveLength(1);
    const payments = parseManagedClusterId(CLUSTER_ID);
    if (!payments.ok) throw new Error('bad id');
    expect(body.runs[0]).toMatchObject({
      runId: incidentInstanceId(DEFENDER_INCIDENT_ID, payments.ref),
      cluster: CLUSTER_ID,
      caseId: 'sentinel-3101',
      priorityPods: [DEFENDER_POD],
      namespaces: ['payments'],
    });

    const input = startedInput(res);
    expect(input.request).toMatchObject({ priorityPods: [DEFENDER_POD], priorityNamespaces: ['payments'], incidentId: DEFENDER_INCIDENT_ID });
    expect(input.request.incidentResolution!.reads.map((r) => [r.step, r.outcome])).toEqual([
      ['trigger-body', 'found'],
      ['sentinel-alerts-api', 'found'],
      ['sentinel-entities-api', 'nothing'],
      ['security-alert-rows', 'found'],
    ]);
    expect(ways(input)).toMatchObject({
      'azure-resource-entities': 'found',
      'alert-resource-identifiers': 'found',
      'k8s-cluster-entities': 'found',
      'scheduled-alert-rows': 'skipped',
      'default-clusters': 'skipped',
    });
    // The real clients made the real calls: SecurityInsights (GA api-version) and one SecurityAlert query.
    expect(arm.requests.filter((r) => /\/incidents\/[^/]+\/(alerts|entities)$/i.test(r.path) && r.path.includes(DEFENDER_INCIDENT_ID.split('/').pop()!))).toEqual([
      expect.objectContaining({ method: 'POST', apiVersion: '2024-03-01', authorized: true }),
      expect.objectContaining({ method: 'POST', apiVersion: '2024-03-01', authorized: true }),
    ]);
    expect(la.requests.some((r) => r.query.startsWith('SecurityAlert\n') && r.query.includes(DEFENDER_ALERT_ID))).toBe(true);
  });

  it('a scheduled AKSAudit rule incident without an AzureResource mapping: the cluster is the _ResourceId of the rows behind the alert', async () => {
    const res = await startFromSentinelIncident(post(scheduledAksAuditIncident()), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(202);
    const body = json(res);
    // Only the row inside the alert's window counts: one cluster, not the batch cluster of an older exec.
    expect(body.runs.map((r: { cluster: string }) => r.cluster.toLowerCase())).toEqual([CLUSTER_ID.toLowerCase()]);
    const input = startedInput(res);
    expect(input.request).toMatchObject({ caseId: 'sentinel-3102', priorityPods: [SCHEDULED_POD], priorityNamespaces: ['payments'] });
    expect(ways(input)).toMatchObject({
      'azure-resource-entities': 'nothing',
      'alert-resource-identifiers': 'nothing',
      'k8s-cluster-entities': 'nothing',
      'scheduled-alert-rows': 'found',
      'node-resource-group': 'skipped',
      'default-clusters': 'skipped',
    });
    const rerun = la.requests.find((r) => r.query.includes('AksEvidenceResourceId'));
    expect(rerun?.query.startsWith(AKSAUDIT_RULE_QUERY.trimEnd())).toBe(true);
    expect(rerun?.timespan).toBe('2026-11-22T09:05:00.000Z/2026-11-22T10:05:00.000Z');
    expect(body.runs[0].foundIn[0]).toContain('scheduled-alert-rows');
    void OTHER_CLUSTER_ID;
  });

  it("a node-level incident naming a VMSS VM in the MC_ group: ARM maps the node resource group to its cluster; the node's pods come first", async () => {
    const res = await startFromSentinelIncident(post(nodeLevelIncident()), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(202);
    const body = json(res);
    expect(body.runs.map((r: { cluster: string }) => r.cluster.toLowerCase())).toEqual([CLUSTER_ID.toLowerCase()]);
    const input = startedInput(res);
    expect(input.request.priorityNodes).toEqual([NODE_NAME]);
    expect(ways(input)).toMatchObject({ 'alert-resource-identifiers': 'nothing', 'node-resource-group': 'found' });
    // Sentinel Reader missing on this incident: recorded with the fix, and the incident still resolved from the body.
    const alertsRead = input.request.incidentResolution!.reads.find((r) => r.step === 'sentinel-alerts-api');
    expect(alertsRead).toMatchObject({ outcome: 'failed' });
    expect(alertsRead!.detail).toContain('HTTP 403');
    expect(alertsRead!.detail).toContain('Microsoft Sentinel Reader');
    const nodeWay = input.request.incidentResolution!.ways.find((w) => w.step === 'node-resource-group')!;
    expect(nodeWay.detail).toContain(`${NODE_RESOURCE_GROUP}: node resource group of aks-payments`);
    expect(arm.requests.some((r) => r.method === 'GET' && r.path.toLowerCase() === `/subscriptions/${SUB}/providers/microsoft.containerservice/managedclusters`)).toBe(true);
    void NODE_ALERT_ID;
    void VMSS_VM_ID;
  });

  it('no way leads to a cluster: 422 naming every way tried and what each found; with default clusters configured, those are collected', async () => {
    const res = await startFromSentinelIncident(post(accountOnlyIncident()), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(422);
    const problem = json(res);
    expect(problem.ways.map((w: { step: string }) => w.step)).toEqual([
      'azure-resource-entities',
      'alert-resource-identifiers',
      'k8s-cluster-entities',
      'scheduled-alert-rows',
      'node-resource-group',
      'default-clusters',
    ]);
    expect(problem.detail).toContain('AKS_EVIDENCE_DEFAULT_CLUSTERS');
    // The incident is unknown to the SecurityInsights stub: the read failed and says so.
    expect(problem.reads.find((r: { step: string }) => r.step === 'sentinel-alerts-api').outcome).toBe('failed');

    const env = {
      settings: loadAppSettings({
        AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net',
        AKS_EVIDENCE_CONTAINER: 'evidence',
        AKS_EVIDENCE_DEFAULT_CLUSTERS: `${OTHER_CLUSTER_ID}, ${CLUSTER_ID}`,
      }),
      credential: testCredential({ [ARM_SCOPE]: ARM_TOKEN, [`${new URL(la.endpoint).origin}/.default`]: LA_TOKEN }),
      arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
      collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
      azure: { logs: { endpoint: la.endpoint, clientOptions: { tlsOptions: { ca: la.caPem }, retryOptions: { maxRetries: 0 } } } },
    } satisfies ActivityEnvironment;
    configureFunctionsRuntime({ activityEnvironment: env });
    const fallback = await startFromSentinelIncident(post(accountOnlyIncident()), host.clientContext('sentinelIncident'));
    expect(fallback.status).toBe(202);
    expect(
      json(fallback)
        .runs.map((r: { cluster: string }) => r.cluster)
        .sort(),
    ).toEqual([CLUSTER_ID, OTHER_CLUSTER_ID].sort());
    expect(ways(startedInput(fallback, OTHER_CLUSTER_ID))['default-clusters']).toBe('found');
  });

  it('no token or key in any answer or log line', () => {
    const text = JSON.stringify(logs) + JSON.stringify([...host.instances.values()].map((i) => i.inputJson));
    for (const secret of [ARM_TOKEN, LA_TOKEN, host.systemKey]) expect(text).not.toContain(secret);
  });
});
