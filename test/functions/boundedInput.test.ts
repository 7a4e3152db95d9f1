/**
 * Issue 16's probes against the HTTP endpoints, as an attacker holding one function key would
 * send them: every string taken from a Sentinel payload is bounded and validated like the
 * HTTP API's fields, arrays are capped with a problem naming the field, and only JSON is
 * accepted. Each of these failed before the fix (503 stack overflow, case "sentinel-..",
 * a 5 MB requester, a form body parsed as an incident).
 */
import functions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { startCollection } from '../../functions/collections.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import type { CollectionRunInput } from '../../shared/orchestration/types.js';
import { isSafeId } from '../../shared/pipeline/runId.js';
import { CLUSTER_ID, defenderContainersIncident, INCIDENT_ID } from '../request/sentinelPayloads.js';
import { startDurableHost, type DurableHost } from './durableHost.js';

const ORIGIN = 'https://aks-evidence-func.azurewebsites.net';

function post(path: string, body: string, contentType: string | null = 'application/json'): HttpRequest {
  return new functions.HttpRequest({
    method: 'POST',
    url: `${ORIGIN}${path}`,
    headers: contentType ? { 'content-type': contentType } : {},
    body: { string: body },
  });
}

const json = (res: HttpResponseInit): any => JSON.parse(res.body as string);

type Incident = { object: { id: string; name: string; properties: Record<string, any> }; workspaceInfo: Record<string, string> };

