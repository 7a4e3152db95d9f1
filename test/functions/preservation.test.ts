/**
 * Issue 21's "done when" through the Durable orchestration in the test host: POST
 * /api/collections with preserveFor collects and seals, then the run continues as new into its
 * preservation window — bounded preserveStretch activities, each resuming from the cursor the
 * previous one returned, continue-as-new every two stretches — against the simulated cluster,
 * with Azurite for the evidence and the Logs Ingestion emulator for the increments. A pod deleted
 * while the window runs has its current and previous logs in a sealed increment; a restarted
 * container's earlier logs are kept; every event emitted during the window is there once, across
 * a dropped watch and across stretches; DELETE /api/collections/{runId}/preservation stops it
 * (the stretch in progress seals its segment, the window is closed in custody); the status shows
 * what was preserved so far; no answer carries a management URL or a key.
 */
import './nodeDisposeSymbol.js';
import functions, { type HttpResponseInit } from '@azure/functions';
import { closePreservationActivity } from '../../functions/closePreservation.js';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { getCollectionStatus } from '../../functions/collectionStatus.js';
import { startCollection } from '../../functions/collections.js';
import { collectSourceActivity } from '../../functions/collectSource.js';
import { ingestEvidenceActivity } from '../../functions/ingestEvidence.js';
import { openPreservationActivity } from '../../functions/openPreservation.js';
import { preserveStretchActivity } from '../../functions/preserveStretch.js';
import { resolveClusterActivity } from '../../functions/resolveCluster.js';
import { sealEvidenceActivity } from '../../functions/sealEvidence.js';
import { stopPreservation } from '../../functions/stopPreservation.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { parseManagedClusterId, type ClusterRef } from '../../shared/cluster/clusterRef.js';
import { AKS_ENTRA_SCOPE } from '../../shared/cluster/credentials.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { collectorIdentity, readCustodyLog } from '../../shared/evidence/custody.js';
import { readIncrementManifest } from '../../shared/evidence/increment.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import type { ActivityEnvironment } from '../../shared/orchestration/activities.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { AZURITE_KEY, startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { EMULATOR_TOKEN, MONITOR_SCOPE, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { entraCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { preservationScenario } from '../preservation/scenario.js';
import { logs, startDurableHost, type DurableHost } from './durableHost.js';

const ORIGIN = 'http://localhost:7071';
const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-shop/providers/Microsoft.ContainerService/managedClusters/aks-shop`;

const json = (res: HttpResponseInit): any => JSON.parse(res.body as string);
const post = (path: string, body: unknown) =>
  new functions.HttpRequest({ method: 'POST', url: `${ORIGIN}${path}`, body: { string: JSON.stringify(body) }, headers: { 'content-type': 'application/json' } });

let fixture: FixtureCluster;
let arm: ArmStub;
let azurite: AzuriteBlob;
let emulator: LogsIngestionEmulator;
let host: DurableHost;
let env: ActivityEnvironment;
/** Stretch invocations to fail (a cluster unreachable for a while). */
let failStretches = 0;

function settingsEnv(): Record<string, string> {
  return {
    AKS_EVIDENCE_STORAGE_CONNECTION_STRING: azurite.connectionString,
    AKS_EVIDENCE_CONTAINER: 'evidence',
    AKS_EVIDENCE_INGESTION: JSON.stringify(emulator.targetDocument),
    // Short stretches and generations, so a test sees several of each.
    AKS_EVIDENCE_PRESERVE_STRETCH_SECONDS: '2',
    AKS_EVIDENCE_PRESERVE_STRETCHES_PER_GENERATION: '2',
    // What a Sentinel-started run collects here (the HTTP runs name their sources).
    AKS_EVIDENCE_DEFAULT_SOURCES: 'events,containerlogs',
  };
}

function clusterRef(): ClusterRef {
  const parsed = parseManagedClusterId(CLUSTER);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.ref;
}

beforeAll(async () => {
  [fixture, azurite, emulator] = await Promise.all([
    startFixtureCluster(preservationScenario(), { watchBookmarkIntervalMs: 0 }),
    startAzurite(),
    startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) }),
  ]);
  arm = await startArmStub({ clusters: [entraCluster(fixture, 'aks-shop', { resourceGroup: 'rg-shop' })] });
  const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token, [MONITOR_SCOPE]: EMULATOR_TOKEN });
  const settings = loadAppSettings(settingsEnv());
  env = {
    settings,
    credential,
    arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
    collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
    ingestionClientOptions: emulator.clientOptions,
  };
  // A Sentinel incident leads to this cluster through the deployment's default clusters (no Sentinel reads here).
  configureFunctionsRuntime({ activityEnvironment: env, incidentReaders: { defaultClusters: [clusterRef()] } });
  host = await startDurableHost({
    orchestrators: { collectEvidence: collectEvidenceOrchestrator },
    activities: {
      resolveCluster: resolveClusterActivity as never,
      collectSource: collectSourceActivity as never,
      sealEvidence: sealEvidenceActivity as never,
      ingestEvidence: ingestEvidenceActivity as never,
      openPreservation: openPreservationActivity as never,
      preserveStretch: (async (input: never) => {
        if (failStretches > 0) {
          failStretches--;
          throw new Error('the API server is unreachable (test fault)');
        }
        return preserveStretchActivity(input);
      }) as never,
      closePreservation: closePreservationActivity as never,
    },
  });
}, 60_000);

afterAll(async () => {
  configureFunctionsRuntime({});
  await Promise.all([host?.stop(), arm?.stop(), fixture?.stop(), azurite?.stop(), emulator?.stop()]);
});

async function status(runId: string): Promise<any> {
  return json(
    await getCollectionStatus(new functions.HttpRequest({ method: 'GET', url: `${ORIGIN}/api/collections/${runId}`, params: { runId } }), host.clientContext('collectionStatus')),
  );
}

/** Poll the status endpoint (as a playbook does) until `pred` holds; no wall-clock assertion, only a generous bound. */
async function statusUntil(runId: string, pred: (s: any) => boolean, what: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const s = await status(runId);
    if (pred(s)) return s;
    if (s.runtimeStatus === 'Failed' || s.runtimeStatus === 'Completed') throw new Error(`run ${s.runtimeStatus} while waiting for ${what}: ${JSON.stringify(s).slice(0, 2000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await status(runId)).slice(0, 1000)}`);
}

const del = (runId: string) =>
  stopPreservation(
    new functions.HttpRequest({ method: 'DELETE', url: `${ORIGIN}/api/collections/${runId}/preservation`, params: { runId } }),
    host.clientContext('stopPreservation'),
  );

async function rowsIn(store: EvidenceStore, seqs: number[], file: string): Promise<Record<string, any>[]> {
  const out: Record<string, any>[] = [];
  for (const seq of seqs) {
    const { manifest } = await readIncrementManifest(store, seq);
    const a = manifest.artifacts.find((x) => x.path.endsWith(file));
    if (a) for await (const r of readNdjson(store, a.path)) out.push(r as Record<string, any>);
  }
  return out;
}

describe('a preservation window through the Durable orchestration', () => {
  test('collect, preserve in bounded stretches across continue-as-new, stop by DELETE; the increments hold what the cluster did', async () => {
    const start = await startCollection(
      post('/api/collections', { cluster: CLUSTER, caseId: 'INC-21', sources: ['containerlogs', 'events'], preserveFor: '1h', requester: 'soc@contoso.com' }),
      host.clientContext('collections'),
    );
    expect(start.status).toBe(202);
    const started = json(start);
    expect(started).toMatchObject({ preserveForSeconds: 3600, stopUrl: `${ORIGIN}/api/collections/${started.runId}/preservation` });
    const runId = started.runId as string;

    // Sealed, then preserving: the status has the evidence and the window.
    const preserving = await statusUntil(runId, (s) => s.preservation?.state === 'preserving', 'the window to open');
    expect(preserving).toMatchObject({
      runtimeStatus: 'Running',
      preserveForSeconds: 3600,
      progress: { phase: 'preserving' },
      evidence: { manifestSha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const seal = preserving.evidence.manifestSha256 as string;

    // The attacker deletes the pod (grace period: terminating first); its logs must be kept before the kubelet drops them.
    fixture.changes.deletePod('shop', 'web', { graceMs: 600_000 });
    await statusUntil(runId, (s) => s.preservation?.totals.logLines >= 4, "the deleted pod's logs in a sealed segment");
    fixture.changes.restartContainer('shop', 'worker', 'main', { exitCode: 137, reason: 'OOMKilled', newLines: [{ message: 'worker instance 1 started' }] });
    const emitted: string[] = [];
    for (let i = 1; i <= 3; i++)
      emitted.push(fixture.changes.emitEvent({ namespace: 'shop', involvedObject: { kind: 'Pod', name: 'worker' }, reason: `Before${i}`, message: `event ${i}` }).metadata.name);
    await statusUntil(runId, (s) => s.preservation?.totals.events >= 3 + 2, 'the events in a sealed segment');
    fixture.watches.drop();
    for (let i = 1; i <= 4; i++)
      emitted.push(
        fixture.changes.emitEvent({
          namespace: 'shop',
          involvedObject: { kind: 'Pod', name: 'worker' },
          reason: `After${i}`,
          message: `event ${i} after the drop`,
          type: 'Warning',
        }).metadata.name,
      );
    const during = await statusUntil(runId, (s) => s.preservation?.totals.events >= 3 + 2 + 4 && s.preservation.generation >= 1, 'every event, and a continue-as-new');
    expect(during.preservation).toMatchObject({
      state: 'preserving',
      endsAt: expect.any(String),
      lastSegment: { seq: expect.any(Number), manifestSha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(during.preservation.totals.segments).toBeGreaterThanOrEqual(2);

    // The incident is closed: the playbook stops the window.
    const stop = await del(runId);
    expect(stop.status).toBe(202);
    expect(stop.body as string).not.toMatch(/code=|runtime\/webhooks|systemKey|system-key/);
    expect(json(stop)).toMatchObject({ runId, stopping: true, statusUrl: `${ORIGIN}/api/collections/${runId}` });
    const instance = await host.waitFor(runId);
    expect(instance.runtimeStatus).toBe('Completed');
    expect(instance.generations).toBeGreaterThanOrEqual(2); // collection → preservation, then at least one more generation
    const output = instance.output as CollectionRunOutput;
    expect(output.seal.manifestSha256).toBe(seal);
    expect(output.preservation).toMatchObject({ state: 'ended', endReason: 'stopped' });

    const final = await status(runId);
    expect(final).toMatchObject({
      runtimeStatus: 'Completed',
      progress: { phase: 'completed' },
      preservation: { state: 'ended', endReason: 'stopped' },
      evidence: { manifestSha256: seal },
    });
    // Stopping again: the window is not running any more.
    const again = await del(runId);
    expect(again.status).toBe(409);
    expect(json(again).detail).toMatch(/not running \(it ended: stopped\)/);

    // The bundle: sealed collection + every increment, verified; the window closed in custody.
    const store = await openEvidenceLocation(final.evidence.location, { storage: { connectionString: azurite.connectionString } });
    const report = await verifyBundle(store, { expectedManifestSha256: seal });
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.increments?.sealed).toBe(output.preservation!.totals.segments);
    expect(report.increments?.ended?.reason).toMatch(/^stopped \(requested at /);
    const steps = (await readCustodyLog(store)).map((r) => r.step);
    expect(steps.filter((s) => s === 'preservation-started')).toHaveLength(1);
    expect(steps.at(-1)).toBe('preservation-ended');
    const seqs = Array.from({ length: report.increments!.sealed }, (_, i) => i + 1);

    const logRows = await rowsIn(store, seqs, 'containerlogs.rows.ndjson.gz');
    const web = logRows.filter((r) => r['pod_name'] === 'web');
    expect(web.filter((r) => !r['previous']).map((r) => r['message'])).toEqual(['web v1 serving', 'GET /admin 200 from 203.0.113.9']);
    expect(web.filter((r) => r['previous']).map((r) => r['message'])).toEqual(['web v1 starting (previous instance)', 'panic: the previous instance crashed']);
    const worker = logRows.filter((r) => r['pod_name'] === 'worker' && r['previous']);
    expect(worker.map((r) => r['message'])).toEqual(['worker instance 0 line 1', 'worker instance 0: curl http://203.0.113.9/x | sh']);
    const eventNames = (await rowsIn(store, seqs, 'events.rows.ndjson.gz')).map((r) => r['name'] as string);
    for (const name of emitted) expect(eventNames.filter((n) => n === name)).toHaveLength(1);

    // Each sealed segment was ingested into the same tables, marked as an increment.
    const incrementEvents = emulator.accepted('kubeevents_CL').filter((r) => r['RunId'] === runId && r['CollectionPhase'] === 'increment');
    expect(incrementEvents.map((r) => r['name'])).toEqual(expect.arrayContaining(emitted));
    expect(emulator.accepted('kubeevents_CL').filter((r) => r['RunId'] === runId && r['CollectionPhase'] === 'initial').length).toBe(1);

    // No key, token or management URL in orchestration state, answers or logs.
    const state = [
      instance.inputJson,
      JSON.stringify(instance.history),
      ...instance.actionsJson,
      JSON.stringify(instance.customStatus ?? null),
      JSON.stringify(output),
      JSON.stringify(final),
      ...logs.map((l) => l.message),
    ].join('\n');
    for (const secret of [fixture.token, ARM_TOKEN, EMULATOR_TOKEN, AZURITE_KEY, host.systemKey, 'code=', 'BEGIN CERTIFICATE']) expect(state.includes(secret)).toBe(false);
  }, 180_000);

  test('a stretch that fails after its retries: the window waits on a durable timer and goes on; the status names the error', async () => {
    const start = await startCollection(
      post('/api/collections', { cluster: CLUSTER, caseId: 'INC-23', sources: ['events'], preserveFor: '1h' }),
      host.clientContext('collections'),
    );
    const runId = json(start).runId as string;
    await statusUntil(runId, (s) => s.progress?.phase === 'preserving', 'the run to seal');
    failStretches = 3; // every attempt of one stretch (activityRetry: 3 attempts)
    const failed = await statusUntil(runId, (s) => /stretch \d+ failed after its retries: .*unreachable/.test(s.preservation?.lastError ?? ''), 'the failed stretch in the status');
    expect(failed.preservation.state).toBe('preserving');
    const recovered = await statusUntil(runId, (s) => s.preservation?.totals.segments >= 1 && s.preservation.lastError === undefined, 'a stretch after the back-off');
    expect(recovered.runtimeStatus).toBe('Running');
    expect((await del(runId)).status).toBe(202);
    const instance = await host.waitFor(runId);
    expect(instance.runtimeStatus).toBe('Completed');
    expect(instance.timers.length).toBeGreaterThanOrEqual(1);
    const store = await openEvidenceLocation((await status(runId)).evidence.location, { storage: { connectionString: azurite.connectionString } });
    const report = await verifyBundle(store);
    expect(report.problems).toEqual([]);
    expect(report.increments?.ended?.reason).toMatch(/^stopped/);
  }, 120_000);

  test('a stop asked for while the run still collects: the collection is sealed, no window is opened', async () => {
    const start = await startCollection(
      post('/api/collections', { cluster: CLUSTER, caseId: 'INC-24', sources: ['events', 'containerlogs'], preserveFor: '1h' }),
      host.clientContext('collections'),
    );
    const runId = json(start).runId as string;
    // At once: the run is still resolving or collecting.
    expect((await del(runId)).status).toBe(202);
    const instance = await host.waitFor(runId);
    expect(instance.runtimeStatus).toBe('Completed');
    const output = instance.output as CollectionRunOutput;
    expect(output.preservation).toMatchObject({ state: 'not-started', endReason: 'stopped before the window opened', totals: { segments: 0 } });
    const final = await status(runId);
    expect(final).toMatchObject({ progress: { phase: 'completed' }, preservation: { state: 'not-started' }, evidence: { manifestSha256: output.seal.manifestSha256 } });
    const store = await openEvidenceLocation(final.evidence.location, { storage: { connectionString: azurite.connectionString } });
    const report = await verifyBundle(store, { expectedManifestSha256: output.seal.manifestSha256 });
    expect(report.ok).toBe(true);
    expect(report.increments).toBeUndefined();
    expect((await readCustodyLog(store)).some((r) => r.step === 'preservation-started')).toBe(false);
  }, 60_000);

  test('DELETE answers 404 for an unknown run and 409 for a run that asked for no window; preserveFor is validated like the other fields', async () => {
    expect((await del('0123456789abcdef0123456789abcdef')).status).toBe(404);
    const plain = await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-22', sources: ['events'] }), host.clientContext('collections'));
    const runId = json(plain).runId as string;
    await host.waitFor(runId);
    const res = await del(runId);
    expect(res.status).toBe(409);
    expect(json(res)).toMatchObject({ status: 409, detail: expect.stringMatching(/asked for no preservation window/) });
    for (const [preserveFor, message] of [
      ['8d', /must be from 60 seconds to 7 days/],
      ['soon', /is not a duration/],
      [30, /must be from 60 seconds/],
    ] as const) {
      const bad = await startCollection(post('/api/collections', { cluster: CLUSTER, preserveFor }), host.clientContext('collections'));
      expect(bad.status).toBe(400);
      expect(json(bad).errors).toEqual([expect.objectContaining({ field: 'preserveFor', message: expect.stringMatching(message) })]);
    }
  }, 60_000);

  test('a Sentinel incident: its runs keep preserving, from the body or the deployment setting, and closing the incident stops their windows', async () => {
    const INCIDENT = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-sec/providers/Microsoft.OperationalInsights/workspaces/ws-sec/providers/Microsoft.SecurityInsights/Incidents/`;
    const incident = (name: string, number: number, status: string, extra: Record<string, unknown> = {}) => ({
      object: { id: `${INCIDENT}${name}`, properties: { incidentNumber: number, title: 'Suspicious exec in aks-shop', severity: 'High', status } },
      ...extra,
    });
    const sentinel = (body: unknown) => startFromSentinelIncident(post('/api/incidents/sentinel', body), host.clientContext('sentinelIncident'));

    // The body asks for a window.
    const started = await sentinel(incident('11111111-1111-4111-8111-111111111111', 4101, 'New', { preserveFor: '1h' }));
    expect(started.status).toBe(202);
    const runId = json(started).runs[0].runId as string;
    const preserving = await statusUntil(runId, (s) => s.preservation?.totals.segments >= 1, 'a sealed segment');
    expect(preserving).toMatchObject({ preserveForSeconds: 3600, trigger: { kind: 'sentinel', incidentNumber: 4101 } });
    // A bad preserveFor in the body is refused like any other field, naming it.
    const bad = await sentinel(incident('11111111-1111-4111-8111-111111111111', 4101, 'New', { preserveFor: '8d' }));
    expect(bad.status).toBe(400);
    expect(json(bad).errors).toEqual([expect.objectContaining({ field: 'preserveFor', message: expect.stringMatching(/7 days/) })]);

    // The deployment gives every Sentinel-started run a window; this incident closes while its run still collects.
    configureFunctionsRuntime({
      activityEnvironment: { ...env, settings: loadAppSettings({ ...settingsEnv(), AKS_EVIDENCE_SENTINEL_PRESERVE_FOR: '2h' }) },
      incidentReaders: { defaultClusters: [clusterRef()] },
    });
    const second = await sentinel(incident('22222222-2222-4222-8222-222222222222', 4102, 'Active'));
    const secondRun = json(second).runs[0].runId as string;
    expect((await status(secondRun)).preserveForSeconds).toBe(7200);

    // Closing: each incident's runs, and only those, are asked to stop; nothing new starts.
    const closed = await sentinel(incident('11111111-1111-4111-8111-111111111111', 4101, 'Closed'));
    expect(closed.status).toBe(200);
    expect(json(closed)).toMatchObject({
      incident: { number: 4101, status: 'Closed' },
      runs: [],
      stopping: [{ runId, statusUrl: `${ORIGIN}/api/collections/${runId}` }],
      notStopped: [],
    });
    const closedSecond = await sentinel(incident('22222222-2222-4222-8222-222222222222', 4102, 'Closed'));
    expect(json(closedSecond).stopping).toEqual([expect.objectContaining({ runId: secondRun })]);

    const first = await host.waitFor(runId);
    expect(first.runtimeStatus).toBe('Completed');
    expect((first.output as CollectionRunOutput).preservation?.endReason).toMatch(/^stopped/);
    const store = await openEvidenceLocation((await status(runId)).evidence.location, { storage: { connectionString: azurite.connectionString } });
    const report = await verifyBundle(store);
    expect(report.problems).toEqual([]);
    expect(report.increments?.ended?.reason).toMatch(/^stopped/);
    const secondDone = await host.waitFor(secondRun);
    expect((secondDone.output as CollectionRunOutput).preservation).toMatchObject({ state: 'not-started' });

    // Closed again: nothing is running any more, nothing to stop.
    const again = await sentinel(incident('11111111-1111-4111-8111-111111111111', 4101, 'Closed'));
    expect(json(again)).toMatchObject({ stopping: [], stillCollecting: [], note: expect.stringMatching(/nothing to stop/) });
    configureFunctionsRuntime({ activityEnvironment: env, incidentReaders: { defaultClusters: [clusterRef()] } });
  }, 120_000);
});
