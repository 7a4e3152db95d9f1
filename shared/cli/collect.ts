import type { Command } from 'commander';
import { defaultAzureCredential } from '../util/azureCredential.js';
import { describeCluster, loadKubeConfig, type KubeConfigLike } from '../cluster/kubeConfig.js';
import { KubeApi } from '../cluster/kubeApi.js';
import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../cluster/requestBudget.js';
import type { CustodyLog } from '../evidence/custody.js';
import type { AnchorOutcome, SealAnchors } from '../pipeline/anchors.js';
import type { Manifest } from '../evidence/types.js';
import type { RunProgressEvent } from '../pipeline/collectRun.js';
import { isSafeId, newRunId } from '../pipeline/runId.js';
import { SOURCES } from '../sources/registry.js';
import type { SealResult } from '../pipeline/types.js';
import type { IngestionReceipt } from '../ingestion/receipt.js';
import { describeError, InputError, redactUrl } from '../util/errors.js';
import { parseDurationSeconds, systemClock, type Clock } from '../util/time.js';
import { DEFAULT_SINCE_SECONDS, ENV_VALUE_MODES, MAX_NAMESPACES, NAMESPACE_PATTERN, NAMESPACE_RULE, parseSince } from '../request/schema.js';
import { checkOutLocation } from './outLocation.js';
import { checkReachable, kubeconfigPaths } from './clusterAccess.js';

export { checkReachable, kubeconfigPaths };
import { EXIT, formatCount, line, type CliIo } from './io.js';
import { isBlobUrl } from '../evidence/blobUrl.js';
import { printWindowSummary, windowExitCode, type WindowOutcome } from './windowSummary.js';

export interface CollectCliOptions {
  kubeconfig?: string;
  context?: string;
  out?: string;
  since?: string;
  sources?: string;
  namespaces?: string;
  excludeNamespaces?: string;
  concurrency?: string;
  case?: string;
  requester?: string;
  reason?: string;
  ingest?: string;
  legalHold?: boolean;
  retentionDays?: string;
  logIdleTimeout?: string;
  /** RFC 3161 Time-Stamping Authority URL: the manifest's hash is timestamped right after sealing. */
  tsa?: string;
  /** 'hash' (default) or 'keep': env values in raw objects. */
  envValues?: string;
  json?: boolean;
  quiet?: boolean;
  /** Keep preserving after the run is sealed, e.g. 24h (at most 7d). */
  preserve?: string;
  /** Seal a preservation segment this often (default 5m). */
  segment?: string;
  /** ...or once it holds this many rows (default 50,000). */
  segmentRows?: string;
  /** With --preserve: print every event and object change the window records. */
  verbose?: boolean;
}

/** An ingestion that threw after the evidence was sealed: the evidence stands, the delivery failed. */
export interface IngestionFailure {
  status: 'failed';
  error: string;
}

export interface CollectOutcome {
  sealed: SealResult & { manifest: Manifest };
  /** The anchors written right after sealing (timestamp, Log Analytics custody row). */
  anchors?: SealAnchors;
  ingestion?: IngestionReceipt | IngestionFailure;
  /** The preservation window that followed the seal (--preserve). */
  preservation?: WindowOutcome;
}

/**
 * The exit code of a sealed collection (io.ts EXIT): 0 when every source is complete (or skipped
 * because the cluster facts rule it out); 3 when something is partial or failed, the run was
 * interrupted (sealed with what had been published), or the ingestion that followed did not
 * deliver everything. A run that never sealed exits 1 (or 2 for bad input and an unreachable
 * cluster) through the error path.
 */
export function collectExitCode(outcome: CollectOutcome): number {
  const manifest = outcome.sealed.manifest;
  if (manifest.interrupted) return EXIT.gaps;
  if (Object.values(manifest.sources).some((s) => s.status === 'partial' || s.status === 'failed')) return EXIT.gaps;
  if (outcome.ingestion && outcome.ingestion.status !== 'complete') return EXIT.gaps;
  if (outcome.preservation && windowExitCode(outcome.preservation) !== EXIT.ok) return EXIT.gaps;
  return EXIT.ok;
}

