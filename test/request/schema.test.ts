import { collectionInstanceId, forcedInstanceId, isRunId } from '../../shared/orchestration/instanceId.js';
import { parseCollectionRequest } from '../../shared/request/schema.js';

const ID = '/subscriptions/9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d/resourceGroups/rg-payments/providers/Microsoft.ContainerService/managedClusters/aks-payments';
const NOW = new Date('2026-11-22T10:15:00Z');
const KNOWN = ['containerlogs', 'events', 'commandhistory', 'rbacbindings', 'snapshot'];

const parse = (body: unknown) => parseCollectionRequest(body, { knownSources: KNOWN, now: NOW, defaults: { concurrency: 8 } });

describe('collection request validation', () => {
  it('accepts a minimal request: cluster id only, everything else defaulted and stated', () => {
    const r = parse({ cluster: ID });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.value.cluster).toEqual({ resourceId: ID, subscriptionId: '9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d', resourceGroup: 'rg-payments', name: 'aks-payments' });
    expect(r.value.record).toEqual({ caseId: 'aks-aks-payments-20261122', sources: KNOWN, sinceSeconds: 86400, concurrency: 8 });
    expect(r.value.caseIdDerived).toBe(true);
    expect(r.value.force).toBe(false);
  });

  it('accepts the cluster as subscription + resource group + name, and every optional field', () => {
    const r = parse({
      cluster: { subscriptionId: '9A1B2C3D-4E5F-4A6B-8C7D-0E1F2A3B4C5D', resourceGroup: 'rg-payments', name: 'aks-payments' },
      caseId: 'INC-2041',
      sources: ['events', 'containerlogs'],
      namespaces: ['payments', 'payments'],
      excludeNamespaces: ['kube-system'],
      since: '90m',
      requester: 'soc-analyst@contoso.com',
      reason: 'crypto-miner alert',
      legalHold: true,
      retentionDays: 365,
      priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
      force: true,
    });
    if (!r.ok) throw new Error(JSON.stringify(r.problems));
    expect(r.value.cluster.resourceId).toBe(ID);
    expect(r.value.record).toEqual({
      caseId: 'INC-2041',
      sources: ['events', 'containerlogs'],
      sinceSeconds: 5400,
      requester: 'soc-analyst@contoso.com',
      reason: 'crypto-miner alert',
      namespaces: ['payments'],
      excludeNamespaces: ['kube-system'],
      priorityPods: ['payments/checkout-7d9f8b6c5-x2l4p'],
      concurrency: 8,
      legalHold: true,
      retentionDays: 365,
    });
    expect(r.value.force).toBe(true);
  });

  it('names every invalid field at once, each with its fix', () => {
    const r = parse({
      cluster: '/subscriptions/not-a-guid/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1',
      caseId: '../etc',
      sources: ['events', 'kubelogs', 'events'],
      namespaces: ['Payments'],
      since: '3 weeks',
      legalHold: 'yes',
      retentionDays: 0,
      priorityPods: ['checkout'],
      clusterName: 'typo',
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    const fields = r.problems.map((p) => p.field).sort();
    expect(fields).toEqual(['caseId', 'cluster', 'clusterName', 'legalHold', 'namespaces[0]', 'priorityPods[0]', 'retentionDays', 'since', 'sources', 'sources[1]'].sort());
    const byField = Object.fromEntries(r.problems.map((p) => [p.field, p.message]));
    expect(byField.cluster).toContain('expected /subscriptions/');
    expect(byField['sources[1]']).toContain('choose from containerlogs, events');
    expect(byField.sources).toContain('more than once');
    expect(byField.since).toContain('"24h"');
    expect(byField.clusterName).toContain('unknown field');
    expect(byField['namespaces[0]']).toContain('lower-case');
  });

  it('requires the cluster, and names the missing parts of the object form', () => {
    const missing = parse({});
    expect(!missing.ok && missing.problems).toEqual([{ field: 'cluster', message: expect.stringContaining('required') }]);
    const partial = parse({ cluster: { subscriptionId: 'nope', name: '-bad-' } });
    expect(!partial.ok && partial.problems.map((p) => p.field).sort()).toEqual(['cluster.name', 'cluster.resourceGroup', 'cluster.subscriptionId']);
  });

  it('bounds since: too long and zero are rejected, a number of seconds is accepted', () => {
    expect(parse({ cluster: ID, since: '31d' }).ok).toBe(false);
    expect(parse({ cluster: ID, since: 0 }).ok).toBe(false);
    const ok = parse({ cluster: ID, since: 600 });
    expect(ok.ok && ok.value.record.sinceSeconds).toBe(600);
  });

  it("preserveFor: a duration or seconds from 60 s to 7 days, and a load budget with room for the window's watch streams", () => {
    const cluster = '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/aks';
    const ok = parseCollectionRequest({ cluster, preserveFor: '24h' }, { defaults: { concurrency: 32 } });
    expect(ok.ok && ok.value.record.preserveForSeconds).toBe(86400);
    const seconds = parseCollectionRequest({ cluster, preserveFor: 604800 });
    expect(seconds.ok && seconds.value.record.preserveForSeconds).toBe(604800);
    const none = parseCollectionRequest({ cluster });
    expect(none.ok && 'preserveForSeconds' in none.value.record).toBe(false);
    for (const [value, message] of [
      ['8d', /must be from 60 seconds to 7 days/],
      [59, /must be from 60 seconds/],
      ['tomorrow', /is not a duration/],
      [true, /preserveFor must be a duration/],
    ] as const) {
      const bad = parseCollectionRequest({ cluster, preserveFor: value });
      expect(bad.ok ? [] : bad.problems).toEqual([expect.objectContaining({ field: 'preserveFor', message: expect.stringMatching(message) })]);
    }
    const small = parseCollectionRequest({ cluster, preserveFor: '1h' }, { defaults: { concurrency: 8 } });
    expect(small.ok ? [] : small.problems).toEqual([
      expect.objectContaining({ field: 'preserveFor', message: expect.stringMatching(/AKS_EVIDENCE_CONCURRENCY \(8\) must be at least 15/) }),
    ]);
  });

  it('rejects a body that is not an object', () => {
    for (const body of [null, [], 'cluster', 42]) {
      const r = parse(body);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.problems[0]?.message).toContain('JSON object');
    }
  });
});

describe('instance ids', () => {
  it('derive from cluster + case: stable, case-insensitive for the ARM id, Durable-safe', () => {
    const a = parse({ cluster: ID, caseId: 'INC-1' });
    const b = parse({ cluster: ID.toLowerCase(), caseId: 'INC-1' });
    const c = parse({ cluster: ID, caseId: 'INC-2' });
    if (!a.ok || !b.ok || !c.ok) throw new Error('valid');
    const idA = collectionInstanceId(a.value.cluster, 'INC-1');
    expect(collectionInstanceId(b.value.cluster, 'INC-1')).toBe(idA);
    expect(collectionInstanceId(c.value.cluster, 'INC-2')).not.toBe(idA);
    expect(isRunId(idA)).toBe(true);
    const forced = forcedInstanceId(idA, 'nonce-1');
    expect(isRunId(forced)).toBe(true);
    expect(forced).not.toBe(idA);
    expect(forcedInstanceId(idA, 'nonce-2')).not.toBe(forced);
  });
});
