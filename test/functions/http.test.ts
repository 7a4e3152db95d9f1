import functions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { getCollectionStatus } from '../../functions/collectionStatus.js';
import { startCollection } from '../../functions/collections.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { configureFunctionsRuntime, runtimeSettings } from '../../shared/orchestration/environment.js';
import { attemptInstanceId, collectionInstanceId, incidentInstanceId, isRunId } from '../../shared/orchestration/instanceId.js';
import type { CollectionRunInput } from '../../shared/orchestration/types.js';
import { buildClusterRef } from '../../shared/cluster/clusterRef.js';
import { accountOnlyIncident, CLUSTER_ID, defenderContainersIncident, INCIDENT_ID, twoClusterIncident } from '../request/sentinelPayloads.js';
import { logs, startDurableHost, type DurableHost } from './durableHost.js';

const CLUSTER = '/subscriptions/9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-payments';
const ORIGIN = 'https://aks-evidence-func.azurewebsites.net';

function post(path: string, body: unknown, query: Record<string, string> = {}): HttpRequest {
  return new functions.HttpRequest({
    method: 'POST',
    url: `${ORIGIN}${path}`,
    headers: { 'content-type': 'application/json' },
    body: { string: typeof body === 'string' ? body : JSON.stringify(body) },
    query,
  });
}

function get(runId: string): HttpRequest {
  return new functions.HttpRequest({ method: 'GET', url: `${ORIGIN}/api/collections/${runId}`, params: { runId } });
}

function json(res: HttpResponseInit): any {
  return JSON.parse(res.body as string);
}

