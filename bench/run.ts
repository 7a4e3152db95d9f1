/**
 * npm run bench — measures the collector against the loopback simulated cluster.
 * Stages (all by default; pick with --stages a,b):
 *   start      cold start of `aks-evidence collect` to its first Kubernetes request; the
 *              Functions entry's import time and RSS; the idle collector process's RSS
 *   collect    full collection of the eight KubeForenSys sources + the raw baseline, ratio
 *   snapshot   the discovery-driven snapshot source on the same cluster (object counts, time)
 *   memory     peak RSS while collecting ~1 GB of container logs (--memory-gb), V8's defaults
 *   blob       the same collection into Blob Storage (Azurite)
 *   ingestion  Logs Ingestion upload throughput against the HTTPS emulator
 *   scale      the Functions plan in-process (resolve, pod-sharded waves within the load
 *              budget, seal) at --scale-pods sizes: seconds per 1,000 pods, time per stage, and
 *              the peak of concurrent requests the simulated cluster saw against the budget
 *   preserve   (not in the default list: about two minutes) an idle preservation window on a
 *              --preserve-pods cluster (default 2,000): API requests per minute beyond its watch
 *              streams, as the CLI runs it (one stretch, --preserve-seconds) and as the Functions
 *              app runs it (bounded stretches resuming from the cursor, --preserve-stretch-seconds
 *              × --preserve-stretches). Run it with: npm run bench -- --stages preserve
 * Every stage that collects runs in its own process (its peak RSS and CPU are its own).
 * Results go to stdout and bench-results/latest.json, with a summary of the headline figures.
 * No thresholds: figures only.
 * The simulated cluster emulates exec by default (--exec real for real shells); the output says which ran.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../shared/cluster/requestBudget.js';
import { generateCluster } from '../shared/simulator/kube/generate.js';
import { startFixtureCluster } from '../shared/simulator/kube/server.js';
import type { FixtureCluster } from '../shared/simulator/kube/scenario.js';
import { maxOf, minOf } from '../shared/util/arrays.js';
import { startConcurrencyProbe } from './concurrencyProbe.js';
import { coldStart, distUrl, importCost, olderSystemNode, spread, type Spread } from './startup.js';

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
  /** The cluster's load budget (the CLI's --concurrency, the app's AKS_EVIDENCE_CONCURRENCY). */
  concurrency: flag('concurrency', DEFAULT_CLUSTER_REQUEST_BUDGET),
  memoryGb: flag('memory-gb', 1),
  /** Pod counts of the scale stage. */
  scalePods: flagStr('scale-pods', '100,1000,10000')
    .split(',')
    .map(Number)
    .filter((n) => n > 0),
  podsPerShard: flag('pods-per-shard', 250),
  ingestRows: flag('ingest-rows', 200000),
  /** Cold starts per launch mode; idle and entry measurements per figure. */
  startRuns: flag('start-runs', 7),
  stages: flagStr('stages', 'start,collect,snapshot,memory,blob,ingestion,scale').split(','),
  /**
   * How the simulated cluster runs exec'd commands. Default 'emulated': real exec (a process
   * tree per exec, forked from the server) cost the simulator ~2.4x the CPU of the in-memory
   * emulation on the 6,004-exec history stage, CPU the collector under test then lacks on a
   * shared machine. '--exec real' measures with real shells.
   */
  exec: flagStr('exec', 'emulated') as 'auto' | 'real' | 'emulated',
  /** Sources of the collect stage (default: the eight KubeForenSys sources). */
  sources: flagStr('sources', KFS.join(',')).split(','),
  out: flagStr('out', 'bench-results/latest.json'),
  /** preserve stage: cluster size, the cli window, the azure stretches. */
  preservePods: flag('preserve-pods', 2000),
  preserveSeconds: flag('preserve-seconds', 60),
  preserveStretchSeconds: flag('preserve-stretch-seconds', 20),
  preserveStretches: flag('preserve-stretches', 3),
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
        const result = JSON.parse(last) as Record<string, unknown>;
        stageCpuTotal += typeof result['cpuSeconds'] === 'number' ? result['cpuSeconds'] : 0;
        resolve(result);
      } catch {
        reject(new Error(`stage ${stage} printed no result`));
      }
    });
  });
}

