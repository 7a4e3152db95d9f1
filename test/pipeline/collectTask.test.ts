/**
 * runCollectTask under retry, against the simulated cluster: a finished task is found by its
 * summary and costs the cluster nothing; a task that died after publishing its rows retries as
 * `.attempt-2`, leaving the first attempt's files untouched and named in the manifest.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { artifactSha256 } from '../../shared/evidence/hash.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { runCollectTask, type CollectTaskContext } from '../../shared/pipeline/collectTask.js';
import { sealRun } from '../../shared/pipeline/seal.js';
import type { CollectionRequestRecord } from '../../shared/pipeline/types.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { claimRunPath } from '../../shared/evidence/claim.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const request: CollectionRequestRecord = { caseId: 'case-r', sources: ['events', 'containerlogs'], sinceSeconds: 7 * 86400 };

describe('runCollectTask retries', () => {
  let cluster: FixtureCluster;
  let dir: string;
  beforeAll(async () => {
    cluster = await startFixtureCluster(await loadScenario('compromise'), {});
    dir = await mkdtemp(join(tmpdir(), 'aks-evidence-task-'));
  });
  afterAll(async () => {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function ctx(store: EvidenceStore, runId: string): CollectTaskContext {
    return { store, kubeConfig: fixtureKubeConfig(cluster), runId, caseId: 'case-r', request, cluster: { server: cluster.server } };
  }

  test('a retried finished task makes zero API requests and returns the same artifacts', async () => {
    const store = await openLocalBundle(dir, 'run-retry');
    await claimRunPath(store, { runId: 'run-retry', caseId: 'case-r', collector: collectorIdentity({ runtime: 'test' }) });
    const first = await runCollectTask({ source: 'containerlogs' }, ctx(store, 'run-retry'));
    expect(first.records).toBeGreaterThan(20);
    const requestsBefore = cluster.requestLog.length;
    const again = await runCollectTask({ source: 'containerlogs' }, ctx(store, 'run-retry'));
    expect(cluster.requestLog.length - requestsBefore).toBe(0);
    expect(again.artifacts.map((a) => [a.path, a.sha256])).toEqual(first.artifacts.map((a) => [a.path, a.sha256]));
    expect(again.artifacts.some((a) => a.path.includes('attempt'))).toBe(false);
    expect(again.artifacts.map((a) => a.path)).toContain('sources/containerlogs/all.summary.json');
    expect(again).toMatchObject({ records: first.records, status: first.status, apiRequests: first.apiRequests });
  });

  test('a task that died after publishing its rows retries as .attempt-2; the first attempt stays untouched and is named in the manifest as unattributed', async () => {
    const store = await openLocalBundle(dir, 'run-died');
    await claimRunPath(store, { runId: 'run-died', caseId: 'case-r', collector: collectorIdentity({ runtime: 'test' }) });
    // The host dies between publishing the rows and writing the summary.
    const dying: EvidenceStore = Object.create(store) as EvidenceStore;
    dying.writeArtifact = async (path, data, options) => {
      if (path.endsWith('.summary.json')) throw new Error('host died');
      return store.writeArtifact(path, data, options);
    };
    await expect(runCollectTask({ source: 'events' }, ctx(dying, 'run-died'))).rejects.toThrow('host died');
    const firstRows = await store.stat('sources/events/all.rows.ndjson.gz');
    expect(firstRows).toBeDefined();
    const firstSha = await artifactSha256(store, 'sources/events/all.rows.ndjson.gz');
    expect(await store.stat('sources/events/all.summary.json')).toBeUndefined();

    const retried = await runCollectTask({ source: 'events' }, ctx(store, 'run-died'));
    expect(retried.artifacts.every((a) => a.path.startsWith('sources/events/all.attempt-2.'))).toBe(true);
    expect(retried.artifacts.map((a) => a.path)).toEqual(expect.arrayContaining(['sources/events/all.attempt-2.rows.ndjson.gz', 'sources/events/all.attempt-2.summary.json']));
    expect(retried.records).toBe(cluster.scenario.objects.filter((o) => o.kind === 'Event').length);
    // The first attempt's rows are as they were, byte for byte.
    expect(await artifactSha256(store, 'sources/events/all.rows.ndjson.gz')).toBe(firstSha);
    // A third run finds attempt 2's summary and asks the cluster nothing.
    const before = cluster.requestLog.length;
    const third = await runCollectTask({ source: 'events' }, ctx(store, 'run-died'));
    expect(cluster.requestLog.length).toBe(before);
    expect(third.artifacts.map((a) => a.path)).toEqual(retried.artifacts.map((a) => a.path));

    const sealed = await sealRun({
      store,
      runId: 'run-died',
      caseId: 'case-r',
      request: { ...request, sources: ['events'] },
      facts: kubeconfigFacts({ server: cluster.server }),
      results: [retried],
      collector: collectorIdentity({ runtime: 'test' }),
      startedAt: new Date().toISOString(),
    });
    const paths = sealed.manifest.artifacts.map((a) => a.path);
    expect(paths).toEqual(expect.arrayContaining(['sources/events/all.attempt-2.rows.ndjson.gz', 'sources/events/all.attempt-2.summary.json']));
    // The dead attempt's rows: no finished task vouches for them, so they are named (with their hash), not adopted.
    expect(sealed.manifest.unattributed?.find((f) => f.path === 'sources/events/all.rows.ndjson.gz')?.sha256).toBe(firstSha);
    expect(sealed.manifest.sources.events?.records).toBe(retried.records);
    expect((await verifyBundle(store)).ok).toBe(true);
  });
});
