import { incidentInstanceId, isRunId } from '../../shared/orchestration/instanceId.js';
import { noClusterProblem, resolveIncident } from '../../shared/request/incident/resolve.js';
import { incidentCaseId, incidentRequestRecord, parseSentinelIncident as parseOnly } from '../../shared/request/sentinel.js';

/** Parse, then resolve with what the body carries only (no Sentinel, Log Analytics or ARM reads). */
async function parseSentinelIncident(body: unknown) {
  const parsed = parseOnly(body);
  if (!parsed.ok) return parsed;
  const resolution = await resolveIncident(parsed);
  if (!resolution.targets.length) return { ok: false as const, problem: noClusterProblem(parsed, resolution.record) };
  return { ...parsed, targets: resolution.targets, record: resolution.record };
}
import { accountOnlyIncident, CLUSTER_ID, defenderContainersIncident, INCIDENT_ID, OTHER_CLUSTER_ID, twoClusterIncident } from './sentinelPayloads.js';

describe('Sentinel incident → clusters to collect', () => {
  it('finds the AKS cluster of a Defender for Containers incident and the pod it points at', async () => {
    const r = await parseSentinelIncident(defenderContainersIncident());
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.incident).toMatchObject({ incidentId: INCIDENT_ID, incidentNumber: 2041, severity: 'High', workspace: { name: 'law-soc', resourceGroup: 'rg-soc' } });
    expect(r.targets).toHaveLength(1);
    const [t] = r.targets;
    expect(t?.cluster).toEqual({ resourceId: CLUSTER_ID, subscriptionId: CLUSTER_ID.split('/')[2], resourceGroup: 'rg-payments', name: 'aks-payments' });
    // Found three ways: related entity, alert resourceIdentifiers, Defender entity JSON.
    expect(t?.foundIn).toEqual(
      expect.arrayContaining([
        'object.properties.relatedEntities[0] (azure-resource-entities)',
        'object.properties.alerts[0].properties.resourceIdentifiers[0] (alert-resource-identifiers)',
        'object.properties.alerts[0].properties.entities[0] (azure-resource-entities)',
      ]),
    );
    // K8s-pod through its Namespace $ref; the container entity names the same pod once.
    expect(t?.priorityPods).toEqual(['payments/checkout-7d9f8b6c5-x2l4p']);
    expect(t?.namespaces).toEqual(['payments']);
  });

  it('one target per distinct cluster: ARM ids compare case-insensitively, sub-resource ids count', async () => {
    const r = await parseSentinelIncident(twoClusterIncident());
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.targets.map((t) => t.cluster.resourceId.toLowerCase()).sort()).toEqual([CLUSTER_ID.toLowerCase(), OTHER_CLUSTER_ID.toLowerCase()].sort());
    const other = r.targets.find((t) => t.cluster.name === 'aks-batch');
    expect(other?.foundIn).toEqual(['object.properties.alerts[0].properties.resourceIdentifiers[0] (alert-resource-identifiers)']);
  });

  it('accepts a playbook that forwards only the incident object', async () => {
    const body = defenderContainersIncident();
    const r = await parseSentinelIncident(body.object);
    expect(r.ok && r.targets.length).toBe(1);
  });

  it('reads Defender entities forwarded as the SecurityAlert JSON string', async () => {
    const body = defenderContainersIncident() as { object: { properties: { alerts: { properties: { entities: unknown } }[]; relatedEntities: unknown[] } } };
    const alert = body.object.properties.alerts[0] as { properties: { entities: unknown; resourceIdentifiers?: unknown } };
    alert.properties.entities = JSON.stringify(alert.properties.entities);
    delete alert.properties.resourceIdentifiers;
    body.object.properties.relatedEntities = [];
    const r = await parseSentinelIncident(body);
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.targets[0]?.foundIn).toEqual([
      'object.properties.alerts[0].properties.entities[0] (azure-resource-entities)',
      'object.properties.alerts[0].properties.entities[1] (k8s-cluster-entities)',
    ]);
    expect(r.targets[0]?.priorityPods).toEqual(['payments/checkout-7d9f8b6c5-x2l4p']);
  });

  it('no cluster: 422 naming what was looked for and what was found', async () => {
    const r = await parseSentinelIncident(accountOnlyIncident());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.status).toBe(422);
    expect(r.problem.title).toBe('No AKS cluster in the incident');
    expect(r.problem.detail).toContain('Microsoft.ContainerService/managedClusters');
    expect(r.problem.detail).toContain('alert-resource-identifiers');
    expect(r.problem.detail).toContain('entities seen: account ×1, ip ×1');
    // Every way, in order, with what it found.
    expect((r.problem.ways as { step: string }[]).map((w) => w.step)).toEqual([
      'azure-resource-entities',
      'alert-resource-identifiers',
      'k8s-cluster-entities',
      'scheduled-alert-rows',
      'node-resource-group',
      'default-clusters',
    ]);
    expect(r.problem.incidentId).toBe(INCIDENT_ID);
  });

  it("the incident's status and a preservation window: read, bounded, and refused with the field named", () => {
    const body = defenderContainersIncident() as { object: { properties: Record<string, unknown> } };
    body.object.properties.status = 'closed';
    const closed = parseOnly({ ...body, preserveFor: '24h' }, { concurrency: 32 });
    if (!closed.ok) throw new Error(JSON.stringify(closed.problem));
    expect(closed.incident.status).toBe('Closed');
    expect(closed.preserveForSeconds).toBe(86400);
    body.object.properties.status = 'Resolved';
    const bad = parseOnly({ ...body, preserveFor: '24h' }, { concurrency: 8 });
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.problem.errors).toEqual([
      { field: 'object.properties.status', message: 'must be one of New, Active, Closed' },
      { field: 'preserveFor', message: expect.stringContaining('AKS_EVIDENCE_CONCURRENCY (8) must be at least 15') },
    ]);
    const notDuration = parseOnly({ ...defenderContainersIncident(), preserveFor: { hours: 24 } });
    expect(notDuration.ok ? [] : notDuration.problem.errors).toEqual([{ field: 'preserveFor', message: expect.stringContaining('duration') }]);
  });

  it('not an incident at all: 400 naming object.id', async () => {
    const r = await parseSentinelIncident({ title: 'hello' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.status).toBe(400);
    expect(r.problem.errors?.[0]?.field).toBe('object.id');
    const notObject = await parseSentinelIncident([1, 2]);
    expect(!notObject.ok && notObject.problem.status).toBe(400);
  });

  it('one run per incident × cluster: instance ids are stable, distinct per cluster, and Durable-safe', async () => {
    const r = await parseSentinelIncident(twoClusterIncident());
    if (!r.ok) throw new Error('expected clusters');
    const ids = r.targets.map((t) => incidentInstanceId(r.incident.incidentId, t.cluster));
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) {
      expect(isRunId(id)).toBe(true);
      // eslint-disable-next-line no-control-regex -- a run id must hold no control character
      expect(id).not.toMatch(/[/\\?#\u0000-\u001f]/);
    }
    // Same incident, ARM id spelled differently: same run.
    const again = await parseSentinelIncident(twoClusterIncident());
    if (!again.ok) throw new Error('expected clusters');
    const upper = incidentInstanceId(INCIDENT_ID.toUpperCase(), again.targets[0]!.cluster);
    expect(upper).toBe(ids[0]);
  });

  it('builds the request record: case id from the incident number, pods first, reason and requester for custody', async () => {
    const r = await parseSentinelIncident(defenderContainersIncident());
    if (!r.ok) throw new Error('expected a cluster');
    expect(incidentCaseId(r.incident)).toBe('sentinel-2041');
    const record = incidentRequestRecord(r.incident, r.targets[0]!, { sources: ['events', 'containerlogs'], sinceSeconds: 7200, legalHold: true });
    expect(record).toEqual({
      caseId: 'sentinel-2041',
      requester: 'Microsoft Sentinel (workspace law-soc)',
      reason:
        'Sentinel incident #2041: Detected suspicious file download (Preview) [High]; incident entities point at namespace(s) payments; pod(s) payments/checkout-7d9f8b6c5-x2l4p; node(s) aks-nodepool1-12345678-vmss000002',
      incidentId: INCIDENT_ID,
      // The incident named a pod: the targets source is added, first.
      sources: ['targets', 'events', 'containerlogs'],
      sinceSeconds: 7200,
      priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
      priorityNamespaces: ['payments'],
      // The Defender alert's Host entity is an AKS node: its pods come right after the named pod.
      priorityNodes: ['aks-nodepool1-12345678-vmss000002'],
      legalHold: true,
    });
  });
});
