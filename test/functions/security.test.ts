/**
 * The Azure path keeps its keys and the cluster's secrets, and tells its story:
 *  - no response of any endpoint (success and error paths) carries `code=` or the task hub's
 *    system key: our status endpoint is the only status path;
 *  - a run driven through the in-process Durable host, with the invocation hooks running as the
 *    worker runs them, logs every line with RunId, CaseId, ClusterResourceId (and Source, Shard
 *    for collect tasks) as OpenTelemetry attributes — one run is one query;
 *  - marker secrets seeded in the simulated cluster reach no HTTP answer, log line, telemetry
 *    attribute or message, evidence blob or ingested row.
 */
import './nodeDisposeSymbol.js';
import functions, { type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import { logs as otelLogs } from '@opentelemetry/api-logs';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { getCollectionStatus } from '../../functions/collectionStatus.js';
import { startCollection } from '../../functions/collections.js';
import { collectSourceActivity } from '../../functions/collectSource.js';
import { ingestEvidenceActivity } from '../../functions/ingestEvidence.js';
import { resolveClusterActivity } from '../../functions/resolveCluster.js';
import { sealEvidenceActivity } from '../../functions/sealEvidence.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { postInvocationTelemetry, preInvocationTelemetry } from '../../functions/telemetry.js';
import { AKS_ENTRA_SCOPE } from '../../shared/cluster/credentials.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import type { ActivityEnvironment } from '../../shared/orchestration/activities.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { AZURITE_KEY, startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { shiftScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster, KubeObject } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { EMULATOR_TOKEN, MONITOR_SCOPE, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { entraCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { accountOnlyIncident, defenderContainersIncident } from '../request/sentinelPayloads.js';
import { allMarkers, markerScenario } from '../security/markerScenario.js';
import { decode, hits, type Text } from '../security/scan.js';
import { invokeWithHooks, logs, startDurableHost, type DurableHost } from './durableHost.js';

const ORIGIN = 'https://aks-evidence-func.azurewebsites.net';
const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-payments`;
const HOOKS = { pre: preInvocationTelemetry, post: postInvocationTelemetry };
const ACTIVITIES = ['resolveCluster', 'collectSource', 'sealEvidence', 'ingestEvidence'];
/** The sources whose rows or raw objects carry pods, pod templates, annotations, ConfigMaps or Secrets. */
const SOURCES_WITH_SECRETS = ['containerlogs', 'serviceaccounts', 'snapshot', 'workloadfindings', 'suspiciouspods', 'cronjobs', 'events'];
/** A whole run through the in-process host on a shared 2-core machine. */
const RUN_TIMEOUT_MS = 180_000;

function post(path: string, body: unknown): HttpRequest {
  return new functions.HttpRequest({
    method: 'POST',
    url: `${ORIGIN}${path}`,
    headers: { 'content-type': 'application/json' },
    body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
  });
}
function get(runId: string): HttpRequest {
  return new functions.HttpRequest({ method: 'GET', url: `${ORIGIN}/api/collections/${runId}`, params: { runId } });
}

/** Filler pods so the pod-sharded sources plan more than one shard (13 pods, 10 per shard). */
function fillerPods(): KubeObject[] {
  return Array.from({ length: 12 }, (_, i) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `filler-${i}`, namespace: 'default', creationTimestamp: '2024-06-01T09:00:00Z' },
    spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'busybox:1.36' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', ready: true, restartCount: 0, state: { running: { startedAt: '2024-06-01T09:00:00Z' } } }] },
  }));
}

describe('the Azure path keeps its keys and the cluster’s secrets, and tells its story', () => {
  let fixture: FixtureCluster;
  let arm: ArmStub;
  let azurite: AzuriteBlob;
  let emulator: LogsIngestionEmulator;
  let host: DurableHost;
  let exporter: InMemoryLogRecordExporter;
  let provider: LoggerProvider;
  let taskHubFault = false;
  const answers: { what: string; res: HttpResponseInit }[] = [];

  async function call(what: string, handler: (r: HttpRequest, c: InvocationContext) => Promise<HttpResponseInit>, request: HttpRequest, fn: string): Promise<HttpResponseInit> {
    const res = await invokeWithHooks(handler as never, [request], host.clientContext(fn), HOOKS);
    answers.push({ what, res: res as HttpResponseInit });
    return res as HttpResponseInit;
  }
  const text = (res: HttpResponseInit): string => `${JSON.stringify(res.headers ?? {})}\n${String(res.body ?? '')}`;

  beforeAll(async () => {
    exporter = new InMemoryLogRecordExporter();
    provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter })] });
    otelLogs.setGlobalLoggerProvider(provider);
    const scenario = markerScenario();
    scenario.objects.push(...fillerPods());
    [fixture, azurite, emulator] = await Promise.all([
      startFixtureCluster(shiftScenario(scenario, new Date())),
      startAzurite(),
      startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) }),
    ]);
    arm = await startArmStub({ clusters: [entraCluster(fixture, 'aks-payments', { resourceGroup: 'rg-payments' })] });
    const env: ActivityEnvironment = {
      settings: loadAppSettings({
        AKS_EVIDENCE_STORAGE_CONNECTION_STRING: azurite.connectionString,
        AKS_EVIDENCE_CONTAINER: 'evidence',
        AKS_EVIDENCE_INGESTION: JSON.stringify(emulator.targetDocument),
        AKS_EVIDENCE_PODS_PER_SHARD: '10',
      }),
      credential: testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token, [MONITOR_SCOPE]: EMULATOR_TOKEN }),
      arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
      collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
      ingestionClientOptions: emulator.clientOptions,
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
      hooks: HOOKS,
      // A task hub in trouble: the extension's error text quotes its management URL, system key included.
      respond: () =>
        taskHubFault
          ? {
              status: 500,
              body: {
                Message: `failed: ${host.baseUrl}/instances/x?taskHub=AksEvidence&connection=Storage&code=${host.systemKey}`,
                requiredQueryStringParameters: `code=${host.systemKey}`,
              },
            }
          : undefined,
    });
  });

  afterAll(async () => {
    configureFunctionsRuntime({});
    await provider?.shutdown();
    otelLogs.disable();
    await Promise.all([host?.stop(), arm?.stop(), fixture?.stop(), azurite?.stop(), emulator?.stop()]);
  });

  let runId = '';

  it(
    'a run through the in-process host: every log record carries the run’s attributes; one query tells its story',
    async () => {
      const start = await call(
        'POST /api/collections 202',
        startCollection,
        post('/api/collections', { cluster: CLUSTER, caseId: 'INC-7001', requester: 'soc@contoso.com', sources: SOURCES_WITH_SECRETS }),
        'collections',
      );
      expect(start.status).toBe(202);
      runId = JSON.parse(start.body as string).runId as string;
      const instance = await host.waitFor(runId);
      expect(instance.runtimeStatus).toBe('Completed');
      const output = instance.output as CollectionRunOutput;
      expect(output.tasks.failed).toBe(0);
      const status = await call('GET status 200 (completed)', getCollectionStatus, get(runId), 'collectionStatus');
      expect(status.status).toBe(200);

      const records = exporter.getFinishedLogRecords();
      const ofRun = records.filter((r) => r.attributes['RunId'] === runId);
      // One query (customDimensions.RunId == runId) finds the HTTP call, every activity's start and end, and the status read.
      const functionsSeen = new Set(ofRun.map((r) => r.attributes['FunctionName']));
      expect([...functionsSeen].sort()).toEqual(['collectSource', 'collectionStatus', 'collections', 'ingestEvidence', 'resolveCluster', 'sealEvidence']);
      const activityRecords = records.filter((r) => ACTIVITIES.includes(String(r.attributes['FunctionName'])));
      const activityRuns = instance.activityRuns.length;
      expect(activityRecords).toHaveLength(activityRuns * 2); // started + finished, each
      for (const r of activityRecords) {
        expect(r.attributes).toMatchObject({ RunId: runId, CaseId: 'INC-7001', ClusterResourceId: CLUSTER, InvocationId: expect.any(String) });
      }
      const collect = activityRecords.filter((r) => r.attributes['FunctionName'] === 'collectSource');
      expect(collect.every((r) => typeof r.attributes['Source'] === 'string')).toBe(true);
      const shards = new Set(collect.filter((r) => r.attributes['Source'] === 'containerlogs').map((r) => r.attributes['Shard']));
      expect([...shards].sort()).toEqual(['1-of-2', '2-of-2']);
      const finished = collect.filter((r) => String(r.body).endsWith('finished'));
      expect(finished.every((r) => ['complete', 'partial', 'skipped'].includes(String(r.attributes['Outcome'])) && typeof r.attributes['Records'] === 'number')).toBe(true);
      const ingest = activityRecords.filter((r) => r.attributes['FunctionName'] === 'ingestEvidence');
      expect(ingest.every((r) => typeof r.attributes['Table'] === 'string')).toBe(true);
      expect(activityRecords.find((r) => r.attributes['FunctionName'] === 'sealEvidence' && r.attributes['ManifestSha256'])?.attributes['ManifestSha256']).toBe(
        output.seal.manifestSha256,
      );
      // The host's own channel carries the same attributes as text.
      expect(logs.filter((l) => l.message.includes(`RunId=${runId}`)).length).toBeGreaterThanOrEqual(activityRecords.length);
    },
    RUN_TIMEOUT_MS,
  );

  it('no marker secret reaches an HTTP answer, a log line, a telemetry attribute or message, an evidence blob or an ingested row', async () => {
    expect(runId).not.toBe('');
    const markers = [...allMarkers().map((m) => m.marker), fixture.token, AZURITE_KEY, host.systemKey];
    const telemetry: Text[] = exporter
      .getFinishedLogRecords()
      .map((r, i) => ({ where: `telemetry record #${i} (${String(r.attributes['FunctionName'])})`, text: `${String(r.body)}\n${JSON.stringify(r.attributes)}` }));
    const hostLogs: Text[] = logs.map((l, i) => ({ where: `host log #${i}`, text: l.message }));
    const responses: Text[] = answers.map((a) => ({ where: a.what, text: text(a.res) }));
    const store = await openEvidenceLocation(`${azurite.containerUrl('evidence')}/INC-7001/${runId}`, { storage: { connectionString: azurite.connectionString } });
    const blobs: Text[] = [];
    for await (const item of store.list()) {
      const chunks: Buffer[] = [];
      for await (const c of await store.read(item.path)) chunks.push(Buffer.from(c as Uint8Array));
      blobs.push({ where: item.path, text: decode(Buffer.concat(chunks)) });
    }
    expect(blobs.length).toBeGreaterThan(20);
    const rows: Text[] = SOURCES.tables.tables.flatMap((t) =>
      emulator
        .accepted(t.name)
        .filter((r) => r['RunId'] === runId)
        .map((r, i) => ({ where: `${t.name} #${i}`, text: JSON.stringify(r) })),
    );
    expect(rows.length).toBeGreaterThan(20);
    expect(telemetry.length).toBeGreaterThan(10);
    expect(hits([...responses, ...hostLogs, ...telemetry, ...blobs, ...rows], markers)).toEqual([]);
  });

  it(
    'every endpoint, on success and error paths, answers without `code=` or the system key; logs neither',
    async () => {
      const bad = (s: string) => s.includes('code=') || s.includes(host.systemKey);
      // Success paths (202 above), the existing run, validation failures, unknown runs, an incident without a cluster.
      expect((await call('POST /api/collections 200 existing', startCollection, post('/api/collections', { cluster: CLUSTER, caseId: 'INC-7001' }), 'collections')).status).toBe(
        200,
      );
      expect((await call('POST /api/collections 400', startCollection, post('/api/collections', { cluster: 'nope', since: '90d' }), 'collections')).status).toBe(400);
      expect((await call('POST /api/collections 400 not JSON', startCollection, post('/api/collections', '{"cluster":'), 'collections')).status).toBe(400);
      expect((await call('GET status 404', getCollectionStatus, get('0123456789abcdef0123456789abcdef'), 'collectionStatus')).status).toBe(404);
      expect((await call('GET status 404 malformed', getCollectionStatus, get('../x'), 'collectionStatus')).status).toBe(404);
      const incident = await call('POST /api/incidents/sentinel 202', startFromSentinelIncident, post('/api/incidents/sentinel', defenderContainersIncident()), 'sentinelIncident');
      expect(incident.status).toBe(202);
      expect((await call('POST /api/incidents/sentinel 422', startFromSentinelIncident, post('/api/incidents/sentinel', accountOnlyIncident()), 'sentinelIncident')).status).toBe(
        422,
      );
      expect((await call('POST /api/incidents/sentinel 400', startFromSentinelIncident, post('/api/incidents/sentinel', '[]x'), 'sentinelIncident')).status).toBe(400);
      // The task hub failing with its management URL (and key) in the error text: 503, redacted.
      taskHubFault = true;
      try {
        expect((await call('POST /api/collections 503', startCollection, post('/api/collections', { cluster: CLUSTER, caseId: 'INC-7002' }), 'collections')).status).toBe(503);
        expect((await call('GET status 503', getCollectionStatus, get(runId), 'collectionStatus')).status).toBe(503);
        expect(
          (await call('POST /api/incidents/sentinel 503', startFromSentinelIncident, post('/api/incidents/sentinel', defenderContainersIncident()), 'sentinelIncident')).status,
        ).toBe(503);
      } finally {
        taskHubFault = false;
      }
      // Let the incident's run finish before the host stops.
      for (const run of JSON.parse(incident.body as string).runs as { runId: string }[]) await host.waitFor(run.runId);

      const statuses = answers.map((a) => a.res.status).sort();
      expect(new Set(statuses)).toEqual(new Set([200, 202, 400, 404, 422, 503]));
      expect(answers.filter((a) => bad(text(a.res))).map((a) => a.what)).toEqual([]);
      expect(logs.filter((l) => bad(l.message))).toEqual([]);
      expect(exporter.getFinishedLogRecords().filter((r) => bad(`${String(r.body)} ${JSON.stringify(r.attributes)}`))).toEqual([]);
      // The check itself can fail: the fault's body did carry the key.
      expect(bad(`code=${host.systemKey}`)).toBe(true);
    },
    RUN_TIMEOUT_MS,
  );
});
