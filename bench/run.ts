/**
 * npm run bench — measures the collector against the loopback fixture API server.
 * Stages (all by default; pick with --stages a,b):
 *   collect    full collection of the eight KubeForenSys sources + the raw baseline, ratio
 *   snapshot   the discovery-driven snapshot source on the same cluster (object counts, time)
 *   memory     peak RSS while collecting ~1 GB of container logs (--memory-gb)
 *   blob       the same collection into Blob Storage (Azurite)
 *   ingestion  Logs Ingestion upload throughput against the HTTPS emulator
 *   shards     a simulated 10,000-pod cluster through the sharded plan: per-shard duration spread
 * Results go to stdout and bench-results/latest.json. No thresholds: figures only.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateCluster } from '../shared/simulator/kube/generate.js';
import { startFixtureCluster } from '../shared/simulator/kube/server.js';
import { HEAP_GROWING_PERCENT } from '../shared/util/heapTuning.js';
import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../shared/cluster/requestBudget.js';
import type { FixtureCluster } from '../shared/simulator/kube/scenario.js';
import { maxOf, minOf } from '../shared/util/arrays.js';

const here = dirname(fileURLToPath(import.meta.url));
const KFS = ['containerlogs', 'events', 'commandhistory', 'serviceaccounts', 'suspiciouspods', 'rbacbindings', 'cronjobs', 'networkpolicies'];

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : NaN;
  return Number.isFinite(v) ? v : fallback;
}
function flagStr(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const cfg = {
  pods: flag('pods', 2000),
  containersPerPod: flag('containers', 2),
  linesPerContainer: flag('lines', 200),
  lineBytes: flag('line-bytes', 100),
  restartEvery: flag('restart-every', 10),
  historyFraction: flag('history-fraction', 0.25),
  latencyMs: flag('latency-ms', 5),
  concurrency: flag('concurrency', DEFAULT_CLUSTER_REQUEST_BUDGET),
  memoryGb: flag('memory-gb', 1),
  shardPods: flag('shard-pods', 10000),
  podsPerShard: flag('pods-per-shard', 250),
  ingestRows: flag('ingest-rows', 200000),
  stages: flagStr('stages', 'collect,snapshot,memory,blob,ingestion,shards').split(','),
  /** Sources of the collect stage (default: the eight KubeForenSys sources). */
  sources: flagStr('sources', KFS.join(',')).split(','),
  out: flagStr('out', 'bench-results/latest.json'),
};

function runStage(stage: string, params: Record<string, unknown>, env: Record<string, string> = {}): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'stage.js'), stage, JSON.stringify(params)], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => {
      const last = out.trim().split('\n').pop() ?? '';
      if (code !== 0) return reject(new Error(`stage ${stage} exited ${code}`));
      try {
        resolve(JSON.parse(last) as Record<string, unknown>);
      } catch {
        reject(new Error(`stage ${stage} printed no result`));
      }
    });
  });
}

async function withCluster<T>(scenarioOpts: Parameters<typeof generateCluster>[0], latencyMs: number, fn: (c: FixtureCluster, kubeconfigPath: string) => Promise<T>): Promise<T> {
  const cluster = await startFixtureCluster(generateCluster(scenarioOpts), { latencyMs });
  const dir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-kc-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, cluster.kubeconfigYaml, { mode: 0o600 });
  try {
    return await fn(cluster, kubeconfigPath);
  } finally {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

const mb = (b: number) => b / 1e6;
const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};