describe('HTTP triggers, called directly with a real DurableClient against an in-process Durable host', () => {
  let host: DurableHost;

  beforeAll(async () => {
    host = await startDurableHost({ orchestrators: { collectEvidence: collectEvidenceOrchestrator }, activities: {}, execute: false });
    configureFunctionsRuntime({
      // No Sentinel, Log Analytics or ARM reads here (test/functions/sentinelIncident.test.ts covers them against loopback stubs).
      incidentReaders: {},
      settings: loadAppSettings({
        AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net',
        AKS_EVIDENCE_CONTAINER: 'evidence',
        AKS_EVIDENCE_DEFAULT_SOURCES: 'containerlogs,events,rbacbindings',
        AKS_EVIDENCE_PODS_PER_SHARD: '100',
      }),
    });
  });
  afterAll(async () => {
    configureFunctionsRuntime({});
    await host?.stop();
  });

  describe('POST /api/collections', () => {
    it('202: starts collectEvidence under the instance id derived from cluster + case, answers runId and status URLs', async () => {
      const res = await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-100', since: '2h', requester: 'alice' }), host.clientContext('collections'));
      expect(res.status).toBe(202);
      const body = json(res);
      const expectedId = collectionInstanceId(buildClusterRef('9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d', 'rg-payments', 'aks-payments'), 'INC-100');
      expect(body).toMatchObject({
        runId: expectedId,
        started: true,
        caseId: 'INC-100',
        cluster: CLUSTER,
        sources: ['containerlogs', 'events', 'rbacbindings'],
        sinceSeconds: 7200,
      });
      expect(body.statusUrl).toBe(`${ORIGIN}/api/collections/${expectedId}`);
      expect((res.headers as Record<string, string>).Location).toBe(body.statusUrl);
      // Our status endpoint is the only status path: no Durable management URL, no system key.
      expect(body.management).toBeUndefined();
      expect(res.body).not.toContain('code=');
      expect(res.body).not.toContain(host.systemKey);

      const start = host.starts.at(-1);
      expect(start).toEqual({ name: 'collectEvidence', instanceId: expectedId });
      const input = JSON.parse(host.instances.get(expectedId)?.inputJson ?? '{}') as CollectionRunInput;
      expect(input).toMatchObject({
        schemaVersion: 1,
        runId: expectedId,
        cluster: { resourceId: CLUSTER, name: 'aks-payments' },
        request: { caseId: 'INC-100', sources: ['containerlogs', 'events', 'rbacbindings'], sinceSeconds: 7200, requester: 'alice', concurrency: 32, legalHold: false },
        trigger: { kind: 'http' },
        podsPerShard: 100,
        ingest: false,
      });
      expect(logs.some((l) => l.message.includes(host.systemKey))).toBe(false);
    });

    it('a repeated request returns the existing run (200), starts nothing; "force": true starts a separate run', async () => {
      const body = { cluster: CLUSTER.toLowerCase(), caseId: 'INC-100' };
      const startsBefore = host.starts.length;
      const again = await startCollection(post('/api/collections', body), host.clientContext('collections'));
      expect(again.status).toBe(200);
      expect(json(again)).toMatchObject({ started: false, runtimeStatus: 'Pending' });
      expect(json(again).note).toContain('"force": true');
      expect(host.starts.length).toBe(startsBefore);

      const forced = await startCollection(post('/api/collections', { ...body, force: true }), host.clientContext('collections'));
      expect(forced.status).toBe(202);
      expect(json(forced).runId).not.toBe(json(again).runId);
      expect(isRunId(json(forced).runId)).toBe(true);
      expect(host.starts.length).toBe(startsBefore + 1);
    });

    it('a failed or terminated earlier run is never restarted under its id: a new attempt gets its own id and path, linked to the one it replaces; a completed one is returned', async () => {
      const first = json(await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-200' }), host.clientContext('collections')));
      const instance = host.instances.get(first.runId);
      if (!instance) throw new Error('not started');
      instance.runtimeStatus = 'Failed';
      const restarted = await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-200' }), host.clientContext('collections'));
      expect(restarted.status).toBe(202);
      const second = json(restarted).runId as string;
      expect(second).not.toBe(first.runId);
      expect(second).toBe(attemptInstanceId(first.runId, 2));
      expect(isRunId(second)).toBe(true);
      const input = JSON.parse(host.instances.get(second)?.inputJson ?? '{}') as CollectionRunInput;
      expect(input.previousAttempt).toEqual({ runId: first.runId, runtimeStatus: 'Failed' });
      expect(input.claimNonce).toMatch(/^[0-9a-f]{64}$/);
      // The failed attempt stays as it was (its own path, its own record).
      expect(host.instances.get(first.runId)?.runtimeStatus).toBe('Failed');

      // Pending / Running: the same attempt is returned, nothing starts.
      const startsBefore = host.starts.length;
      const pending = json(await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-200' }), host.clientContext('collections')));
      expect(pending).toMatchObject({ runId: second, started: false });
      expect(host.starts.length).toBe(startsBefore);

      // Terminated: a third attempt, linked to the second.
      host.instances.get(second)!.runtimeStatus = 'Terminated';
      const third = json(await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-200' }), host.clientContext('collections')));
      expect(third.runId).toBe(attemptInstanceId(first.runId, 3));
      expect((JSON.parse(host.instances.get(third.runId)?.inputJson ?? '{}') as CollectionRunInput).previousAttempt).toEqual({ runId: second, runtimeStatus: 'Terminated' });

      host.instances.get(third.runId)!.runtimeStatus = 'Completed';
      const completed = await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-200' }), host.clientContext('collections'));
      expect(completed.status).toBe(200);
      expect(json(completed)).toMatchObject({ runId: third.runId, started: false, runtimeStatus: 'Completed' });
    });

    it('400 problem+json naming every invalid field; nothing is started', async () => {
      const startsBefore = host.starts.length;
      const res = await startCollection(
        post('/api/collections', { cluster: { subscriptionId: 'x', resourceGroup: 'rg', name: 'ok' }, sources: ['events', 'nope'], since: '90 days', legalhold: true }),
        host.clientContext('collections'),
      );
      expect(res.status).toBe(400);
      expect((res.headers as Record<string, string>)['Content-Type']).toBe('application/problem+json');
      const problem = json(res);
      expect(problem).toMatchObject({ type: 'urn:aks-evidence:problem:invalid-request', title: 'Invalid collection request', status: 400 });
      expect(problem.errors.map((e: { field: string }) => e.field).sort()).toEqual(['cluster.subscriptionId', 'legalhold', 'since', 'sources[1]']);
      expect(problem.detail).toContain('nothing was started');
      expect(host.starts.length).toBe(startsBefore);
    });

    it('400 for a body that is not JSON', async () => {
      const res = await startCollection(post('/api/collections', '{"cluster": '), host.clientContext('collections'));
      expect(res.status).toBe(400);
      expect(json(res).errors[0].message).toContain('not valid JSON');
    });
  });

  describe('GET /api/collections/{runId}', () => {
    it('404 problem for an unknown or malformed run id', async () => {
      for (const id of ['0123456789abcdef0123456789abcdef', 'not-a-run-id', '../etc']) {
        const res = await getCollectionStatus(get(id), host.clientContext('collectionStatus'));
        expect(res.status).toBe(404);
        expect(json(res)).toMatchObject({ type: 'urn:aks-evidence:problem:run-not-found', status: 404 });
      }
    });

    it('a running run: status, case, cluster, sources, progress', async () => {
      const started = json(await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-300' }), host.clientContext('collections')));
      host.instances.get(started.runId)!.customStatus = { phase: 'collecting', updatedAt: '2026-11-22T10:00:01.000Z', tasks: { total: 3, finished: 1, failed: 0 } };
      const res = await getCollectionStatus(get(started.runId), host.clientContext('collectionStatus'));
      expect(res.status).toBe(200);
      expect((res.headers as Record<string, string>)['Retry-After']).toBe('10');
      expect(json(res)).toMatchObject({
        runId: started.runId,
        runtimeStatus: 'Pending',
        caseId: 'INC-300',
        clusterResourceId: CLUSTER,
        sources: ['containerlogs', 'events', 'rbacbindings'],
        trigger: { kind: 'http' },
        progress: { phase: 'collecting', tasks: { total: 3, finished: 1, failed: 0 } },
      });
    });

    it('a sealed run: evidence location and manifest SHA-256', async () => {
      const started = json(await startCollection(post('/api/collections', { cluster: CLUSTER, caseId: 'INC-400' }), host.clientContext('collections')));
      const instance = host.instances.get(started.runId)!;
      instance.runtimeStatus = 'Completed';
      instance.output = {
        runId: started.runId,
        caseId: 'INC-400',
        clusterResourceId: CLUSTER,
        startedAt: '2026-11-22T10:00:00.000Z',
        endedAt: '2026-11-22T10:03:00.000Z',
        outcome: 'partial',
        seal: {
          runId: started.runId,
          caseId: 'INC-400',
          location: 'https://evidence.blob.core.windows.net/evidence/INC-400/x',
          manifestPath: 'manifest.json',
          manifestSha256: 'f'.repeat(64),
          records: { events: 3 },
          gaps: { events: 1 },
          artifactCount: 9,
        },
        tasks: { total: 1, complete: 0, partial: 1, failed: 0, skipped: 0 },
        failedTasks: [],
      };
      const body = json(await getCollectionStatus(get(started.runId), host.clientContext('collectionStatus')));
      expect(body.runtimeStatus).toBe('Completed');
      expect(body.evidence).toEqual({
        location: 'https://evidence.blob.core.windows.net/evidence/INC-400/x',
        manifestPath: 'manifest.json',
        manifestSha256: 'f'.repeat(64),
        artifactCount: 9,
      });
      expect(body.result).toMatchObject({ outcome: 'partial', records: { events: 3 }, gaps: { events: 1 } });
    });
  });

  describe('POST /api/incidents/sentinel', () => {
    it('202: one run per incident × cluster, pods named by the incident first', async () => {
      const res = await startFromSentinelIncident(post('/api/incidents/sentinel', defenderContainersIncident()), host.clientContext('sentinelIncident'));
      expect(res.status).toBe(202);
      const body = json(res);
      const expectedId = incidentInstanceId(INCIDENT_ID, buildClusterRef(CLUSTER_ID.split('/')[2]!, 'rg-payments', 'aks-payments'));
      expect(body).toMatchObject({ incident: { id: INCIDENT_ID, number: 2041 }, started: 1, existing: 0 });
      expect(body.runs).toEqual([
        expect.objectContaining({
          runId: expectedId,
          started: true,
          cluster: CLUSTER_ID,
          caseId: 'sentinel-2041',
          priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
          statusUrl: `${ORIGIN}/api/collections/${expectedId}`,
        }),
      ]);
      const input = JSON.parse(host.instances.get(expectedId)!.inputJson) as CollectionRunInput;
      expect(input.request).toMatchObject({
        caseId: 'sentinel-2041',
        incidentId: INCIDENT_ID,
        priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
        requester: 'Microsoft Sentinel (workspace law-soc)',
      });
      expect(input.trigger).toMatchObject({ kind: 'sentinel', incidentId: INCIDENT_ID, incidentNumber: 2041 });
    });

    it('a repeated trigger returns the existing run; ?force=true starts another', async () => {
      const startsBefore = host.starts.length;
      const again = json(await startFromSentinelIncident(post('/api/incidents/sentinel', defenderContainersIncident()), host.clientContext('sentinelIncident')));
      expect(again).toMatchObject({ started: 0, existing: 1 });
      expect(again.runs[0]).toMatchObject({ started: false, runtimeStatus: 'Pending' });
      expect(host.starts.length).toBe(startsBefore);
      const forced = json(
        await startFromSentinelIncident(post('/api/incidents/sentinel', defenderContainersIncident(), { force: 'true' }), host.clientContext('sentinelIncident')),
      );
      expect(forced).toMatchObject({ started: 1, existing: 0 });
      expect(forced.runs[0].runId).not.toBe(again.runs[0].runId);
    });

    it('two clusters in one incident: two runs', async () => {
      const body = json(await startFromSentinelIncident(post('/api/incidents/sentinel', twoClusterIncident()), host.clientContext('sentinelIncident')));
      expect(body.runs).toHaveLength(2);
      expect(new Set(body.runs.map((r: { runId: string }) => r.runId)).size).toBe(2);
      expect(body.runs.map((r: { cluster: string }) => r.cluster.split('/').pop()).sort()).toEqual(['aks-batch', 'aks-payments']);
    });

    it('422 when the incident names no AKS cluster; 400 when the body is not an incident', async () => {
      const startsBefore = host.starts.length;
      const none = await startFromSentinelIncident(post('/api/incidents/sentinel', accountOnlyIncident()), host.clientContext('sentinelIncident'));
      expect(none.status).toBe(422);
      expect(json(none)).toMatchObject({ type: 'urn:aks-evidence:problem:no-cluster-in-incident', status: 422 });
      expect(json(none).ways).toHaveLength(6);
      const notIncident = await startFromSentinelIncident(post('/api/incidents/sentinel', { hello: 'world' }), host.clientContext('sentinelIncident'));
      expect(notIncident.status).toBe(400);
      expect(host.starts.length).toBe(startsBefore);
    });
  });

  it('a misconfigured app answers 500 naming the settings to fix, and starts nothing', async () => {
    const configured = runtimeSettings();
    configureFunctionsRuntime({ settings: undefined });
    const saved = { ...process.env };
    for (const k of Object.keys(process.env)) if (k.startsWith('AKS_EVIDENCE_')) delete process.env[k];
    try {
      const res = await startCollection(post('/api/collections', { cluster: CLUSTER }), host.clientContext('collections'));
      expect(res.status).toBe(500);
      expect(json(res).settings.map((s: { setting: string }) => s.setting)).toEqual(['AKS_EVIDENCE_STORAGE_ACCOUNT_URL', 'AKS_EVIDENCE_CONTAINER']);
    } finally {
      process.env = saved;
      configureFunctionsRuntime({ settings: configured, incidentReaders: {} });
    }
  });
});
