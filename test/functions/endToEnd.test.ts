/**
 * The Functions app end to end, in process: the HTTP trigger starts collectEvidence through a
 * real DurableClient; the in-process Durable host replays the orchestrator through
 * durable-functions' engine and runs the registered activity handlers, which resolve the
 * cluster through the loopback ARM stub (real ARM SDK clients), collect from the Kubernetes
 * fixture server with in-memory Entra credentials, write write-once evidence to Azurite, seal,
 * and ingest into the Logs Ingestion emulator. Then every byte of orchestration state is
 * scanned for secrets.
 */
import './nodeDisposeSymbol.js';
import functions, { type HttpResponseInit } from '@azure/functions';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { getCollectionStatus } from '../../functions/collectionStatus.js';
import { startCollection } from '../../functions/collections.js';
import { collectSourceActivity } from '../../functions/collectSource.js';
import { ingestEvidenceActivity } from '../../functions/ingestEvidence.js';
import { resolveClusterActivity } from '../../functions/resolveCluster.js';
import { sealEvidenceActivity } from '../../functions/sealEvidence.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { AKS_ENTRA_SCOPE } from '../../shared/cluster/credentials.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { collectorIdentity, readCustodyLog } from '../../shared/evidence/custody.js';
import { readManifest } from '../../shared/evidence/manifest.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import type { ActivityEnvironment } from '../../shared/orchestration/activities.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { entraCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { AZURITE_KEY, startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { aksAuditRow, startLogAnalyticsStub, type LogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { EMULATOR_TOKEN, MONITOR_SCOPE, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { defenderContainersIncident } from '../request/sentinelPayloads.js';
import { logs, startDurableHost, type DurableHost, type HostInstance } from './durableHost.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { logAnalyticsAnchor } from '../../shared/ingestion/custodyAnchor.js';
import { startTsa, type TsaServer } from '../fixtures/tsa/server.js';
import { SOURCES } from '../../shared/sources/registry.js';

const ORIGIN = 'http://localhost:7071';
const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-payments`;
const AUDITED = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-audited`;
const WORKSPACE = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-soc`;
const LA_TOKEN = 'log-analytics-token-not-a-secret';

function post(path: string, body: unknown): functions.HttpRequest {
  return new functions.HttpRequest({ method: 'POST', url: `${ORIGIN}${path}`, body: { string: JSON.stringify(body) }, headers: { 'content-type': 'application/json' } });
}
const json = (res: HttpResponseInit): any => JSON.parse(res.body as string);

describe('Functions app end to end: HTTP / Sentinel → orchestrator → activities → Azurite + Logs Ingestion', () => {
  let fixture: FixtureCluster;
  let arm: ArmStub;
  let azurite: AzuriteBlob;
  let emulator: LogsIngestionEmulator;
  let logAnalytics: LogAnalyticsStub;
  let tsa: TsaServer;
  let host: DurableHost;
  let credential: ReturnType<typeof testCredential>;
  let secrets: string[];

  beforeAll(async () => {
    const scenario = await loadScenario('compromise');
    const auditEvents = (scenario.audit ?? []) as Record<string, unknown>[];
    [fixture, azurite, emulator, logAnalytics] = await Promise.all([
      startFixtureCluster(scenario),
      startAzurite(),
      startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) }),
      startLogAnalyticsStub({ rows: auditEvents.map((e) => aksAuditRow(e, 'AKSAudit', AUDITED)), token: LA_TOKEN, custodyRows: () => emulator.accepted('evidencecustody_CL') }),
    ]);
    tsa = await startTsa();
    arm = await startArmStub({
      clusters: [
        entraCluster(fixture, 'aks-payments', { resourceGroup: 'rg-payments' }),
        // The same cluster's API, with kube-audit exported to a Log Analytics workspace.
        entraCluster(fixture, 'aks-audited', {
          resourceGroup: 'rg-payments',
          diagnosticSettings: [{ name: 'audit-to-law', properties: { workspaceId: WORKSPACE, logs: [{ category: 'kube-audit', enabled: true }] } }],
        }),
      ],
    });
    credential = testCredential({
      [ARM_SCOPE]: ARM_TOKEN,
      [AKS_ENTRA_SCOPE]: fixture.token,
      [MONITOR_SCOPE]: EMULATOR_TOKEN,
      // The audit export asks for the query endpoint's audience (api.loganalytics.io in Azure; the stub here).
      [`${new URL(logAnalytics.endpoint).origin}/.default`]: LA_TOKEN,
    });
    const settings = loadAppSettings({
      AKS_EVIDENCE_STORAGE_CONNECTION_STRING: azurite.connectionString,
      AKS_EVIDENCE_CONTAINER: 'evidence',
      AKS_EVIDENCE_INGESTION: JSON.stringify(emulator.targetDocument),
      AKS_EVIDENCE_PODS_PER_SHARD: '10',
      AKS_EVIDENCE_TSA_URL: tsa.url,
    });
    const env: ActivityEnvironment = {
      settings,
      credential,
      arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
      collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
      ingestionClientOptions: emulator.clientOptions,
      azure: { logs: { endpoint: logAnalytics.endpoint, clientOptions: { tlsOptions: { ca: logAnalytics.caPem }, retryOptions: { maxRetries: 0 } } } },
    };
    configureFunctionsRuntime({ activityEnvironment: env });
    host = await startDurableHost({
      orchestrators: { collectEvidence: collectEvidenceOrchestrator },
      activities: {
        resolveCluster: resolveClusterActivity as never,
        collectSource: collectSourceActivity as never,
        sealEvidence: sealEvidenceActivity as never,
        ingestEvidence: ingestEvidenceActivity as never,
      },
    });
    secrets = [
      fixture.token,
      ARM_TOKEN,
      EMULATOR_TOKEN,
      LA_TOKEN,
      AZURITE_KEY,
      host.systemKey,
      'BEGIN CERTIFICATE',
      'PRIVATE KEY',
      'certificate-authority-data',
      'client-key-data',
      'Bearer ',
      Buffer.from(fixture.caPem).toString('base64').slice(0, 48),
    ];
  });

  afterAll(async () => {
    configureFunctionsRuntime({});
    await Promise.all([host?.stop(), arm?.stop(), fixture?.stop(), azurite?.stop(), emulator?.stop(), logAnalytics?.stop(), tsa?.stop()]);
  });

  function scanForSecrets(instance: HostInstance): void {
    const state = [
      instance.inputJson,
      JSON.stringify(instance.history),
      ...instance.actionsJson,
      JSON.stringify(instance.customStatus ?? null),
      JSON.stringify(instance.output ?? null),
      ...logs.map((l) => l.message),
    ].join('\n');
    for (const secret of secrets) {
      if (state.includes(secret)) throw new Error(`orchestration state or logs contain a secret (${secret.slice(0, 12)}…)`);
    }
  }

  it('POST /api/collections runs to a sealed, verifiable, ingested bundle; history holds no secret', async () => {
    const start = await startCollection(
      post('/api/collections', {
        cluster: CLUSTER,
        caseId: 'INC-9001',
        sources: ['events', 'containerlogs', 'commandhistory', 'serviceaccounts', 'rbacbindings'],
        requester: 'soc@contoso.com',
        reason: 'miner alert',
      }),
      host.clientContext('collections'),
    );
    expect(start.status).toBe(202);
    const runId = json(start).runId as string;
    const instance = await host.waitFor(runId);
    expect(instance.output).toBeDefined();
    expect(instance.runtimeStatus).toBe('Completed');

    // What the user sees.
    const status = json(
      await getCollectionStatus(new functions.HttpRequest({ method: 'GET', url: `${ORIGIN}/api/collections/${runId}`, params: { runId } }), host.clientContext('collectionStatus')),
    );
    expect(status).toMatchObject({ runId, runtimeStatus: 'Completed', caseId: 'INC-9001', clusterResourceId: CLUSTER, progress: { phase: 'completed' } });
    expect(status.evidence.location).toBe(`${azurite.containerUrl('evidence')}/INC-9001/${runId}`);
    const output = instance.output as CollectionRunOutput;
    expect(status.evidence.manifestSha256).toBe(output.seal.manifestSha256);

    // The bundle verifies against the manifest hash the orchestration recorded.
    const store = await openEvidenceLocation(status.evidence.location, { storage: { connectionString: azurite.connectionString } });
    const report = await verifyBundle(store, { expectedManifestSha256: output.seal.manifestSha256 });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    const manifest = await readManifest(store);
    expect(manifest.runId).toBe(runId);
    expect(manifest.request).toMatchObject({ caseId: 'INC-9001', requester: 'soc@contoso.com', reason: 'miner alert' });
    expect(manifest.cluster).toMatchObject({ server: fixture.server, resourceId: CLUSTER, kubernetesVersion: '1.30.4' });
    expect(manifest.collector.runtime).toBe('azure-functions');
    // The report written at sealing: listed (and so verified) in the manifest, linked from the status the playbook comments with.
    expect(manifest.artifacts.find((a) => a.path === 'report.html')?.source).toBe('report');
    expect(status.evidence.reportUrl).toBe(`${status.evidence.location}/report.html`);
    expect(manifest.gaps[0]).toMatchObject({ source: 'audit', reason: 'not-enabled' });
    for (const source of ['events', 'containerlogs', 'serviceaccounts', 'rbacbindings']) expect(manifest.sources[source]?.records).toBeGreaterThan(0);
    // Command history execs are the collector's own actions, recorded as such.
    expect(manifest.actions.length).toBe(fixture.execLog.length);
    expect(manifest.actions.length).toBeGreaterThan(0);

    // Custody: one chain from the claim — started → one artifacts-sealed per task (appended by
    // parallel activities) → manifest-sealed → the anchors → one record per ingestion attempt.
    const custody = await readCustodyLog(store);
    expect(custody[0]?.step).toBe('collection-started');
    expect(custody.filter((c) => c.step === 'artifacts-sealed')).toHaveLength(output.tasks.total);
    expect(custody.some((c) => c.step === 'manifest-sealed')).toBe(true);
    expect(custody.filter((c) => c.step === 'ingestion-attempt')).toHaveLength(output.ingestion?.tables.length ?? -1);
    for (let i = 1; i < custody.length; i++) expect(custody[i]!.prev).toBe(custody[i - 1]!.sha256);
    expect(output.seal.anchors).toMatchObject({ timestamp: { status: 'anchored' }, logAnalytics: { status: 'anchored' } });
    expect(status.evidence.chainHead).toBe(output.seal.chainHead);

    // The anchors outside the bundle: the Log Analytics custody row, the RFC 3161 timestamp, the hash in the run's status.
    const row = emulator.accepted('evidencecustody_CL').find((r) => r.RunId === runId);
    expect(row).toMatchObject({
      RunId: runId,
      CaseId: 'INC-9001',
      ClusterResourceId: CLUSTER,
      manifest_sha256: output.seal.manifestSha256,
      chain_head: output.seal.chainHead,
      EvidenceSha256: output.seal.manifestSha256,
    });
    const anchored = await verifyBundle(store, {
      expectedManifestSha256: status.evidence.manifestSha256,
      tsaCaPem: tsa.caPem,
      anchors: [
        logAnalyticsAnchor({
          workspaceId: '0b6a5b9e-3c1d-4a7e-9f00-1234567890ab',
          credential,
          endpoint: logAnalytics.endpoint,
          clientOptions: { tlsOptions: { ca: logAnalytics.caPem }, retryOptions: { maxRetries: 0 } },
        }),
      ],
    });
    expect(anchored.problems).toEqual([]);
    expect(Object.fromEntries(anchored.anchors.map((a) => [a.anchor, a.status]))).toEqual({
      'expected-sha256': 'passed',
      'rfc3161-timestamp': 'passed',
      'log-analytics': 'passed',
      worm: 'unknown',
    });
    expect(manifest.protection.versionLevelPolicy?.detail).toMatch(/unknown \(the service did not report it/);

    // Ingested: every table with rows went through the emulator, fully acknowledged.
    expect(output.ingestion?.tables.map((t) => t.status).every((s) => s === 'ingested')).toBe(true);
    expect(output.ingestion?.rowsFailed).toBe(0);
    const events = emulator.accepted('kubeevents_CL');
    expect(events.length).toBe(manifest.sources.events?.records);
    expect(events[0]).toMatchObject({ RunId: runId, CaseId: 'INC-9001', ClusterResourceId: CLUSTER });

    scanForSecrets(instance);
    // The scan itself catches a leak (a check that cannot fail proves nothing).
    expect(() => scanForSecrets({ ...instance, inputJson: `${instance.inputJson}${fixture.token}` })).toThrow('contain a secret');
    expect(() => scanForSecrets({ ...instance, customStatus: { x: 'certificate-authority-data: abc' } })).toThrow('contain a secret');
  });

  it('POST /api/incidents/sentinel: a Defender for Containers incident collects its cluster, the named pod first', async () => {
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', defenderContainersIncident()), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(202);
    const [run] = json(res).runs as { runId: string }[];
    const instance = await host.waitFor(run!.runId);
    expect(instance.runtimeStatus).toBe('Completed');
    const output = instance.output as CollectionRunOutput;
    const store = await openEvidenceLocation(output.seal.location, { storage: { connectionString: azurite.connectionString } });
    const manifest = await readManifest(store);
    expect(manifest.request).toMatchObject({ caseId: 'sentinel-2041', priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'], incidentId: expect.stringContaining('/Incidents/') });
    expect((await verifyBundle(store, { expectedManifestSha256: output.seal.manifestSha256 })).ok).toBe(true);

    // A repeated trigger returns the same run and starts nothing.
    const startsBefore = host.starts.length;
    const again = json(await startFromSentinelIncident(post('/api/incidents/sentinel', defenderContainersIncident()), host.clientContext('sentinelIncident')));
    expect(again.runs[0]).toMatchObject({ runId: run!.runId, started: false, runtimeStatus: 'Completed' });
    expect(host.starts.length).toBe(startsBefore);
    scanForSecrets(instance);
  });

  it('a collect activity that throws is retried by the orchestration (TaskFailed, timer, new attempt) and the run still seals complete', async () => {
    // resolveCluster's credential call passes; the next one (the first collect task's) fails once.
    arm.faults.push({ match: 'listClusterUserCredential', status: 400, after: 1, times: 1 });
    const start = json(
      await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-9002', sources: ['serviceaccounts', 'events'] }), host.clientContext('collections')),
    );
    const instance = await host.waitFor(start.runId);
    expect(instance.runtimeStatus).toBe('Completed');
    const types = instance.history.map((e) => e.EventType);
    // 6 = TaskFailed, 10 = TimerCreated, 11 = TimerFired (durable-functions HistoryEventType).
    expect(types.filter((t) => t === 6)).toHaveLength(1);
    expect(types.filter((t) => t === 10)).toHaveLength(1);
    expect(types.filter((t) => t === 11)).toHaveLength(1);
    const failed = instance.history.find((e) => e.EventType === 6) as { Reason: string };
    expect(failed.Reason).toContain('listClusterUserCredential');
    expect(failed.Reason).toContain('HTTP 400');
    const output = instance.output as CollectionRunOutput;
    expect(output.tasks).toMatchObject({ total: 2, failed: 0 });
    expect(output.seal.records.serviceaccounts).toBeGreaterThan(0);
    expect(output.seal.records.events).toBeGreaterThan(0);
    const store = await openEvidenceLocation(output.seal.location, { storage: { connectionString: azurite.connectionString } });
    expect((await verifyBundle(store, { expectedManifestSha256: output.seal.manifestSha256 })).ok).toBe(true);
    scanForSecrets(instance);
  });

  it('kube-audit exported to Log Analytics: the host-built audit source reads it in its own activity, without cluster credentials', async () => {
    const start = json(
      await startCollection(post('/api/collections', { cluster: AUDITED, caseId: 'INC-9003', sources: ['audit', 'events'], since: '7d' }), host.clientContext('collections')),
    );
    const instance = await host.waitFor(start.runId);
    expect(instance.runtimeStatus).toBe('Completed');
    const output = instance.output as CollectionRunOutput;
    expect(output.tasks.total).toBe(2);
    const store = await openEvidenceLocation(output.seal.location, { storage: { connectionString: azurite.connectionString } });
    const manifest = await readManifest(store);
    expect(manifest.gaps.find((g) => g.source === 'audit' && g.reason === 'not-enabled')).toBeUndefined();
    expect(manifest.sources.audit?.rawObjects).toBeGreaterThan(10);
    expect(manifest.artifacts.some((a) => a.table === 'auditevents_CL' && a.records > 0)).toBe(true);
    expect(logAnalytics.requests.length).toBeGreaterThan(0);
    // The audit task's input names where the log goes (a resource id), nothing else.
    const auditInput = instance.history.find((e) => e.EventType === 4 && String(e.Input).includes('"source":"audit"')) as { Input: string };
    expect(JSON.parse(auditInput.Input).audit).toEqual({ enabled: true, categories: ['kube-audit'], destinations: [{ workspaceId: WORKSPACE }] });
    expect((await verifyBundle(store, { expectedManifestSha256: output.seal.manifestSha256 })).ok).toBe(true);
    scanForSecrets(instance);
  });

  it('a cluster ARM does not know: the run fails after its retries and the status says why', async () => {
    const missing = CLUSTER.replace('aks-payments', 'aks-gone');
    const start = json(await startCollection(post('/api/collections', { cluster: missing, caseId: 'INC-9004' }), host.clientContext('collections')));
    const instance = await host.waitFor(start.runId);
    expect(instance.runtimeStatus).toBe('Failed');
    expect(instance.activityRuns.filter((r) => r.name === 'resolveCluster').map((r) => r.attempt)).toEqual([1, 2, 3]);
    const status = json(
      await getCollectionStatus(
        new functions.HttpRequest({ method: 'GET', url: `${ORIGIN}/api/collections/${start.runId}`, params: { runId: start.runId } }),
        host.clientContext('collectionStatus'),
      ),
    );
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.error).toContain('managedClusters/aks-gone was not found');
    expect(status.evidence).toBeUndefined();
    scanForSecrets(instance);
  });
});
