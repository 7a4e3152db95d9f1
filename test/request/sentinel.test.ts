import { incidentInstanceId, isRunId } from '../../shared/orchestration/instanceId.js';
import { incidentCaseId, incidentRequestRecord, parseSentinelIncident } from '../../shared/request/sentinel.js';
import { accountOnlyIncident, CLUSTER_ID, defenderContainersIncident, INCIDENT_ID, OTHER_CLUSTER_ID, twoClusterIncident } from './sentinelPayloads.js';

describe('Sentinel incident → clusters to collect', () => {
  it('finds the AKS cluster of a Defender for Containers incident and the pod it points at', () => {
    const r = parseSentinelIncident(defenderContainersIncident());
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.incident).toMatchObject({ incidentId: INCIDENT_ID, incidentNumber: 2041, severity: 'High', workspaceName: 'law-soc' });
    expect(r.targets).toHaveLength(1);
    const [t] = r.targets;
    expect(t?.cluster).toEqual({ resourceId: CLUSTER_ID, subscriptionId: CLUSTER_ID.split('/')[2], resourceGroup: 'rg-payments', name: 'aks-payments' });
    // Found three ways: related entity, alert resourceIdentifiers, Defender entity JSON.
    expect(t?.foundIn).toEqual(
      expect.arrayContaining([
        'object.properties.relatedEntities[0] (AzureResource)',
        'object.properties.alerts[0].properties.resourceIdentifiers[0]',
        'object.properties.alerts[0].properties.entities[0] (AzureResource)',
      ]),
    );
    // K8s-pod through its Namespace $ref; the container entity names the same pod once.
    expect(t?.priorityPods).toEqual(['payments/checkout-7d9f8b6c5-x2l4p']);
    expect(t?.namespaces).toEqual(['payments']);
  });

  it('one target per distinct cluster: ARM ids compare case-insensitively, sub-resource ids count', () => {
    const r = parseSentinelIncident(twoClusterIncident());
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.targets.map((t) => t.cluster.resourceId.toLowerCase()).sort()).toEqual([CLUSTER_ID.toLowerCase(), OTHER_CLUSTER_ID.toLowerCase()].sort());
    const other = r.targets.find((t) => t.cluster.name === 'aks-batch');
    expect(other?.foundIn).toEqual(['object.properties.alerts[0].properties.resourceIdentifiers[0]']);
  });

  it('accepts a playbook that forwards only the incident object', () => {
    const body = defenderContainersIncident();
    const r = parseSentinelIncident(body.object);
    expect(r.ok && r.targets.length).toBe(1);
  });

  it('reads Defender entities forwarded as the SecurityAlert JSON string', () => {
    const body = defenderContainersIncident() as { object: { properties: { alerts: { properties: { entities: unknown } }[]; relatedEntities: unknown[] } } };
    const alert = body.object.properties.alerts[0] as { properties: { entities: unknown; resourceIdentifiers?: unknown } };
    alert.properties.entities = JSON.stringify(alert.properties.entities);
    delete alert.properties.resourceIdentifiers;
    body.object.properties.relatedEntities = [];
    const r = parseSentinelIncident(body);
    if (!r.ok) throw new Error(JSON.stringify(r.problem));
    expect(r.targets[0]?.foundIn).toEqual(['object.properties.alerts[0].properties.entities[0] (AzureResource)', 'object.properties.alerts[0].properties.entities[1] (K8s-cluster)']);
    expect(r.targets[0]?.priorityPods).toEqual(['payments/checkout-7d9f8b6c5-x2l4p']);
  });

  it('no cluster: 422 naming what was looked for and what was found', () => {
    const r = parseSentinelIncident(accountOnlyIncident());
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.status).toBe(422);
    expect(r.problem.title).toBe('No AKS cluster in the incident');
    expect(r.problem.detail).toContain('Microsoft.ContainerService/managedClusters');
    expect(r.problem.detail).toContain('resourceIdentifiers');
    expect(r.problem.detail).toContain('kinds: account, ip');
    expect(r.problem.incidentId).toBe(INCIDENT_ID);
  });

  it('not an incident at all: 400 naming object.id', () => {
    const r = parseSentinelIncident({ title: 'hello' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problem.status).toBe(400);
    expect(r.problem.errors?.[0]?.field).toBe('object.id');
    const notObject = parseSentinelIncident([1, 2]);
    expect(!notObject.ok && notObject.problem.status).toBe(400);
  });

  it('one run per incident × cluster: instance ids are stable, distinct per cluster, and Durable-safe', () => {
    const r = parseSentinelIncident(twoClusterIncident());
    if (!r.ok) throw new Error('expected clusters');
    const ids = r.targets.map((t) => incidentInstanceId(r.incident.incidentId, t.cluster));
    expect(new Set(ids).size).toBe(2);
    for (const id of ids) {
      expect(isRunId(id)).toBe(true);
      expect(id).not.toMatch(/[/\\?#\u0000-\u001f]/);
    }
    // Same incident, ARM id spelled differently: same run.
    const again = parseSentinelIncident(twoClusterIncident());
    if (!again.ok) throw new Error('expected clusters');
    const upper = incidentInstanceId(INCIDENT_ID.toUpperCase(), again.targets[0]!.cluster);
    expect(upper).toBe(ids[0]);
  });

  it('builds the request record: case id from the incident number, pods first, reason and requester for custody', () => {
    const r = parseSentinelIncident(defenderContainersIncident());
    if (!r.ok) throw new Error('expected a cluster');
    expect(incidentCaseId(r.incident)).toBe('sentinel-2041');
    const record = incidentRequestRecord(r.incident, r.targets[0]!, { sources: ['events', 'containerlogs'], sinceSeconds: 7200, legalHold: true });
    expect(record).toEqual({
      caseId: 'sentinel-2041',
      requester: 'Microsoft Sentinel (workspace law-soc)',
      reason: 'Sentinel incident #2041: Detected suspicious file download (Preview) [High]; incident entities point at namespace(s) payments',
      incidentId: INCIDENT_ID,
      sources: ['events', 'containerlogs'],
      sinceSeconds: 7200,
      priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
      legalHold: true,
    });
  });
});