describe('bounded input on the HTTP endpoints (issue 16, item 5)', () => {
  let host: DurableHost;

  beforeAll(async () => {
    host = await startDurableHost({ orchestrators: { collectEvidence: collectEvidenceOrchestrator }, activities: {}, execute: false });
    configureFunctionsRuntime({
      // No Sentinel, Log Analytics or ARM reads here (test/functions/sentinelIncident.test.ts covers them against loopback stubs).
      incidentReaders: {},
      settings: loadAppSettings({ AKS_EVIDENCE_STORAGE_ACCOUNT_URL: 'https://evidence.blob.core.windows.net', AKS_EVIDENCE_CONTAINER: 'evidence' }),
    });
  });
  afterAll(async () => {
    configureFunctionsRuntime({});
    await host?.stop();
  });

  it('200,000 related entities: a 400 naming object.properties.relatedEntities, not a stack overflow answered 503', async () => {
    const body = defenderContainersIncident() as unknown as Incident;
    const entity = { kind: 'Ip', properties: { address: '203.0.113.7' } };
    body.object.properties.relatedEntities = Array.from({ length: 200_000 }, () => entity);
    const startsBefore = host.starts.length;
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(body)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(400);
    const problem = json(res);
    expect(problem.errors).toEqual([expect.objectContaining({ field: 'object.properties.relatedEntities' })]);
    expect(problem.errors[0].message).toMatch(/at most [\d,]+ entities/);
    expect(host.starts.length).toBe(startsBefore);
  });

  it('20,000 alerts: 413 over the body limit; 600 alerts, or 200,000 entities inside one alert: 400 naming the field', async () => {
    const many = defenderContainersIncident() as unknown as Incident;
    const alert = many.object.properties.alerts[0];
    many.object.properties.alerts = Array.from({ length: 20_000 }, () => alert);
    // 20,000 alerts do not even fit the body limit: 413 naming it, before anything is parsed.
    const huge = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(many)), host.clientContext('sentinelIncident'));
    expect(huge.status).toBe(413);
    expect(json(huge).detail).toContain('16,777,216 bytes');
    // Within the body limit, more alerts than an incident can hold: 400 naming the field.
    many.object.properties.alerts = Array.from({ length: 600 }, () => alert);
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(many)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(400);
    expect(json(res).errors[0].field).toBe('object.properties.alerts');

    const nested = defenderContainersIncident() as unknown as Incident;
    nested.object.properties.alerts[0].properties.entities = Array.from({ length: 200_000 }, (_, i) => ({ $id: String(i + 10), Type: 'ip', Address: '203.0.113.7' }));
    const res2 = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(nested)), host.clientContext('sentinelIncident'));
    expect(res2.status).toBe(400);
    expect(json(res2).errors[0].field).toBe('object.properties.alerts[0].properties.entities');
  });

  it('an incident named ".." is refused (400 naming object.id); it never becomes case "sentinel-.."', async () => {
    const body = defenderContainersIncident() as unknown as Incident;
    delete body.object.properties.incidentNumber;
    body.object.id = INCIDENT_ID.replace(/[^/]+$/, '..');
    body.object.name = '..';
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(body)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(400);
    expect(json(res).errors.map((e: { field: string }) => e.field)).toContain('object.id');
  });

  it('without an incident number the case id is a hash of the incident id, and matches the HTTP API case-id pattern', async () => {
    const body = defenderContainersIncident() as unknown as Incident;
    delete body.object.properties.incidentNumber;
    body.object.name = '../../etc';
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(body)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(202);
    const caseId = json(res).runs[0].caseId as string;
    expect(caseId).toMatch(/^sentinel-[0-9a-f]{16}$/);
    expect(isSafeId(caseId)).toBe(true);
  });

  it('a 5 MB workspace name is refused (400 naming workspaceInfo.WorkspaceName); it never becomes the requester', async () => {
    const body = defenderContainersIncident() as unknown as Incident;
    body.workspaceInfo.WorkspaceName = 'w'.repeat(5 * 1024 * 1024);
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(body)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(400);
    expect(json(res).errors.map((e: { field: string }) => e.field)).toContain('workspaceInfo.WorkspaceName');
    expect((res.body as string).length).toBeLessThan(4096);
  });

  it('every string that reaches the run request is bounded: a 1 MB title is refused, a long one cut to fit the reason, an unknown severity refused', async () => {
    const body = defenderContainersIncident() as unknown as Incident;
    body.object.properties.title = 't'.repeat(1024 * 1024);
    const res = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(body)), host.clientContext('sentinelIncident'));
    expect(res.status).toBe(400);
    expect(json(res).errors.map((e: { field: string }) => e.field)).toContain('object.properties.title');

    const ok = defenderContainersIncident() as unknown as Incident;
    ok.object.properties.title = 'x'.repeat(1000);
    ok.object.properties.incidentNumber = 777001;
    const started = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(ok)), host.clientContext('sentinelIncident'));
    expect(started.status).toBe(202);
    const input = JSON.parse(host.instances.get(json(started).runs[0].runId)!.inputJson) as CollectionRunInput;
    expect(input.request.reason!.length).toBeLessThanOrEqual(2048);
    expect(JSON.stringify(input).length).toBeLessThan(20_000);

    const severity = defenderContainersIncident() as unknown as Incident;
    severity.object.properties.severity = 'Catastrophic'.repeat(10);
    const bad = await startFromSentinelIncident(post('/api/incidents/sentinel', JSON.stringify(severity)), host.clientContext('sentinelIncident'));
    expect(bad.status).toBe(400);
    expect(json(bad).errors.map((e: { field: string }) => e.field)).toContain('object.properties.severity');
  });

  it('a non-JSON content type gets 415 on both endpoints, naming the fix; nothing starts', async () => {
    const incident = JSON.stringify(defenderContainersIncident());
    for (const [handler, path, body] of [
      [startFromSentinelIncident, '/api/incidents/sentinel', incident],
      [startCollection, '/api/collections', JSON.stringify({ cluster: CLUSTER_ID })],
    ] as const) {
      const startsBefore = host.starts.length;
      // No Content-Type at all: the Functions request then reports text/plain (as fetch does for a string body).
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', null]) {
        const res = await handler(post(path, body, type), host.clientContext('x'));
        expect(res.status).toBe(415);
        expect(json(res).detail).toContain('application/json');
      }
      expect(host.starts.length).toBe(startsBefore);
      // JSON with parameters, or a +json type, is JSON.
      const ok = await handler(post(path, body, 'application/json; charset=utf-8'), host.clientContext('x'));
      expect([200, 202]).toContain(ok.status);
    }
  });

  it('POST /api/collections: a body over 256 KB answers 413; 15,000 invalid namespaces a bounded 400', async () => {
    const huge = await startCollection(
      post('/api/collections', JSON.stringify({ cluster: CLUSTER_ID, namespaces: Array.from({ length: 200_000 }, () => 'NOT VALID') })),
      host.clientContext('collections'),
    );
    expect(huge.status).toBe(413);
    const res = await startCollection(
      post('/api/collections', JSON.stringify({ cluster: CLUSTER_ID, namespaces: Array.from({ length: 15_000 }, () => 'NOT VALID') })),
      host.clientContext('collections'),
    );
    expect(res.status).toBe(400);
    const problem = json(res);
    expect(problem.errors.length).toBeLessThanOrEqual(101);
    expect(problem.errors.some((e: { field: string }) => e.field === 'namespaces')).toBe(true);
  });
});