/** --tsa: an http(s) URL without credentials. */
export function parseTsaUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError('--tsa', `"${value}" is not a URL; give the time-stamping authority's RFC 3161 URL, e.g. http://timestamp.digicert.com`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError('--tsa', 'must be an http:// or https:// URL (RFC 3161 over HTTP)');
  if (url.username || url.password) throw new InputError('--tsa', 'must not carry credentials');
  return url.toString();
}

const list = (v: string | undefined): string[] | undefined =>
  v === undefined
    ? undefined
    : v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);

function positiveInt(field: string, text: string | undefined, fallback: number, max: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new InputError(field, `"${text}" is not a whole number from 1 to ${max}`);
  return n;
}

/** Validate flags into a run request before anything touches the cluster or the evidence store. */
export function parseCollectFlags(flags: CollectCliOptions, clock: Clock = systemClock) {
  // The HTTP API's bounds, from the same function and constants.
  const since = parseSince(flags.since, DEFAULT_SINCE_SECONDS);
  if (!since.ok) throw new InputError('--since', since.problems.map((p) => p.message).join('; '));
  const sinceSeconds = since.value;
  const sources = SOURCES.resolveNames(list(flags.sources));
  const concurrency = positiveInt('--concurrency', flags.concurrency, DEFAULT_CLUSTER_REQUEST_BUDGET, 256);
  const caseId = flags.case ?? `adhoc-${clock().toISOString().slice(0, 10)}`;
  if (!isSafeId(caseId)) throw new InputError('--case', `"${caseId}" may hold only letters, digits, ".", "_" and "-" (it becomes a path segment)`);
  const retentionDays = flags.retentionDays === undefined ? undefined : positiveInt('--retention-days', flags.retentionDays, 0, 36500);
  let logIdleTimeoutSeconds: number | undefined;
  if (flags.logIdleTimeout !== undefined) {
    try {
      logIdleTimeoutSeconds = parseDurationSeconds(flags.logIdleTimeout);
    } catch (e) {
      throw new InputError('--log-idle-timeout', `${describeError(e)}`);
    }
    if (logIdleTimeoutSeconds < 1 || logIdleTimeoutSeconds > 3600) throw new InputError('--log-idle-timeout', `must be from 1s to 1h, e.g. 60s; got "${flags.logIdleTimeout}"`);
  }
  const namespaces = namespaceList('--namespaces', flags.namespaces);
  const excludeNamespaces = namespaceList('--exclude-namespaces', flags.excludeNamespaces);
  const envValues = flags.envValues ?? 'hash';
  if (!(ENV_VALUE_MODES as readonly string[]).includes(envValues)) {
    throw new InputError(
      '--env-values',
      `"${envValues}" is not a mode: use hash (default: raw objects keep the SHA-256 of env values) or keep (kept in the bundle's raw artifacts, never in rows)`,
    );
  }
  return {
    caseId,
    sources,
    sinceSeconds,
    concurrency,
    ...(namespaces ? { namespaces } : {}),
    ...(excludeNamespaces ? { excludeNamespaces } : {}),
    ...(flags.requester ? { requester: flags.requester } : {}),
    ...(flags.reason ? { reason: flags.reason } : {}),
    ...(flags.legalHold ? { legalHold: true } : {}),
    ...(retentionDays !== undefined ? { retentionDays } : {}),
    ...(logIdleTimeoutSeconds !== undefined ? { logIdleTimeoutSeconds } : {}),
    ...(envValues === 'keep' ? { envValues: 'keep' as const } : {}),
  };
}

/** A comma-separated namespace list: each a DNS-1123 label, as the HTTP API requires. */
function namespaceList(flag: string, text: string | undefined): string[] | undefined {
  const names = list(text);
  if (names === undefined) return undefined;
  const bad = names.filter((n) => !NAMESPACE_PATTERN.test(n));
  if (bad.length) throw new InputError(flag, `${bad.map((n) => JSON.stringify(n)).join(', ')} ${bad.length === 1 ? 'is not' : 'are not'} ${NAMESPACE_RULE}`);
  if (names.length > MAX_NAMESPACES) throw new InputError(flag, `lists ${names.length} namespaces; at most ${MAX_NAMESPACES}`);
  return [...new Set(names)];
}