/** CPU seconds of this process and of its waited-for children (the real exec runtime's processes), from /proc. */
function cpuSeconds(): { self: number; children: number } {
  const usage = process.cpuUsage();
  let children = 0;
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ');
    // Fields 16 and 17 (cutime, cstime) are the 14th and 15th after the command name, in clock ticks.
    children = (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    /* not Linux */
  }
  return { self: (usage.user + usage.system) / 1e6, children };
}

async function withCluster<T>(scenarioOpts: Parameters<typeof generateCluster>[0], latencyMs: number, fn: (c: FixtureCluster, kubeconfigPath: string) => Promise<T>): Promise<T> {
  const cluster = await startFixtureCluster(generateCluster(scenarioOpts), { latencyMs, exec: cfg.exec });
  console.log(`  simulated cluster exec: ${cluster.exec.mode} — ${cluster.exec.detail}`);
  simulatorExec.add(cluster.exec.mode);
  const dir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-kc-'));
  const kubeconfigPath = join(dir, 'kubeconfig');
  await writeFile(kubeconfigPath, cluster.kubeconfigYaml, { mode: 0o600 });
  const cpuBefore = cpuSeconds();
  const stageCpuBefore = stageCpuTotal;
  try {
    return await fn(cluster, kubeconfigPath);
  } finally {
    const cpuAfter = cpuSeconds();
    const execCpu = Math.max(0, cpuAfter.children - cpuBefore.children - (stageCpuTotal - stageCpuBefore));
    console.log(`  simulated cluster CPU: ${fmt(cpuAfter.self - cpuBefore.self)} s in the server process, ${fmt(execCpu)} s in exec'd processes (${cluster.exec.mode} exec)`);
    simulatorCpu.push({ mode: cluster.exec.mode, serverSeconds: cpuAfter.self - cpuBefore.self, execProcessSeconds: execCpu });
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Which exec modes the simulated clusters of this run used (recorded with the results). */
const simulatorExec = new Set<string>();
/** CPU seconds the stage processes reported (they are children too: subtracted from the children's CPU). */
let stageCpuTotal = 0;
const simulatorCpu: { mode: string; serverSeconds: number; execProcessSeconds: number }[] = [];

const mb = (b: number) => b / 1e6;
const fmt = (n: number, d = 1) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
/** "123 ms (110–140, 7 runs)" */
const showSpread = (s: Spread, unit: string, d = 0) => `${fmt(s.median, d)} ${unit} (${fmt(s.min, d)}–${fmt(s.max, d)}, ${s.runs.length} runs)`;

async function main(): Promise<void> {
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverage: os.loadavg(),
  };
  const results: Record<string, unknown> = { machine, config: cfg, at: new Date().toISOString() };
  const summary: Record<string, unknown> = {};
  console.log(
    `aks-evidence bench — ${machine.cpus} × ${machine.cpuModel}, ${machine.memoryGb} GiB, Node ${machine.node}, load average ${machine.loadAverage.map((l) => fmt(l, 1)).join(' ')}`,
  );
  const workDir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-out-'));

  const defaultCluster = {
    pods: cfg.pods,
    containersPerPod: cfg.containersPerPod,
    linesPerContainer: cfg.linesPerContainer,
    lineBytes: cfg.lineBytes,
    restartEvery: cfg.restartEvery,
    historyFraction: cfg.historyFraction,
  };

  if (cfg.stages.includes('start')) {
    await withCluster({ pods: 20, containersPerPod: 1, linesPerContainer: 10 }, 0, async (cluster, kubeconfigPath) => {
      console.log('\n[start] process start → first byte of the first Kubernetes request (`aks-evidence collect --sources events`)');
      const node22 = await coldStart({ kubeconfigYaml: cluster.kubeconfigYaml, server: cluster.server, node: process.execPath, runs: cfg.startRuns, sources: ['events'] });
      console.log(
        `  Node ${process.versions.node} (npm scripts, npx): ${showSpread(node22.toFirstRequestMs, 'ms')}; CPU by then ${node22.cpuMs ? showSpread(node22.cpuMs, 'ms') : 'n/a'}`,
      );
      const start: Record<string, unknown> = { node22 };
      const system = olderSystemNode();
      if (system) {
        const rerun = await coldStart({ kubeconfigYaml: cluster.kubeconfigYaml, server: cluster.server, node: system, runs: cfg.startRuns, sources: ['events'] });
        console.log(
          `  system Node ${system} → launcher re-runs under Node 22: ${showSpread(rerun.toFirstRequestMs, 'ms')}; CPU by then ${rerun.cpuMs ? showSpread(rerun.cpuMs, 'ms') : 'n/a'}`,
        );
        start.systemNodeRerun = { node: system, ...rerun };
      }
      const entry = Array.from({ length: cfg.startRuns }, () => importCost([distUrl('functions/index.js')]));
      const firstActivity = Array.from({ length: Math.min(3, cfg.startRuns) }, () =>
        importCost([distUrl('functions/index.js'), distUrl('shared/orchestration/activities.js'), distUrl('shared/pipeline/collectTask.js')]),
      );
      const entryWall = spread(entry.map((e) => e.wallMs));
      const entryCpu = spread(entry.map((e) => e.cpuMs));
      const entryRss = spread(entry.map((e) => mb(e.rssBytes)));
      const activityRss = spread(firstActivity.map((e) => mb(e.rssBytes)));
      console.log(
        `  Functions entry (dist/functions/index.js): import ${showSpread(entryWall, 'ms')}, CPU ${showSpread(entryCpu, 'ms')}, RSS ${showSpread(entryRss, 'MB')}; with a collect activity's modules: RSS ${showSpread(activityRss, 'MB')}`,
      );
      const idle: number[] = [];
      for (let i = 0; i < Math.min(3, cfg.startRuns); i++) {
        idle.push(mb((await runStage('idle', { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400, sources: KFS })).peakRssBytes as number));
      }
      const idleRss = spread(idle);
      console.log(`  idle collector process (a collection's modules loaded, the kubeconfig read, nothing collected): RSS ${showSpread(idleRss, 'MB')}`);
      results.start = { ...start, functionsEntry: { wallMs: entryWall, cpuMs: entryCpu, rssMb: entryRss, withCollectActivityRssMb: activityRss }, idleRssMb: idleRss };
      summary.coldStartMs = node22.toFirstRequestMs.median;
      summary.coldStartCpuMs = node22.cpuMs?.median;
      if (start.systemNodeRerun) summary.coldStartViaSystemNodeMs = (start.systemNodeRerun as { toFirstRequestMs: Spread }).toFirstRequestMs.median;
      summary.functionsEntryImportMs = entryWall.median;
      summary.functionsEntryRssMb = entryRss.median;
      summary.idleRssMb = idleRss.median;
    });
  }

  if (cfg.stages.includes('collect') || cfg.stages.includes('snapshot')) {
    await withCluster(defaultCluster, cfg.latencyMs, async (cluster, kubeconfigPath) => {
      const base = { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, out: workDir };
      if (cfg.stages.includes('collect')) {
        console.log(
          `\n[collect] ${cfg.pods} pods × ${cfg.containersPerPod} containers × ${cfg.linesPerContainer} lines of ~${cfg.lineBytes} B, latency ${cfg.latencyMs} ms, load budget ${cfg.concurrency} requests`,
        );
        const r0 = cluster.requestCount();
        const baseline = await runStage('baseline', { ...base, sources: cfg.sources });
        const r1 = cluster.requestCount();
        const collect = await runStage('collect', { ...base, sources: cfg.sources });
        const r2 = cluster.requestCount();
        const bPer = baseline.perSource as Record<string, { seconds: number; requests: number; bytes: number }>;
        const cPer = collect.perSource as Record<string, { seconds: number; records: number; apiRequests: number; storedBytes: number; peakRssBytes: number }>;
        // API MB/s: the bytes the baseline read for the same requests, over the collector's time.
        // Peak RSS: the collector process's, while the source ran (the sources share one process).
        // Sources share the budget, so a source's own time depends on the others: the total is the figure.
        console.log('  source            seconds     rows      rows/s  API MB/s  stored MB/s  API req  peak RSS MB  baseline s');
        for (const name of cfg.sources) {
          const c = cPer[name];
          const b = bPer[name];
          if (!c) continue;
          console.log(
            `  ${name.padEnd(17)} ${fmt(c.seconds, 2).padStart(7)} ${String(c.records).padStart(9)} ${fmt(c.records / Math.max(c.seconds, 1e-6), 0).padStart(10)} ${(b ? fmt(mb(b.bytes) / Math.max(c.seconds, 1e-6), 1) : 'n/a').padStart(9)} ${fmt(mb(c.storedBytes) / Math.max(c.seconds, 1e-6), 2).padStart(12)} ${String(c.apiRequests).padStart(8)} ${fmt(mb(c.peakRssBytes), 0).padStart(12)} ${b ? fmt(b.seconds, 2).padStart(11) : '        n/a'}`,
          );
        }
        const cs = collect.seconds as number;
        const bs = baseline.seconds as number;
        const totalRows = Object.values(cPer).reduce((n, c) => n + c.records, 0);
        console.log(
          `  total: collector ${fmt(cs, 2)} s, ${fmt(totalRows / cs, 0)} rows/s, API bytes ${fmt(mb(baseline.bytes as number))} MB → ${fmt(mb(baseline.bytes as number) / cs, 1)} MB/s; raw baseline ${fmt(bs, 2)} s → collector reaches ${fmt((bs / cs) * 100, 0)}% of baseline throughput`,
        );
        console.log(`  API requests: collector ${r2 - r1}, baseline ${r1 - r0}; collector peak RSS ${fmt(mb(collect.peakRssBytes as number), 0)} MB`);
        console.log(
          `  CPU (user+sys, whole process incl. start-up): collector ${fmt(collect.cpuSeconds as number, 1)} s, baseline ${fmt(baseline.cpuSeconds as number, 1)} s (${machine.cpus} cores shared with the simulated cluster)`,
        );
        results.collect = { collector: collect, baseline, ratio: bs / cs, collectorRequests: r2 - r1, baselineRequests: r1 - r0 };
        summary.baselineRatio = bs / cs;
        summary.collectSeconds = cs;
        summary.collectPeakRssMb = mb(collect.peakRssBytes as number);
      }
      if (cfg.stages.includes('snapshot')) {
        const snap = await runStage('collect', { ...base, sources: ['snapshot'] });
        const s = (snap.perSource as Record<string, { seconds: number; records: number; objects: number; apiRequests: number }>).snapshot;
        console.log(
          `\n[snapshot] ${s?.objects ?? 0} objects (${s?.records ?? 0} rows) in ${fmt(s?.seconds ?? 0, 2)} s, ${s?.apiRequests ?? 0} API requests, peak RSS ${fmt(mb(snap.peakRssBytes as number), 0)} MB`,
        );
        results.snapshot = snap;
      }
    });
  }

  if (cfg.stages.includes('memory')) {
    const lineBytes = 200;
    const linesPerContainer = 50_000;
    const pods = Math.max(1, Math.round((cfg.memoryGb * 1e9) / (lineBytes * linesPerContainer)));
    await withCluster({ pods, containersPerPod: 1, linesPerContainer, lineBytes, restartEvery: 0, historyFraction: 0 }, 0, async (_c, kubeconfigPath) => {
      console.log(
        `\n[memory] ${pods} pods × ${linesPerContainer} lines × ${lineBytes} B ≈ ${fmt(cfg.memoryGb, 1)} GB of logs, load budget ${cfg.concurrency}, V8's default heap settings`,
      );
      const params = { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, sources: ['containerlogs'], out: workDir };
      const r = await runStage('collect', params);
      const c = (r.perSource as Record<string, { seconds: number; records: number; coverage?: { containerlogs?: { peakOpenStreams?: number } }[] }>).containerlogs;
      const openStreams = maxOf((c?.coverage ?? []).map((part) => part.containerlogs?.peakOpenStreams ?? 0));
      console.log(
        `  ${c?.records ?? 0} lines in ${fmt(c?.seconds ?? 0, 1)} s (${fmt(((c?.records ?? 0) * lineBytes) / 1e6 / Math.max(c?.seconds ?? 1, 1e-6), 1)} MB/s of log text); peak RSS ${fmt(mb(r.peakRssBytes as number), 0)} MB; CPU ${fmt(r.cpuSeconds as number, 1)} s; at most ${openStreams ?? '?'} log streams open at once`,
      );
      const at = (r.atPeak ?? {}) as Record<string, number>;
      if (at.rss) {
        const spaces = Object.entries(at)
          .filter(([k, v]) => k.startsWith('space.') && v >= 1e6)
          .map(([k, v]) => `${k.slice(6).replace(/_space$/, '')} ${fmt(mb(v), 0)}`)
          .join(', ');
        const native = at.rss - (at.heapTotal ?? 0) - (at.arrayBuffers ?? 0);
        console.log(
          `  at the peak: V8 heap ${fmt(mb(at.heapTotal ?? 0), 0)} MB (${fmt(mb(at.heapUsed ?? 0), 0)} used; ${spaces}), buffers ${fmt(mb(at.arrayBuffers ?? 0), 0)} MB, the rest (code, native, sockets) ${fmt(mb(native), 0)} MB`,
        );
      }
      results.memory = r;
      summary.oneGbPeakRssMb = mb(r.peakRssBytes as number);
    });
  }

  if (cfg.stages.includes('blob')) {
    const { startAzurite } = await import('../shared/simulator/azurite.js');
    const azurite = await startAzurite();
    try {
      await withCluster({ ...defaultCluster, pods: Math.min(cfg.pods, 1000) }, 0, async (_c, kubeconfigPath) => {
        const params = {
          kubeconfigPath,
          concurrency: cfg.concurrency,
          sinceSeconds: 86400 * 7,
          sources: ['containerlogs', 'events'],
          blobConnectionString: azurite.connectionString,
          blobContainerUrl: azurite.containerUrl('evidence-bench'),
        };
        const local = await runStage('collect', { ...params, blobConnectionString: undefined, blobContainerUrl: undefined, out: workDir });
        const blob = await runStage('collect', params);
        const b = blob.storedBytes as number;
        console.log(
          `\n[blob] ${blob.artifacts as number} artifacts, ${fmt(mb(b))} MB: Azurite ${fmt(blob.seconds as number, 2)} s (${fmt(mb(b) / (blob.seconds as number), 1)} MB/s) vs local directory ${fmt(local.seconds as number, 2)} s; peak RSS ${fmt(mb(blob.peakRssBytes as number), 0)} MB`,
        );
        results.blob = { blob, local };
      });
    } finally {
      await azurite.stop();
    }
  }

  if (cfg.stages.includes('ingestion')) {
    const { benchIngestion } = await import('./ingestion.js');
    const r = await benchIngestion({ rows: cfg.ingestRows, rowBytes: 300 });
    console.log(
      `\n[ingestion] ${r.rows} rows, ${fmt(mb(r.bytes))} MB in ${fmt(r.seconds, 2)} s: ${fmt(r.rowsPerSecond, 0)} rows/s, ${fmt(r.mbPerSecond, 1)} MB/s; ${r.requests} requests (minimum the 1 MB limit allows: ${r.minimumRequests})`,
    );
    results.ingestion = r;
  }

  if (cfg.stages.includes('scale')) {
    console.log(
      `\n[scale] the Functions plan in one process (resolve → waves of collect activities within a load budget of ${cfg.concurrency}, ${cfg.podsPerShard} pods per shard → seal), 8 sources; 1 container × 20 lines per pod, shell history in a tenth; through a relay that counts the requests in flight at the simulated cluster`,
    );
    console.log('   pods   s/1k pods   total s   resolve s  collect s  seal s  tasks  waves  rows      peak in flight (budget)');
    const runs: Record<string, unknown>[] = [];
    for (const pods of cfg.scalePods) {
      await withCluster({ pods, containersPerPod: 1, linesPerContainer: 20, lineBytes: 100, restartEvery: 0, historyFraction: 0.1 }, cfg.latencyMs, async (cluster) => {
        const probe = await startConcurrencyProbe({ server: cluster.server, caPem: cluster.caPem });
        const dir = await mkdtemp(join(os.tmpdir(), 'aks-evidence-bench-scale-'));
        try {
          const kubeconfigPath = join(dir, 'kubeconfig');
          await writeFile(kubeconfigPath, probe.kubeconfigFor(cluster.kubeconfigYaml), { mode: 0o600 });
          const r = await runStage('scale', { kubeconfigPath, concurrency: cfg.concurrency, sinceSeconds: 86400 * 7, sources: KFS, out: workDir, podsPerShard: cfg.podsPerShard });
          const { peak, atPeak } = probe.stats();
          const stages = r.stages as { resolve: number; collect: number; seal: number };
          const seconds = r.seconds as number;
          const perK = (seconds / pods) * 1000;
          console.log(
            `  ${String(pods).padStart(6)} ${fmt(perK, 2).padStart(10)} ${fmt(seconds, 2).padStart(9)} ${fmt(stages.resolve, 2).padStart(10)} ${fmt(stages.collect, 2).padStart(10)} ${fmt(stages.seal, 2).padStart(7)} ${String(r.tasks).padStart(6)} ${String(r.waves).padStart(6)} ${String(r.records).padStart(9)}  ${peak} (${cfg.concurrency}): ${Object.entries(
              atPeak,
            )
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')}${peak > cfg.concurrency ? '  OVER BUDGET' : ''}`,
          );
          const shards = r.shards as { source: string; seconds: number }[];
          for (const source of ['containerlogs', 'commandhistory']) {
            const d = shards.filter((s) => s.source === source).map((s) => s.seconds);
            if (d.length > 1) console.log(`           ${source}: ${d.length} tasks, ${fmt(minOf(d), 2)}–${fmt(maxOf(d), 2)} s (median ${fmt(pct(d, 50), 2)} s)`);
          }
          runs.push({ pods, secondsPer1000Pods: perK, peakInFlight: peak, inFlightAtPeak: atPeak, budget: cfg.concurrency, ...r });
        } finally {
          await probe.stop();
          await rm(dir, { recursive: true, force: true });
        }
      });
    }
    results.scale = runs;
    summary.secondsPer1000Pods = Object.fromEntries(runs.map((r) => [String(r.pods), r.secondsPer1000Pods]));
    summary.peakInFlight = maxOf(runs.map((r) => r.peakInFlight as number));
    summary.budget = cfg.concurrency;
  }

  if (cfg.stages.includes('preserve')) {
    await withCluster(
      { pods: cfg.preservePods, containersPerPod: 1, linesPerContainer: 5, lineBytes: 80, restartEvery: 0, historyFraction: 0 },
      cfg.latencyMs,
      async (_cluster, kubeconfigPath) => {
        console.log(`\n[preserve] an idle preservation window on ${fmt(cfg.preservePods, 0)} pods: API requests beyond the watch streams`);
        const r = await runStage('preserve', {
          kubeconfigPath,
          concurrency: cfg.concurrency,
          sinceSeconds: 3600,
          sources: ['events'],
          out: workDir,
          windowSeconds: cfg.preserveSeconds,
          stretchSeconds: cfg.preserveStretchSeconds,
          stretches: cfg.preserveStretches,
        });
        const cli = r.cli as {
          seconds: number;
          requests: Record<string, number>;
          openingRequests: number;
          idleRequests: number;
          idleRequestsPerMinute: number;
          rewatchesPerMinuteAt290s: number;
        };
        const azure = r.azure as {
          stretchSeconds: number;
          perStretch: { list: number; watch: number; log: number; seconds: number }[];
          resumedStretchRequests: number;
          resumedStretchRequestsBeyondWatches: number;
          perMinuteAtProductionStretch: { stretchSeconds: number; requests: number; beyondWatches: number };
        };
        console.log(`  ${String(r.watchStreams)} watch streams held open (each holds one permit of the load budget)`);
        console.log(
          `  cli (one stretch, ${fmt(cli.seconds, 0)} s): ${cli.openingRequests} requests to open (list pages + first watches), then ${cli.idleRequests} while idle = ${fmt(cli.idleRequestsPerMinute, 1)}/min beyond the watch streams; re-opening the streams at the server's 290 s time-out adds ${fmt(cli.rewatchesPerMinuteAt290s, 1)}/min`,
        );
        console.log(
          `  azure (${azure.perStretch.length} stretches of ${azure.stretchSeconds} s): per stretch ${azure.perStretch.map((s) => `${s.list} list + ${s.watch} watch + ${s.log} log`).join('; ')}`,
        );
        console.log(
          `    a resumed stretch: ${fmt(azure.resumedStretchRequests, 1)} requests (${fmt(azure.resumedStretchRequestsBeyondWatches, 1)} beyond re-opening the watches); at ${azure.perMinuteAtProductionStretch.stretchSeconds} s stretches: ${fmt(azure.perMinuteAtProductionStretch.requests, 1)}/min (${fmt(azure.perMinuteAtProductionStretch.beyondWatches, 1)}/min beyond the watch streams)`,
        );
        results.preserve = r;
        summary.preserveIdleCliPerMinute = cli.idleRequestsPerMinute;
        summary.preserveIdleAzurePerMinute = azure.perMinuteAtProductionStretch.beyondWatches;
      },
    );
  }

  results.summary = summary;
  console.log('\n[summary]');
  const line = (label: string, value: unknown, target: string) => value !== undefined && console.log(`  ${label.padEnd(44)} ${String(value).padEnd(22)} ${target}`);
  const n = (v: unknown, d = 0) => (typeof v === 'number' ? fmt(v, d) : undefined);
  line('cold start to first Kubernetes request', n(summary.coldStartMs) && `${n(summary.coldStartMs)} ms`, 'target ≤ 300 ms');
  line('  … started by the older system Node', n(summary.coldStartViaSystemNodeMs) && `${n(summary.coldStartViaSystemNodeMs)} ms`, '');
  line('Functions entry import / RSS', n(summary.functionsEntryImportMs) && `${n(summary.functionsEntryImportMs)} ms / ${n(summary.functionsEntryRssMb)} MB`, '');
  line('idle RSS', n(summary.idleRssMb) && `${n(summary.idleRssMb)} MB`, 'target ≤ 80 MB');
  line('1 GB of logs, peak RSS (V8 defaults)', n(summary.oneGbPeakRssMb) && `${n(summary.oneGbPeakRssMb)} MB`, 'target ≤ 160 MB');
  line(
    'full collection / raw baseline',
    n(typeof summary.baselineRatio === 'number' ? summary.baselineRatio * 100 : undefined) && `${n((summary.baselineRatio as number) * 100)} %`,
    'target ≥ 90 %',
  );
  if (summary.secondsPer1000Pods) {
    line(
      'seconds per 1,000 pods',
      Object.entries(summary.secondsPer1000Pods as Record<string, number>)
        .map(([p, s]) => `${p}: ${fmt(s, 2)}`)
        .join(', '),
      'same at 1,000 and 10,000',
    );
  }
  line(
    'idle preservation window, requests/min beyond the watch streams',
    summary.preserveIdleCliPerMinute !== undefined ? `CLI ${n(summary.preserveIdleCliPerMinute, 1)}, Functions ${n(summary.preserveIdleAzurePerMinute, 1)}` : undefined,
    'target: a handful',
  );
  line(
    'peak concurrent requests at the cluster',
    summary.peakInFlight === undefined ? undefined : `${String(summary.peakInFlight)} (budget ${String(summary.budget)})`,
    'never over the budget',
  );

  await mkdir(dirname(cfg.out), { recursive: true });
  results['simulatorExec'] = [...simulatorExec];
  results['simulatorCpu'] = simulatorCpu;
  await writeFile(cfg.out, JSON.stringify(results, null, 2) + '\n');
  await rm(workDir, { recursive: true, force: true });
  console.log(`\nresults written to ${cfg.out}`);
}

main().catch((error: unknown) => {
  console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  process.exit(1);
});
