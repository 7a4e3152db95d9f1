/**
 * One benchmark stage in its own process, so its peak RSS is its own (the fixture API server
 * runs in the parent). Usage: node dist/bench/stage.js <stage> <json-params>
 * Prints one JSON result line on stdout.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import v8 from 'node:v8';
import { KubeApi } from '../shared/cluster/kubeApi.js';
import { loadKubeConfig } from '../shared/cluster/kubeConfig.js';
import { claimRunPath } from '../shared/evidence/claim.js';
import { collectorIdentity } from '../shared/evidence/custody.js';
import { openEvidenceLocation } from '../shared/evidence/openStore.js';
import type { EvidenceStore } from '../shared/evidence/types.js';
import { collectRun, kubeconfigFacts } from '../shared/pipeline/collectRun.js';
import { countPods, reviewSourceAccess } from '../shared/cluster/accessReview.js';
import { runCollectTask } from '../shared/pipeline/collectTask.js';
import { planWaves, requestShare, runBudget } from '../shared/pipeline/loadBudget.js';
import { planCollectTasks } from '../shared/pipeline/plan.js';
import { sealRun } from '../shared/pipeline/seal.js';
import { SOURCES } from '../shared/sources/registry.js';
import { newRunId } from '../shared/pipeline/runId.js';
import type { CollectTaskResult } from '../shared/pipeline/types.js';

interface StageParams {
  kubeconfigPath: string;
  sources: string[];
  concurrency: number;
  sinceSeconds: number;
  out?: string;
  blobConnectionString?: string;
  blobContainerUrl?: string;
  podsPerShard?: number;
  /** preserve stage: the cli window's seconds, the azure stretches' seconds and count. */
  windowSeconds?: number;
  stretchSeconds?: number;
  stretches?: number;
}

let peakRss = 0;
/** Where the memory was at the sampled peak: V8's heap (per space), off-heap buffers, and the rest (native). */
let atPeak: Record<string, number> = {};
/** [Date.now(), rss] every 25 ms: the process's peak while each source ran. */
const rssSamples: [number, number][] = [];
const sampler = setInterval(() => {
  const rss = process.memoryUsage.rss();
  if (rss > peakRss) {
    const m = process.memoryUsage();
    atPeak = { rss, heapTotal: m.heapTotal, heapUsed: m.heapUsed, external: m.external, arrayBuffers: m.arrayBuffers };
    for (const space of v8.getHeapSpaceStatistics()) atPeak[`space.${space.space_name}`] = space.space_size;
  }
  peakRss = Math.max(peakRss, rss);
  rssSamples.push([Date.now(), rss]);
}, 25);

async function openStore(p: StageParams, runId: string): Promise<EvidenceStore> {
  if (p.blobContainerUrl && p.blobConnectionString) {
    return openEvidenceLocation(p.blobContainerUrl, { caseId: 'bench', runId, storage: { connectionString: p.blobConnectionString } });
  }
  return openEvidenceLocation(p.out ?? (await mkdtemp(join(tmpdir(), 'aks-evidence-bench-'))), { runId, cwd: process.cwd() });
}

function finish(result: Record<string, unknown>): void {
  clearInterval(sampler);
  peakRss = Math.max(peakRss, process.memoryUsage().rss, process.resourceUsage().maxRSS * 1024);
  const cpu = process.cpuUsage();
  // CPU of the whole process (event loop, GC and zlib threads): compare with the wall time.
  process.stdout.write(JSON.stringify({ ...result, peakRssBytes: peakRss, atPeak, cpuSeconds: (cpu.user + cpu.system) / 1e6 }) + '\n');
}