/** The collect command's work, shared by `collect` and `demo`. */
export async function runCollect(flags: CollectCliOptions, io: CliIo, preloaded?: { kubeConfig: KubeConfigLike; clusterName?: string }): Promise<CollectOutcome> {
  const clock = systemClock;
  const request = parseCollectFlags(flags, clock);
  const tsaUrl = parseTsaUrl(flags.tsa);
  const preserve = flags.preserve !== undefined ? (await import('./preserve.js')).parsePreserveFlags(flags) : undefined;
  const out = flags.out ?? 'evidence';
  // Before the cluster is touched: never into another run, never into something unusable.
  await checkOutLocation(out, io.cwd);
  const ingestionTarget = flags.ingest ? await (await import('../ingestion/config.js')).loadIngestionTarget(flags.ingest, { cwd: io.cwd, origin: '--ingest' }) : undefined;
  const kubeConfig = preloaded?.kubeConfig ?? loadKubeConfig({ kubeconfigPath: kubeconfigPaths(flags.kubeconfig, io), ...(flags.context ? { context: flags.context } : {}) });
  const described = describeCluster(kubeConfig);
  const cluster = { ...described, ...(preloaded?.clusterName ? { name: preloaded.clusterName } : {}) };
  // --concurrency is the cluster's load budget: every request of every source counts against it.
  KubeApi.for(kubeConfig).budget.limit = request.concurrency;
  // The reachability check goes out first; the pipeline loads while it is on the wire (start-up is
  // the first hour's currency, docs/performance.md).
  const reachable = checkReachable(kubeConfig, cluster.server);
  // One import after another: jest's VM modules mis-link graphs imported concurrently.
  const pipeline = (async () => [await import('../pipeline/collectRun.js'), await import('../evidence/custody.js'), await import('../evidence/openStore.js')] as const)();
  pipeline.catch(() => undefined);
  const kubernetesVersion = await reachable;
  const [{ collectRun, kubeconfigFacts }, { collectorIdentity }, { openEvidenceLocation }] = await pipeline;

  const runId = newRunId(clock());
  const store = await openEvidenceLocation(out, {
    runId,
    caseId: request.caseId,
    cwd: io.cwd,
    ...(isBlobUrl(out) ? { storage: await (await import('./storageAccess.js')).cliStorageAccess(io) } : {}),
    ...(request.legalHold ? { legalHold: true } : {}),
    ...(request.retentionDays !== undefined ? { retentionDays: request.retentionDays } : {}),
  });
  const quiet = flags.quiet === true;
  if (!quiet) line(io.stderr, `[aks-evidence] run ${runId} (case ${request.caseId}) from ${redactUrl(cluster.server)} → ${store.location}`);

  const started = Date.now();
  // Ctrl-C / SIGTERM: stop collecting, keep what was published, seal it as an interrupted run.
  // A second one ends the process at once (what was published stays; `aks-evidence seal` seals it).
  const interrupt = new AbortController();
  let interruptedBy: string | undefined;
  const stopListening = io.interrupts?.on((signal) => {
    if (interruptedBy) {
      line(io.stderr, `[aks-evidence] ${signal} again: stopping now without sealing; seal what was published with: aks-evidence seal ${store.location}`);
      io.interrupts?.exitNow(130);
    }
    interruptedBy = signal === 'SIGINT' ? 'SIGINT (Ctrl-C)' : 'SIGTERM';
    line(io.stderr, `[aks-evidence] ${interruptedBy}: stopping the collection; what was published is sealed as an interrupted run (press Ctrl-C again to stop at once)`);
    interrupt.abort(new Error(`interrupted by ${interruptedBy}`));
  });
  const collector = collectorIdentity({ runtime: 'cli', ...(io.env.USER ? { identity: io.env.USER } : {}) });
  const credential = ingestionTarget ? await defaultAzureCredential() : undefined;
  let anchors: SealAnchors | undefined;
  let custodyLog: CustodyLog | undefined;
  let sealed: SealResult & { manifest: Manifest };
  try {
    sealed = await collectRun({
      kubeConfig,
      store,
      runId,
      request,
      collector,
      facts: kubeconfigFacts({ ...cluster, ...(kubernetesVersion ? { kubernetesVersion } : {}) }),
      clock,
      abortSignal: interrupt.signal,
      interruptReason: () => interruptedBy ?? 'aborted',
      progress: quiet ? undefined : progressPrinter(io, started),
      // The report's code (timeline, rules) loads when the bundle is sealed, not before the first request.
      beforeManifest: async (s, manifest) => (await import('../report/seal.js')).addSealedReport(s, manifest, { clock }),
      afterSeal: async (result, custody) => {
        custodyLog = custody;
        const { anchorSeal } = await import('../pipeline/anchors.js');
        anchors = await anchorSeal({
          store,
          sealed: result,
          custody,
          ...(tsaUrl ? { tsaUrl } : {}),
          ...(ingestionTarget && credential ? { ingestion: { target: ingestionTarget, credential } } : {}),
        });
        if (!quiet) {
          for (const [name, a] of Object.entries(anchors) as [string, AnchorOutcome][])
            if (a.status !== 'not-configured') line(io.stderr, `[aks-evidence] anchor ${name}: ${a.status}: ${a.detail}`);
        }
      },
    });
  } finally {
    stopListening?.();
  }

  let ingestion: CollectOutcome['ingestion'];
  if (ingestionTarget && credential && !interrupt.signal.aborted) {
    if (!quiet) line(io.stderr, `[aks-evidence] ingesting into ${ingestionTarget.endpoint}`);
    const { ingestBundle } = await import('../ingestion/ingest.js');
    try {
      ingestion = await ingestBundle({
        store,
        manifest: sealed.manifest,
        config: ingestionTarget,
        tables: SOURCES.tables,
        credential,
        ...(custodyLog ? { custody: custodyLog } : {}),
      });
    } catch (error) {
      // The evidence is sealed whatever happens to its delivery: report it, exit 3, re-ingest later.
      ingestion = { status: 'failed', error: describeError(error) };
      line(io.stderr, `[aks-evidence] ingestion failed: ${describeError(error)} (the evidence is sealed; run aks-evidence ingest on the bundle to deliver it)`);
    }
  }
  // --preserve: keep preserving what the cluster does next, in sealed segments, until the window ends or Ctrl-C.
  let preservation: CollectOutcome['preservation'];
  if (preserve && !interrupt.signal.aborted && !sealed.manifest.interrupted) {
    const { runWindow } = await import('./preserve.js');
    preservation = await runWindow(
      {
        store,
        kubeConfig,
        settings: preserve,
        collector,
        ...(ingestionTarget && credential ? { ingestion: { target: ingestionTarget, credential } } : {}),
        ...(flags.requester ? { requestedBy: flags.requester } : {}),
        quiet,
        verbose: flags.verbose === true,
      },
      io,
    );
  }
  return { sealed, ...(anchors ? { anchors } : {}), ...(ingestion !== undefined ? { ingestion } : {}), ...(preservation ? { preservation } : {}) };
}

