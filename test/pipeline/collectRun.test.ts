import { claimRunPath } from '../../shared/evidence/claim.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runCollectTask } from '../../shared/pipeline/collectTask.js';
import { planCollectTasks } from '../../shared/pipeline/plan.js';
import { sealRun } from '../../shared/pipeline/seal.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const SECRET_CANARY = /CANARY-SECRET/;

async function rowsOf(store: EvidenceStore, manifest: Manifest, table: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const a of manifest.artifacts.filter((x) => x.kind === 'rows' && x.table === table)) {
    for await (const r of readNdjson(store, a.path)) out.push(r as Record<string, unknown>);
  }
  return out;
}

describe('collectRun on the compromise scenario', () => {
  let scenario: Scenario;
  let cluster: FixtureCluster;
  let dir: string;
  let store: EvidenceStore;
  let manifest: Manifest;
  let manifestSha256: string;

  beforeAll(async () => {
    scenario = await loadScenario('compromise');
    cluster = await startFixtureCluster(scenario, {});
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-run-'));
    store = await openLocalBundle(dir, 'run-1');
    const kc = fixtureKubeConfig(cluster);
    const sealed = await collectRun({
      kubeConfig: kc,
      store,
      runId: 'run-1',
      request: { caseId: 'case-1', sources: SOURCES.names(), sinceSeconds: 7 * 86400, requester: 'jest', reason: 'pipeline test' },
      collector: collectorIdentity({ runtime: 'test' }),
      facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
    });
    manifest = sealed.manifest;
    manifestSha256 = sealed.manifestSha256;
  });

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('every requested source is in the manifest and the bundle verifies', async () => {
    expect(Object.keys(manifest.sources).sort()).toEqual(SOURCES.names().sort());
    for (const s of Object.values(manifest.sources)) expect(s.status).not.toBe('failed');
    const report = await verifyBundle(store);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.manifestSha256).toBe(manifestSha256);
  });

  test('object counts equal what the fixture serves, counted not sampled', async () => {
    const count = (kind: string) => scenario.objects.filter((o) => o.kind === kind).length;
    expect(manifest.sources.events?.records).toBe(count('Event'));
    expect(manifest.sources.serviceaccounts?.records).toBe(count('ServiceAccount'));
    const subjects = scenario.objects
      .filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')
      .reduce((n, b) => n + Math.max(1, ((b as { subjects?: unknown[] }).subjects ?? []).length), 0);
    expect(manifest.sources.rbacbindings?.records).toBe(subjects);
    // Every log line of every container stream the scenario defines, current and previous.
    const lines = Object.values(scenario.logs ?? {}).reduce((n, l) => n + (l.current?.length ?? 0) + (l.previous?.length ?? 0), 0);
    expect(manifest.sources.containerlogs?.records).toBe(lines);
  });

  test('the attack is in the evidence: history, the anonymous binding, the host-root pod', async () => {
    const history = await rowsOf(store, manifest, 'commandhistory_CL');
    expect(history.some((r) => String(r.command).includes('nsenter'))).toBe(true);
    const bindings = await rowsOf(store, manifest, 'rbacbindings_CL');
    expect(bindings.some((r) => r.binding_type === 'ClusterRoleBinding' && r.subject_name === 'system:anonymous' && r.role_ref_name === 'cluster-admin')).toBe(true);
    const pods = await rowsOf(store, manifest, 'suspiciouspods_CL');
    expect(pods.some((r) => r.issue_type === 'privileged')).toBe(true);
    expect(pods.some((r) => String(r.details).includes('/') && String(r.issue_type).startsWith('hostPath'))).toBe(true);
  });

  test('every collector exec is recorded and matches what the API server saw', () => {
    expect(manifest.actions.length).toBe(cluster.execLog.length);
    expect(manifest.actions.length).toBeGreaterThan(0);
    for (const a of manifest.actions) {
      expect(a.kind).toBe('exec');
      expect(a.at).toMatch(/Z$/);
    }
    // A container without a shell is recorded (its no-shell execs and the coverage count), not a gap.
    expect(manifest.actions.some((a) => a.outcome === 'no-shell')).toBe(true);
    const history = (manifest.coverage?.['commandhistory'] as { commandhistory: { withoutShell: number } }[] | undefined) ?? [];
    expect(history.reduce((n, c) => n + c.commandhistory.withoutShell, 0)).toBeGreaterThan(0);
    const gaps = Object.values(manifest.sources).flatMap((s) => s.gaps);
    expect(gaps.some((g) => g.reason === 'no-shell' || g.reason === 'no-history')).toBe(false);
  });

  test('the audit-coverage gap is listed first and no secret value is anywhere in the bundle', async () => {
    expect(manifest.gaps[0]?.source).toBe('audit');
    for (const a of manifest.artifacts) {
      if (!a.path.endsWith('.gz')) continue;
      for await (const r of readNdjson(store, a.path)) expect(JSON.stringify(r)).not.toMatch(SECRET_CANARY);
    }
  });

  test('a retried task returns the finished result; sealing again changes nothing', async () => {
    const kc = fixtureKubeConfig(cluster);
    const request = manifest.request;
    const task = planCollectTasks(request, kubeconfigFacts(manifest.cluster)).find((t) => t.source === 'events')!;
    const again = await runCollectTask(task, { store, kubeConfig: kc, runId: 'run-1', caseId: 'case-1', request, cluster: manifest.cluster });
    const original = manifest.artifacts.find((a) => a.source === 'events' && a.kind === 'rows')!;
    expect(again.artifacts.find((a) => a.kind === 'rows')?.sha256).toBe(original.sha256);
    const resealed = await sealRun({
      store,
      runId: 'run-1',
      caseId: 'case-1',
      request,
      facts: kubeconfigFacts(manifest.cluster),
      results: [],
      collector: manifest.collector,
      startedAt: manifest.startedAt,
    });
    expect(resealed.manifestSha256).toBe(manifestSha256);
  });
});