async function main(): Promise<void> {
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? 'unknown', memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version, platform: `${os.platform()} ${os.release()}` };
  const results: Record<string, unknown> = { machine, config: cfg, at: new Date().toISOString() };
  console.log(`aks-evidence bench — ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GiB, Node ${machine.node}`);
  const workDir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-out-'));

  const defaultCluster = {
    pods: cfg.pods,
    containersPerPod: cfg.containersPerPod,
    linesPerContainer: cfg.linesPerContainer,
    lineBytes: cfg.lineBytes,
    restartEvery: cfg.restartEvery,
    historyFraction: cfg.historyFraction,
  };

  if (cfg.stages.includes('collect') || cfg.stages.includes('snapshot')) {
    await withCluster(defaultCluster, cfg.latencyMs, async (cluster, kubeconfigPath) => {
      const base = { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, out: workDir };
      if (cfg.stages.includes('collect')) {
        console.log(`\n[collect] ${cfg.pods} pods × ${cfg.containersPerPod} containers × ${cfg.linesPerContainer} lines of ~${cfg.lineBytes} B, latency ${cfg.latencyMs} ms, concurrency ${cfg.concurrency}/source`);
        const r0 = cluster.requestCount();
        const baseline = await runStage('baseline', { ...base, sources: cfg.sources });
        const r1 = cluster.requestCount();
        const collect = await runStage('collect', { ...base, sources: cfg.sources });
        const r2 = cluster.requestCount();
        const bPer = baseline.perSource as Record<string, { seconds: number; requests: number; bytes: number }>;
        const cPer = collect.perSource as Record<string, { seconds: number; records: number; apiRequests: number; storedBytes: number; peakRssBytes: number }>;
        // API MB/s: the bytes the baseline read for the same requests, over the collector's time.
        // Peak RSS: the collector process's, while the source ran (the sources share one process).
        console.log('  source            seconds     rows      rows/s  API MB/s  stored MB/s  API req  peak RSS MB  baseline s  ratio');
        for (const name of cfg.sources) {
          const c = cPer[name];
          const b = bPer[name];
          if (!c) continue;
          const ratio = b && c.seconds > 0 ? b.seconds / c.seconds : NaN;
          console.log(
            `  ${name.padEnd(17)} ${fmt(c.seconds, 2).padStart(7)} ${String(c.records).padStart(9)} ${fmt(c.records / Math.max(c.seconds, 1e-6), 0).padStart(10)} ${(b ? fmt(mb(b.bytes) / Math.max(c.seconds, 1e-6), 1) : 'n/a').padStart(9)} ${fmt(mb(c.storedBytes) / Math.max(c.seconds, 1e-6), 2).padStart(12)} ${String(c.apiRequests).padStart(8)} ${fmt(mb(c.peakRssBytes), 0).padStart(12)} ${b ? fmt(b.seconds, 2).padStart(11) : '        n/a'} ${Number.isFinite(ratio) ? `${fmt(ratio * 100, 0)}%` : 'n/a'}`,
          );
        }
        const cs = collect.seconds as number;
        const bs = baseline.seconds as number;
        const totalRows = Object.values(cPer).reduce((n, c) => n + c.records, 0);
        console.log(`  total: collector ${fmt(cs, 2)} s, ${fmt(totalRows / cs, 0)} rows/s, API bytes ${fmt(mb(baseline.bytes as number))} MB → ${fmt(mb(baseline.bytes as number) / cs, 1)} MB/s; raw baseline ${fmt(bs, 2)} s → collector reaches ${fmt((bs / cs) * 100, 0)}% of baseline throughput`);
        console.log(`  API requests: collector ${r2 - r1}, baseline ${r1 - r0}; collector peak RSS ${fmt(mb(collect.peakRssBytes as number), 0)} MB`);
        console.log(`  CPU (user+sys, whole process incl. start-up): collector ${fmt(collect.cpuSeconds as number, 1)} s, baseline ${fmt(baseline.cpuSeconds as number, 1)} s (${machine.cpus} cores shared with the fixture API server)`);
        results.collect = { collector: collect, baseline, ratio: bs / cs, collectorRequests: r2 - r1, baselineRequests: r1 - r0 };
      }
      if (cfg.stages.includes('snapshot')) {
        const snap = await runStage('collect', { ...base, sources: ['snapshot'] });
        const s = (snap.perSource as Record<string, { seconds: number; records: number; objects: number; apiRequests: number }>).snapshot;
        console.log(`\n[snapshot] ${s?.objects ?? 0} objects (${s?.records ?? 0} rows) in ${fmt(s?.seconds ?? 0, 2)} s, ${s?.apiRequests ?? 0} API requests, peak RSS ${fmt(mb(snap.peakRssBytes as number), 0)} MB`);
        results.snapshot = snap;
      }
    });
  }

  if (cfg.stages.includes('memory')) {
    const lineBytes = 200;
    const linesPerContainer = 50_000;
    const pods = Math.max(1, Math.round((cfg.memoryGb * 1e9) / (lineBytes * linesPerContainer)));
    await withCluster({ pods, containersPerPod: 1, linesPerContainer, lineBytes, restartEvery: 0, historyFraction: 0 }, 0, async (_c, kubeconfigPath) => {
      console.log(`\n[memory] ${pods} pods × ${linesPerContainer} lines × ${lineBytes} B ≈ ${fmt(cfg.memoryGb, 1)} GB of logs`);
      const params = { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, sources: ['containerlogs'], out: workDir };
      const idle = await runStage('idle', params);
      console.log(`  idle collector process (modules loaded, nothing collected): RSS ${fmt(mb(idle.peakRssBytes as number), 0)} MB`);
      const runs: Record<string, unknown> = { idle };
      // As shipped, the CLI and the Functions entry run full GCs sooner (shared/util/heapTuning.ts);
      // V8's defaults let dead buffers and strings pile up to ~4x the live heap first.
      for (const [label, env] of [[`as shipped (heap growth ${1 + HEAP_GROWING_PERCENT / 100}x)`, {}], ['V8 defaults (AKS_EVIDENCE_HEAP_TUNING=off)', { AKS_EVIDENCE_HEAP_TUNING: 'off' }]] as const) {
        const r = await runStage('collect', params, { ...env });
        const c = (r.perSource as Record<string, { seconds: number; records: number }>).containerlogs;
        console.log(`  ${label}: ${c?.records ?? 0} lines in ${fmt(c?.seconds ?? 0, 1)} s (${fmt(((c?.records ?? 0) * lineBytes) / 1e6 / Math.max(c?.seconds ?? 1, 1e-6), 1)} MB/s of log text); peak RSS ${fmt(mb(r.peakRssBytes as number), 0)} MB (target < 256 MB)`);
        runs[label] = r;
      }
      results.memory = runs;
    });
  }

  if (cfg.stages.includes('blob')) {
    const { startAzurite } = await import('../shared/simulator/azurite.js');
    const azurite = await startAzurite();
    try {
      await withCluster({ ...defaultCluster, pods: Math.min(cfg.pods, 1000) }, 0, async (_c, kubeconfigPath) => {
        const params = { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, sources: ['containerlogs', 'events'], blobConnectionString: azurite.connectionString, blobContainerUrl: azurite.containerUrl('evidence-bench') };
        const local = await runStage('collect', { ...params, blobConnectionString: undefined, blobContainerUrl: undefined, out: workDir });
        const blob = await runStage('collect', params);
        const b = blob.storedBytes as number;
        console.log(`\n[blob] ${blob.artifacts as number} artifacts, ${fmt(mb(b))} MB: Azurite ${fmt(blob.seconds as number, 2)} s (${fmt(mb(b) / (blob.seconds as number), 1)} MB/s) vs local directory ${fmt(local.seconds as number, 2)} s; peak RSS ${fmt(mb(blob.peakRssBytes as number), 0)} MB`);
        results.blob = { blob, local };
      });
    } finally {
      await azurite.stop();
    }
  }

  if (cfg.stages.includes('ingestion')) {
    const { benchIngestion } = await import('./ingestion.js');
    const r = await benchIngestion({ rows: cfg.ingestRows, rowBytes: 300 });
    console.log(`\n[ingestion] ${r.rows} rows, ${fmt(mb(r.bytes))} MB in ${fmt(r.seconds, 2)} s: ${fmt(r.rowsPerSecond, 0)} rows/s, ${fmt(r.mbPerSecond, 1)} MB/s; ${r.requests} requests (minimum the 1 MB limit allows: ${r.minimumRequests})`);
    results.ingestion = r;
  }

  if (cfg.stages.includes('shards')) {
    await withCluster({ pods: cfg.shardPods, containersPerPod: 1, linesPerContainer: 20, lineBytes: 100, restartEvery: 0, historyFraction: 0.1 }, cfg.latencyMs, async (_c, kubeconfigPath) => {
      const r = await runStage('shards', { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, sources: ['containerlogs', 'commandhistory'], out: workDir, podCount: cfg.shardPods, podsPerShard: cfg.podsPerShard, activityConcurrency: 10 });
      const shards = r.shards as { source: string; shard?: string; seconds: number; records: number }[];
      console.log(`\n[shards] ${cfg.shardPods} pods, ${cfg.podsPerShard} pods/shard → ${shards.length} activities (10 at a time, like maxConcurrentActivityFunctions) in ${fmt(r.seconds as number, 1)} s`);
      for (const source of ['containerlogs', 'commandhistory']) {
        const d = shards.filter((s) => s.source === source).map((s) => s.seconds);
        if (!d.length) continue;
        console.log(`  ${source}: ${d.length} shards, duration min ${fmt(minOf(d), 2)} s, median ${fmt(pct(d, 50), 2)} s, p95 ${fmt(pct(d, 95), 2)} s, max ${fmt(maxOf(d), 2)} s`);
      }
      results.shards = r;
    });
  }

  await mkdir(dirname(cfg.out), { recursive: true });
  await writeFile(cfg.out, JSON.stringify(results, null, 2) + '\n');
  await rm(workDir, { recursive: true, force: true });
  console.log(`\nresults written to ${cfg.out}`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