const PROGRESS_EVERY_MS = 2000;

function progressPrinter(io: CliIo, started: number): (e: RunProgressEvent) => void {
  const t = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
  // Long sources report often; show each at most every 2 s so the log stays readable.
  const lastShown = new Map<string, number>();
  return (e) => {
    switch (e.kind) {
      case 'planned':
        line(io.stderr, `[aks-evidence] ${e.tasks} collect task(s) planned`);
        break;
      case 'task-progress': {
        const now = Date.now();
        if (now - (lastShown.get(e.source) ?? started) < PROGRESS_EVERY_MS) break;
        lastShown.set(e.source, now);
        line(io.stderr, `[aks-evidence] ${t()} ${e.source}: ${formatCount(e.records)} records so far`);
        break;
      }
      case 'task-finished': {
        const r = e.result;
        line(
          io.stderr,
          `[aks-evidence] ${t()} ${r.source}${r.shard ? ` ${r.shard}` : ''}: ${r.status}, ${formatCount(r.records)} rows, ${formatCount(r.rawObjects)} objects, ${r.gapCount} gap(s)${r.actionCount ? `, ${r.actionCount} exec(s)` : ''}`,
        );
        break;
      }
      case 'sealed':
        line(io.stderr, `[aks-evidence] ${t()} sealed manifest sha256 ${e.result.manifestSha256}`);
        break;
      default:
        break;
    }
  };
}

