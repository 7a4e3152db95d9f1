import type { KubeConfig } from '@kubernetes/client-node';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { iteratePods } from '../../shared/sources/common/pods.js';
import { targetsSource } from '../../shared/sources/targets/source.js';
import { TARGETS_TABLE } from '../../shared/sources/targets/table.js';
import { collect, context, startCluster } from './helpers.js';

/**
 * The targets a trigger named come first: described in full (the pod as served, its owner
 * chain, the events about each), and ahead of every other pod in the pod-based sources.
 * Against the simulated compromised cluster, through the real client.
 */
describe('priority targets', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  const now = new Date('2024-06-01T12:00:00Z');

  beforeAll(async () => {
    const scenario = await loadScenario('compromise', { now });
    // An event about the CronJob's pod, as the kubelet would record it.
    scenario.objects.push({
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'cleanup-28620465-x7k2p.17d', namespace: 'kube-system', creationTimestamp: '2024-06-01T11:45:02Z' },
      involvedObject: { apiVersion: 'v1', kind: 'Pod', name: 'cleanup-28620465-x7k2p', namespace: 'kube-system', uid: 'to-be-set' },
      reason: 'Pulled',
      message: 'Container image "alpine:3.19" already present on machine',
      type: 'Normal',
      count: 1,
      firstTimestamp: '2024-06-01T11:45:02Z',
      lastTimestamp: '2024-06-01T11:45:02Z',
    });
    const pod = scenario.objects.find((o) => o.kind === 'Pod' && o.metadata.name === 'cleanup-28620465-x7k2p')!;
    const uid = (pod.metadata as { uid?: string }).uid ?? 'c1ea0000-0000-4000-8000-000000000001';
    (pod.metadata as { uid?: string }).uid = uid;
    (scenario.objects.at(-1) as unknown as { involvedObject: { uid: string } }).involvedObject.uid = uid;
    ({ cluster, kc } = await startCluster(scenario, { now: () => now }));
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it('describes a Job pod up its owner chain (Job → CronJob), with the events about it', async () => {
    const out = await collect(targetsSource, context(kc, { priorityPods: ['kube-system/cleanup-28620465-x7k2p'] }));
    expect(out.gaps).toEqual([]);
    expect(out.rows.filter((r) => r.kind !== 'Event').map((r) => `${String(r.kind)} ${String(r.namespace)}/${String(r.name)}`)).toEqual([
      'Pod kube-system/cleanup-28620465-x7k2p',
      'Job kube-system/cleanup-28620465',
      'CronJob kube-system/cleanup',
    ]);
    // Events about each described object (the pod's, the CronJob's), each right after its object.
    const events = out.rows.filter((r) => r.kind === 'Event');
    expect(events[0]).toMatchObject({
      target_reason: 'event of Pod kube-system/cleanup-28620465-x7k2p',
      pod: 'cleanup-28620465-x7k2p',
      event_reason: 'Pulled',
      raw_stream: 'events',
    });
    expect(events.slice(1).every((e) => e.target_reason === 'event of CronJob kube-system/cleanup')).toBe(true);
    expect(out.rows[0]).toMatchObject({
      target_reason: 'pod kube-system/cleanup-28620465-x7k2p',
      raw_stream: 'pods',
      owner_kind: 'Job',
      pod: 'cleanup-28620465-x7k2p',
      node_name: 'aks-nodepool1-12345678-vmss000001',
    });
    expect(out.rows.find((r) => r.kind === 'Job')).toMatchObject({
      target_reason: 'owner of pod kube-system/cleanup-28620465-x7k2p',
      owner_kind: 'CronJob',
      owner_name: 'cleanup',
    });
    // Every row has exactly the table's columns.
    for (const r of out.rows) expect(Object.keys(r).sort()).toEqual(TARGETS_TABLE.columns.map((c) => c.name).sort());
    // Raw objects as served, with their type meta, per stream.
    expect(out.raws.filter((r) => r.stream !== 'events').map((r) => `${r.stream}:${(r.object as { kind: string }).kind}`)).toEqual(['pods:Pod', 'jobs:Job', 'cronjobs:CronJob']);
    expect(out.raws.filter((r) => r.stream === 'events').every((r) => (r.object as { kind: string }).kind === 'Event')).toBe(true);
    const coverage = out.coverage[0]!.targets as { described: { kind: string }[]; named: Record<string, number> };
    expect(coverage.named).toEqual({ pods: 1, namespaces: 0, nodes: 0 });
    expect(coverage.described.map((d) => d.kind)).toEqual(['Pod', 'Job', 'CronJob']);
  });

  it('describes a Deployment pod (ReplicaSet → Deployment), the named namespace and node; a vanished pod is a named gap', async () => {
    const out = await collect(
      targetsSource,
      context(kc, {
        priorityPods: ['kube-system/coredns-5d8c7f6b9d-abcde', 'prod/gone-7d9f8b6c5-zzzzz'],
        priorityNamespaces: ['prod'],
        priorityNodes: ['aks-nodepool1-12345678-vmss000000'],
      }),
    );
    const kinds = out.rows.filter((r) => r.kind !== 'Event').map((r) => `${String(r.kind)} ${String(r.name)}`);
    expect(kinds).toEqual(['Pod coredns-5d8c7f6b9d-abcde', 'ReplicaSet coredns-5d8c7f6b9d', 'Deployment coredns', 'Namespace prod', 'Node aks-nodepool1-12345678-vmss000000']);
    expect(out.gaps).toEqual([expect.objectContaining({ source: 'targets', reason: 'not-found', resource: 'pods prod/gone-7d9f8b6c5-zzzzz', namespace: 'prod' })]);
    expect((out.coverage[0]!.targets as { notFound: string[] }).notFound).toEqual(['pods prod/gone-7d9f8b6c5-zzzzz']);
  });

  it('a run whose trigger named nothing describes nothing and says so', async () => {
    const out = await collect(targetsSource, context(kc));
    expect(out.rows).toEqual([]);
    expect(out.coverage[0]).toEqual({ targets: expect.objectContaining({ note: 'the trigger named no pod, namespace or node' }) });
  });

  it('pod-based sources take the named pod first, then the pods on the named node and in the named namespace, then the rest, each once', async () => {
    const order: string[] = [];
    const ctx = context(kc, {
      priorityPods: ['kube-system/metrics-server-7b9c8d6f5-kq2lm'],
      priorityNodes: ['aks-nodepool1-12345678-vmss000001'],
      priorityNamespaces: ['prod'],
    });
    for await (const e of iteratePods(ctx, 'containerlogs', { sharded: false })) {
      if (e.kind === 'object') order.push(`${String(e.object.metadata?.namespace)}/${String(e.object.metadata?.name)}`);
    }
    const all: { key: string; node: string }[] = [];
    for await (const e of iteratePods(context(kc), 'containerlogs', { sharded: false })) {
      if (e.kind === 'object')
        all.push({
          key: `${String(e.object.metadata?.namespace)}/${String(e.object.metadata?.name)}`,
          node: String((e.object.spec as { nodeName?: string } | undefined)?.nodeName),
        });
    }
    // Every pod exactly once.
    expect(new Set(order).size).toBe(order.length);
    expect([...order].sort()).toEqual(all.map((p) => p.key).sort());
    const onNode = all.filter((p) => p.node === 'aks-nodepool1-12345678-vmss000001').map((p) => p.key);
    const inProd = all.filter((p) => p.key.startsWith('prod/') && !onNode.includes(p.key)).map((p) => p.key);
    const rest = order.filter((p) => p !== 'kube-system/metrics-server-7b9c8d6f5-kq2lm' && !onNode.includes(p) && !inProd.includes(p));
    expect(onNode.length).toBeGreaterThan(0);
    expect(inProd.length).toBeGreaterThan(0);
    expect(rest.length).toBeGreaterThan(0);
    expect(order.slice(0, 1 + onNode.length + inProd.length)).toEqual([
      'kube-system/metrics-server-7b9c8d6f5-kq2lm',
      ...order.slice(1, 1 + onNode.length).filter((p) => onNode.includes(p)),
      ...order.slice(1 + onNode.length, 1 + onNode.length + inProd.length).filter((p) => inProd.includes(p)),
    ]);
    expect(new Set(order.slice(1, 1 + onNode.length))).toEqual(new Set(onNode));
  });
});