describe('failures become gaps and nothing collected is lost', () => {
  test('a forbidden source and a failing task still seal with every other source', async () => {
    const scenario = await loadScenario('compromise');
    const cluster = await startFixtureCluster({ ...scenario, forbidden: ['events'] }, {});
    const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-run-'));
    try {
      const store = await openLocalBundle(dir, 'run-2');
      const sealed = await collectRun({
        kubeConfig: fixtureKubeConfig(cluster),
        store,
        runId: 'run-2',
        request: { caseId: 'case-2', sources: ['events', 'serviceaccounts', 'cronjobs'], sinceSeconds: 86400 },
        collector: collectorIdentity({ runtime: 'test' }),
        facts: kubeconfigFacts({ server: cluster.server }),
      });
      const events = sealed.manifest.sources.events!;
      expect(events.records).toBe(0);
      expect(events.gaps.some((g) => g.reason === 'forbidden')).toBe(true);
      expect(sealed.manifest.sources.serviceaccounts?.records).toBeGreaterThan(0);
      expect(sealed.manifest.sources.cronjobs?.records).toBeGreaterThan(0);
      expect((await verifyBundle(store)).ok).toBe(true);
    } finally {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('pod-sharded plan: shards partition the pods, together they equal the unsharded collection', async () => {
    const scenario = await loadScenario('compromise');
    const cluster = await startFixtureCluster(scenario, {});
    const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-run-'));
    try {
      const store = await openLocalBundle(dir, 'run-3');
      await claimRunPath(store, { runId: 'run-3', caseId: 'c', collector: collectorIdentity({ runtime: 'test' }) });
      const kc = fixtureKubeConfig(cluster);
      const request = { caseId: 'c', sources: ['containerlogs'], sinceSeconds: 7 * 86400 };
      const tasks = planCollectTasks(request, { ...kubeconfigFacts({ server: cluster.server }), podCount: 20 }, { podsPerShard: 5 });
      expect(tasks.length).toBe(4);
      let sharded = 0;
      for (const task of tasks) {
        const r = await runCollectTask(task, { store, kubeConfig: kc, runId: 'run-3', caseId: 'c', request, cluster: { server: cluster.server } });
        expect(r.shard).toMatch(/^\d-of-4$/);
        sharded += r.records;
      }
      const whole = await runCollectTask({ source: 'containerlogs' }, { store, kubeConfig: kc, runId: 'run-3', caseId: 'c', request, cluster: { server: cluster.server } });
      expect(sharded).toBe(whole.records);
      expect(whole.records).toBeGreaterThan(0);
    } finally {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