/**
 * A source's coverage counts summed over its tasks (shards): e.g. command history's containers
 * read, with history, without a shell, without history. Only numeric fields; undefined when none.
 */
export function coverageTotals(manifest: Manifest, source: string): Record<string, number> | undefined {
  const items = manifest.coverage?.[source];
  if (!Array.isArray(items)) return undefined;
  const totals: Record<string, number> = {};
  for (const item of items) {
    const counts = (item as Record<string, unknown>)[source];
    if (!counts || typeof counts !== 'object') continue;
    for (const [key, value] of Object.entries(counts)) if (typeof value === 'number') totals[key] = (totals[key] ?? 0) + value;
  }
  return Object.keys(totals).length ? totals : undefined;
}

/** The --json summary: one object a SOAR tool or script can read. */
export function collectSummaryJson(outcome: CollectOutcome): Record<string, unknown> {
  const m = outcome.sealed.manifest;
  return {
    runId: m.runId,
    caseId: m.caseId,
    bundle: outcome.sealed.location,
    manifestSha256: outcome.sealed.manifestSha256,
    chainHead: outcome.sealed.chainHead,
    ...(m.interrupted ? { interrupted: m.interrupted } : {}),
    ...(outcome.anchors ? { anchors: outcome.anchors } : {}),
    cluster: m.cluster,
    startedAt: m.startedAt,
    endedAt: m.endedAt,
    sources: Object.fromEntries(
      Object.entries(m.sources).map(([name, s]) => {
        const coverage = coverageTotals(m, name);
        return [
          name,
          { status: s.status, records: s.records, rawObjects: s.rawObjects, gaps: s.gaps.length, ...(s.resumes ? { resumes: s.resumes } : {}), ...(coverage ? { coverage } : {}) },
        ];
      }),
    ),
    gaps: m.gaps,
    collectorActions: m.actions.length,
    exitCode: collectExitCode(outcome),
    protection: m.protection,
    ...(outcome.ingestion !== undefined ? { ingestion: outcome.ingestion } : {}),
    ...(outcome.preservation
      ? {
          preservation: {
            ended: outcome.preservation.ended,
            segments: outcome.preservation.segments,
            requests: outcome.preservation.requests,
            notIngested: outcome.preservation.notIngested,
          },
        }
      : {}),
  };
}

export function printCollectSummary(outcome: CollectOutcome, io: CliIo): void {
  const m = outcome.sealed.manifest;
  line(
    io.stdout,
    `Run ${m.runId} (case ${m.caseId}) sealed${m.interrupted ? ` AS INTERRUPTED (${m.interrupted.reason}; ${m.interrupted.unfinishedTasks.length} task(s) never finished)` : ''}`,
  );
  line(io.stdout, `  bundle:          ${outcome.sealed.location}`);
  line(io.stdout, `  manifest sha256: ${outcome.sealed.manifestSha256}   (keep it: aks-evidence verify --expect-sha256 checks against it)`);
  line(io.stdout, `  custody head:    ${outcome.sealed.chainHead}`);
  if (outcome.anchors) {
    line(io.stdout, `  timestamp:       ${outcome.anchors.timestamp.status} (${outcome.anchors.timestamp.detail})`);
    line(io.stdout, `  log analytics:   ${outcome.anchors.logAnalytics.status} (${outcome.anchors.logAnalytics.detail})`);
  }
  line(io.stdout, `  cluster:         ${m.cluster.name ?? ''} ${m.cluster.server}${m.cluster.kubernetesVersion ? ` (${m.cluster.kubernetesVersion})` : ''}`);
  line(io.stdout, '');
  line(io.stdout, '  source            status     records   objects  gaps');
  for (const [name, s] of Object.entries(m.sources)) {
    line(
      io.stdout,
      `  ${name.padEnd(17)} ${s.status.padEnd(9)} ${formatCount(s.records).padStart(8)} ${formatCount(s.rawObjects).padStart(9)} ${String(s.gaps.length).padStart(5)}`,
    );
  }
  if (m.gaps.length) {
    line(io.stdout, '');
    line(io.stdout, '  run-level gaps:');
    for (const g of m.gaps) line(io.stdout, `   - [${g.source}] ${g.reason}: ${g.detail}`);
  }
  if (m.protection.notes.length) {
    line(io.stdout, '');
    line(io.stdout, '  protection:');
    for (const n of m.protection.notes) line(io.stdout, `   - ${n}`);
  }
  line(io.stdout, '');
  line(io.stdout, `  ${m.actions.length} collector exec action(s) recorded in the manifest (read-only history reads).`);
  const history = coverageTotals(m, 'commandhistory');
  if (history) {
    line(
      io.stdout,
      `  command history: ${formatCount(history['containers'] ?? 0)} container(s): ${formatCount(history['withHistory'] ?? 0)} with history, ${formatCount(history['withoutHistory'] ?? 0)} without a history file, ${formatCount(history['withoutShell'] ?? 0)} without a shell, ${formatCount(history['notRunning'] ?? 0)} not running, ${formatCount(history['failed'] ?? 0)} not read (gaps).`,
    );
  }
  const resumed = Object.values(m.sources).reduce((n, s) => n + (s.resumes ?? 0), 0);
  if (resumed) line(io.stdout, `  ${resumed} log stream resume(s) after a cut or a stall, each recorded in its task summary (no line lost or repeated).`);
  if (outcome.ingestion) {
    const i = outcome.ingestion;
    line(io.stdout, `  ingestion: ${i.status}${'error' in i && i.error ? ` (${i.error})` : ''}`);
  }
  if (outcome.preservation) printWindowSummary(outcome.preservation, io);
}

