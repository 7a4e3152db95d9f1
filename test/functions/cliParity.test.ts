/**
 * One code path, two hosts: a 1,000-pod fixture cluster collected through the Functions app
 * (HTTP trigger → orchestrator → activities, container logs and command history sharded by
 * pod pages, evidence in Azurite) and through the CLI (in process, one task per source, a
 * local bundle) yields the same evidence: the same rows and the same raw objects per source,
 * the same record counts and source gaps. Only the layout (shard files) and run-level facts
 * (run id, times, collector, and the audit log, which only the Functions app can check through
 * ARM) differ.
 */
import './nodeDisposeSymbol.js';
import functions, { type HttpResponseInit } from '@azure/functions';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { startCollection } from '../../functions/collections.js';
import { collectSourceActivity } from '../../functions/collectSource.js';
import { resolveClusterActivity } from '../../functions/resolveCluster.js';
import { sealEvidenceActivity } from '../../functions/sealEvidence.js';
import { runCollect } from '../../shared/cli/collect.js';
import { AKS_ENTRA_SCOPE } from '../../shared/cluster/credentials.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { readManifest } from '../../shared/evidence/manifest.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import type { EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import { readArtifactLines } from '../../shared/ingestion/readLines.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import type { CollectionRunOutput } from '../../shared/orchestration/types.js';
import { entraCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { startDurableHost, type DurableHost } from './durableHost.js';

const CLUSTER = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-parity`;

/**
 * Rows and raw objects of a bundle, by "<source> <rows|raw stream>", each a sorted list of
 * canonical JSON lines. A time inside the run's own window (from a minute before it started:
 * live metrics are stamped at the start of their sampling window) is the collection time, e.g.
 * the TimeGenerated of a "namespace has no network policy" row or a NodeMetrics timestamp; it
 * differs between two runs by nature and is replaced by a marker. The fixture cluster's own
 * times end 10 minutes before the runs, so every time from the cluster is compared as is.
 */
async function evidenceBySource(store: EvidenceStore, manifest: Manifest): Promise<Map<string, string[]>> {
  const from = Date.parse(manifest.startedAt) - 60_000;
  const to = Date.parse(manifest.endedAt);
  const collectionTime = (v: unknown): unknown => {
    if (typeof v !== 'string' || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(v)) return v;
    const t = Date.parse(v);
    return t >= from && t <= to ? '<collection-time>' : v;
  };
  const normalize = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(normalize) : v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalize(x)])) : collectionTime(v);
  const out = new Map<string, string[]>();
  for (const ref of manifest.artifacts) {
    if (ref.kind !== 'rows' && ref.kind !== 'raw') continue;
    const m = /^sources\/[^/]+\/[^.]+(?:\.attempt-\d+)?\.(.+)\.ndjson\.gz$/.exec(ref.path);
    const key = `${ref.source} ${m?.[1] ?? ref.kind}`;
    const list = out.get(key) ?? [];
    for await (const line of readArtifactLines(store, ref, { storedBytes: 0, lines: 0 })) list.push(canonical(normalize(JSON.parse(line.text))));
    out.set(key, list);
  }
  for (const list of out.values()) list.sort();
  return out;
}

function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

describe('Functions app and CLI collect the same evidence from a 1,000-pod cluster', () => {
  let fixture: FixtureCluster;
  let arm: ArmStub;
  let azurite: AzuriteBlob;
  let host: DurableHost;
  let cliDir: string;

  beforeAll(async () => {
    [fixture, azurite] = await Promise.all([
      // The cluster's own times end 10 minutes back, well apart from either run's collection times.
      // Parity of the two hosts, not exec realism (test/k8s-fixture and the history source tests run real
      // shells): 2,000 real execs, 64 at a time from the Functions shards, can pass the collector's exec
      // time-out on a loaded 2-core machine; the in-memory exec cannot.
      startFixtureCluster(
        generateCluster({ pods: 1000, containersPerPod: 1, linesPerContainer: 5, namespaces: 10, historyFraction: 0.05, eventsPerPod: 1, now: new Date(Date.now() - 10 * 60_000) }),
        { exec: 'emulated' },
      ),
      startAzurite(),
    ]);
    arm = await startArmStub({ clusters: [entraCluster(fixture, 'aks-parity')] });
    cliDir = await mkdtemp(join(tmpdir(), 'aks-evidence-parity-'));
    configureFunctionsRuntime({
      activityEnvironment: {
        settings: loadAppSettings({
          AKS_EVIDENCE_STORAGE_CONNECTION_STRING: azurite.connectionString,
          AKS_EVIDENCE_CONTAINER: 'evidence',
          AKS_EVIDENCE_PODS_PER_SHARD: '250',
        }),
        credential: testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token }),
        arm: { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' },
        collector: collectorIdentity({ runtime: 'azure-functions', identity: 'managed identity (test)' }),
      },
    });
    host = await startDurableHost({
      orchestrators: { collectEvidence: collectEvidenceOrchestrator },
      activities: { resolveCluster: resolveClusterActivity as never, collectSource: collectSourceActivity as never, sealEvidence: sealEvidenceActivity as never },
    });
  }, 120_000);

  afterAll(async () => {
    configureFunctionsRuntime({});
    await Promise.all([host?.stop(), arm?.stop(), fixture?.stop(), azurite?.stop()]);
    if (cliDir) await rm(cliDir, { recursive: true, force: true });
  });

  it('same rows, raw objects, counts and source gaps; the Functions run sharded by pod pages', async () => {
    // Functions app.
    const res: HttpResponseInit = await startCollection(
      new functions.HttpRequest({
        method: 'POST',
        url: 'http://localhost:7071/api/collections',
        headers: { 'content-type': 'application/json' },
        body: { string: JSON.stringify({ cluster: CLUSTER, caseId: 'PARITY-1', since: '24h' }) },
      }),
      host.clientContext('collections'),
    );
    expect(res.status).toBe(202);
    const runId = JSON.parse(res.body as string).runId as string;
    const instance = await host.waitFor(runId);
    expect(instance.runtimeStatus).toBe('Completed');
    const output = instance.output as CollectionRunOutput;
    const fnStore = await openEvidenceLocation(output.seal.location, { storage: { connectionString: azurite.connectionString } });
    const fnManifest = await readManifest(fnStore);

    // CLI, same cluster, same request.
    const sink = new PassThrough();
    sink.resume();
    const cli = await runCollect(
      { out: cliDir, case: 'PARITY-1', since: '24h', quiet: true },
      { stdout: sink, stderr: sink, env: {}, cwd: cliDir },
      { kubeConfig: fixtureKubeConfig(fixture), clusterName: 'aks-parity' },
    );
    const cliStore = await openEvidenceLocation(cli.sealed.location);
    const cliManifest = cli.sealed.manifest;

    // The Functions run sharded the pod-based sources (1000 pods / 250 per shard); the CLI did not.
    const shards = (m: Manifest, source: string) => new Set(m.artifacts.filter((a) => a.source === source && a.kind === 'rows').map((a) => a.shard ?? 'all'));
    expect(shards(fnManifest, 'containerlogs')).toEqual(new Set(['1-of-4', '2-of-4', '3-of-4', '4-of-4']));
    expect(shards(cliManifest, 'containerlogs')).toEqual(new Set(['all']));
    expect(fnManifest.request.sources).toEqual(cliManifest.request.sources);

    // Same evidence per source.
    const [fnEvidence, cliEvidence] = await Promise.all([evidenceBySource(fnStore, fnManifest), evidenceBySource(cliStore, cliManifest)]);
    expect([...fnEvidence.keys()].sort()).toEqual([...cliEvidence.keys()].sort());
    for (const [key, lines] of cliEvidence) {
      const fnLines = fnEvidence.get(key) ?? [];
      if (fnLines.length !== lines.length || fnLines.some((l, i) => l !== lines[i])) {
        const onlyCli = lines.filter((l) => !fnLines.includes(l)).slice(0, 2);
        const onlyFn = fnLines.filter((l) => !lines.includes(l)).slice(0, 2);
        throw new Error(`${key}: ${fnLines.length} lines via Functions vs ${lines.length} via CLI; only CLI: ${onlyCli.join(' | ')}; only Functions: ${onlyFn.join(' | ')}`);
      }
    }
    // Every current line of the 1,000 containers (5 each), plus the previous logs of restarted ones.
    expect(cliEvidence.get('containerlogs rows')?.length).toBeGreaterThan(5000);
    expect(cliEvidence.get('containerlogs rows')?.length).toBe(fnManifest.sources.containerlogs?.records);

    // The audit log is read from Azure: the Functions app knows from ARM that it is not exported,
    // the CLI (kubeconfig only) cannot tell. Each says so; neither collected anything.
    expect(fnManifest.sources.audit).toMatchObject({ status: 'skipped', records: 0, gaps: [{ reason: 'not-enabled' }] });
    expect(cliManifest.sources.audit?.gaps.map((g) => g.reason)).toEqual(['unsupported']);
    for (const [name, s] of Object.entries(cliManifest.sources)) {
      if (name === 'audit') continue;
      const f = fnManifest.sources[name];
      expect({ name, records: f?.records, rawObjects: f?.rawObjects, gaps: f?.gaps.map((g) => `${g.reason} ${g.resource ?? ''}`).sort() }).toEqual({
        name,
        records: s.records,
        rawObjects: s.rawObjects,
        gaps: s.gaps.map((g) => `${g.reason} ${g.resource ?? ''}`).sort(),
      });
    }
    // The collector's own execs: the same containers, the same commands.
    const execs = (m: Manifest) => m.actions.map((a) => `${a.namespace}/${a.pod}/${a.container} ${a.command.join(' ')} ${a.outcome}`).sort();
    expect(execs(fnManifest)).toEqual(execs(cliManifest));
  }, 600_000);
});