async function main(): Promise<void> {
  const [stage, json] = process.argv.slice(2);
  const p = JSON.parse(json ?? '{}') as StageParams;
  const kc = loadKubeConfig({ kubeconfigPath: p.kubeconfigPath });
  // The cluster's load budget, as the CLI's --concurrency sets it.
  KubeApi.for(kc).budget.limit = p.concurrency;
  const request = { caseId: 'bench', sources: p.sources, sinceSeconds: p.sinceSeconds, concurrency: p.concurrency };

  if (stage === 'idle') {
    // Everything a collection loads, nothing collected: the floor under every RSS figure.
    await import('../shared/pipeline/collectRun.js');
    await new Promise((r) => setTimeout(r, 200));
    finish({});
    return;
  }

  if (stage === 'baseline') {
    const { rawBaseline } = await import('./baseline.js');
    finish(await rawBaseline(kc, { sources: p.sources, concurrency: p.concurrency, sinceSeconds: p.sinceSeconds }));
    return;
  }

  const runId = newRunId();
  const store = await openStore(p, runId);
  const cluster = { server: kc.getCurrentCluster()?.server ?? '', name: 'bench' };

  if (stage === 'preserve') {
    const { preserveBench } = await import('./preserve.js');
    finish(
      await preserveBench({
        kubeConfig: kc,
        store,
        runId,
        server: cluster.server,
        windowSeconds: p.windowSeconds ?? 60,
        stretchSeconds: p.stretchSeconds ?? 20,
        stretches: p.stretches ?? 3,
      }),
    );
    return;
  }

  if (stage === 'collect') {
    const t0 = performance.now();
    const sealed = await collectRun({
      kubeConfig: kc,
      store,
      runId,
      request,
      collector: collectorIdentity({ runtime: 'bench' }),
      facts: kubeconfigFacts(cluster),
    });
    const seconds = (performance.now() - t0) / 1000;
    const perSource: Record<string, unknown> = {};
    for (const [name, s] of Object.entries(sealed.manifest.sources)) {
      const bytes = sealed.manifest.artifacts.filter((a) => a.source === name).reduce((n, a) => n + a.bytes, 0);
      const from = s.startedAt ? Date.parse(s.startedAt) : 0;
      const to = s.endedAt ? Date.parse(s.endedAt) : Date.now();
      const secs = s.startedAt && s.endedAt ? (to - from) / 1000 : seconds;
      // Sources share the process: this is its peak while the source was running, not the source's own.
      const peakRssBytes = rssSamples.reduce((m, [t, rss]) => (t >= from && t <= to ? Math.max(m, rss) : m), 0);
      perSource[name] = {
        seconds: secs,
        records: s.records,
        objects: s.rawObjects,
        gaps: s.gaps.length,
        apiRequests: s.apiRequests ?? 0,
        storedBytes: bytes,
        peakRssBytes,
        ...(sealed.manifest.coverage?.[name] !== undefined ? { coverage: sealed.manifest.coverage[name] } : {}),
      };
    }
    const storedBytes = sealed.manifest.artifacts.reduce((n, a) => n + a.bytes, 0);
    finish({ seconds, perSource, storedBytes, artifacts: sealed.manifest.artifacts.length, actions: sealed.manifest.actions.length, location: store.location });
    return;
  }

  if (stage === 'scale') {
    // The Functions path in one process: each activity has its own kubeconfig object (its own
    // connection pool) and enforces its share of the budget, as on separate instances.
    const budget = runBudget(p.concurrency);
    const t0 = performance.now();
    // The run claims its path first, as the resolveCluster activity does (tasks and the seal adopt only what the claim vouches for).
    await claimRunPath(store, { runId, caseId: 'bench', collector: collectorIdentity({ runtime: 'bench' }) });
    const resolveKc = loadKubeConfig({ kubeconfigPath: p.kubeconfigPath });
    KubeApi.for(resolveKc).budget.limit = Math.min(8, budget);
    const podCount = await countPods(resolveKc);
    const review = await reviewSourceAccess(resolveKc, SOURCES.kubernetesAccess(p.sources), { concurrency: Math.min(8, budget) });
    const t1 = performance.now();
    const facts = { ...kubeconfigFacts(cluster), podCount, access: review.access };
    const tasks = planCollectTasks(request, facts, { podsPerShard: p.podsPerShard ?? 250 });
    const shares = tasks.map((task) => requestShare(task, budget));
    const taskTimes: { source: string; shard?: string; seconds: number; records: number; startedMs: number; endedMs: number }[] = [];
    const results: CollectTaskResult[] = new Array<CollectTaskResult>(tasks.length);
    const waves = planWaves(tasks, shares, budget);
    for (const wave of waves) {
      await Promise.all(
        wave.map(async (index) => {
          const task = tasks[index]!;
          const kc = loadKubeConfig({ kubeconfigPath: p.kubeconfigPath });
          KubeApi.for(kc).budget.limit = Math.max(1, shares[index] ?? 1);
          const s0 = performance.now();
          const r = await runCollectTask(task, { store, kubeConfig: kc, runId, caseId: 'bench', request, cluster, concurrency: Math.max(1, shares[index] ?? 1) });
          const s1 = performance.now();
          await KubeApi.for(kc).close();
          results[index] = r;
          taskTimes.push({ source: r.source, ...(r.shard ? { shard: r.shard } : {}), seconds: (s1 - s0) / 1000, records: r.records, startedMs: s0 - t0, endedMs: s1 - t0 });
        }),
      );
    }
    const t2 = performance.now();
    const sealed = await sealRun({
      store,
      runId,
      caseId: 'bench',
      request,
      facts,
      results,
      collector: collectorIdentity({ runtime: 'bench' }),
      startedAt: new Date(performance.timeOrigin + t0).toISOString(),
    });
    const t3 = performance.now();
    finish({
      pods: podCount,
      seconds: (t3 - t0) / 1000,
      stages: { resolve: (t1 - t0) / 1000, collect: (t2 - t1) / 1000, seal: (t3 - t2) / 1000 },
      tasks: tasks.length,
      waves: waves.length,
      budget,
      clientPeakInFlight: waves.reduce(
        (m, w) =>
          Math.max(
            m,
            w.reduce((n, i) => n + (shares[i] ?? 0), 0),
          ),
        0,
      ),
      records: sealed.manifest.artifacts.reduce((n, a) => n + (a.kind === 'rows' ? a.records : 0), 0),
      shards: taskTimes,
    });
    return;
  }
  throw new Error(`unknown stage ${stage}`);
}

main().catch((error: unknown) => {
  clearInterval(sampler);
  process.stderr.write(`bench stage failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