export function registerCollectCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('collect')
    .description('collect evidence from a cluster into a write-once, hashed bundle (local directory or Blob container)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', 'kubeconfig context (default: current-context)')
    .option('--out <dir-or-url>', 'evidence directory, or Blob container URL (AZURE_STORAGE_CONNECTION_STRING for Azurite)', 'evidence')
    .option('--since <duration>', 'container log window, e.g. 90m, 24h, 7d', '24h')
    .option('--sources <list>', 'comma-separated sources (default: all)')
    .option('--namespaces <list>', 'only these namespaces (comma-separated)')
    .option('--exclude-namespaces <list>', 'skip these namespaces (comma-separated)')
    .option('--concurrency <n>', 'the load budget: Kubernetes API requests in flight at once, across all sources', String(DEFAULT_CLUSTER_REQUEST_BUDGET))
    .option('--case <id>', 'case / incident id (letters, digits, . _ -)')
    .option('--requester <who>', 'who asked for this collection (chain of custody)')
    .option('--reason <text>', 'why (chain of custody)')
    .option('--ingest <config>', 'after sealing, ingest into Log Analytics: ingestion target JSON or file')
    .option('--legal-hold', 'apply a legal hold to every blob (Blob output only)')
    .option('--retention-days <n>', 'per-blob immutability retention in days (Blob output only)')
    .option('--log-idle-timeout <duration>', 'resume a container log stream after this long without data, e.g. 60s (default 60s)')
    .option('--tsa <url>', 'RFC 3161 time-stamping authority: timestamp the manifest hash right after sealing (manifest.json.tsr)')
    .option(
      '--preserve <duration>',
      'after sealing, keep preserving for this long (e.g. 24h, at most 7d): logs of deleted, terminated and restarted containers, new events, object changes, in sealed segments',
    )
    .option('--segment <duration>', 'with --preserve: seal a segment this often (10s to 1h)', '5m')
    .option('--segment-rows <n>', 'with --preserve: or once a segment holds this many rows', '50000')
    .option('--verbose', 'with --preserve: print every event and object change the window records (stderr)')
    .option('--env-values <mode>', 'env values in raw objects: hash (default, their SHA-256) or keep (in the bundle only, never in rows)', 'hash')
    .option('--json', 'print one JSON summary on stdout')
    .action(async (flags: CollectCliOptions) => {
      const outcome = await runCollect(flags, io);
      if (flags.json) line(io.stdout, JSON.stringify(collectSummaryJson(outcome), null, 2));
      else printCollectSummary(outcome, io);
      setExit(collectExitCode(outcome));
    });
}
