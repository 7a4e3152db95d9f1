/**
 * The CLI's preservation window: `collect --preserve 24h` keeps preserving after the run is
 * sealed; `watch <bundle>` opens a window on a run sealed earlier. Both run one stretch of the
 * window in this process until its end or Ctrl-C, sealing a segment every `--segment` (or
 * `--segment-rows` rows), ingesting each sealed segment when --ingest is given.
 */
import type { TokenCredential } from '@azure/core-auth';
import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import type { Command } from 'commander';
import { describeCluster, loadKubeConfig } from '../cluster/kubeConfig.js';
import { readRunClaim } from '../evidence/claim.js';
import { collectorIdentity, CustodyLog } from '../evidence/custody.js';
import { readManifestWithHash } from '../evidence/manifest.js';
import type { CollectorIdentity, EvidenceStore } from '../evidence/types.js';
import { loadIngestionTarget, type IngestionTarget } from '../ingestion/config.js';
import { ingestIncrement } from '../preservation/ingestIncrement.js';
import { runPreservation, type PreservationResult } from '../preservation/session.js';
import { closePreservationWindow, MAX_PRESERVE_SECONDS, openPreservationWindow } from '../preservation/window.js';
import { minimumPreservationBudget } from '../preservation/resources.js';
import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../cluster/requestBudget.js';
import { KubeApi } from '../cluster/kubeApi.js';
import { SOURCES } from '../sources/registry.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import { describeError, InputError, redactUrl } from '../util/errors.js';
import { parseDurationSeconds } from '../util/time.js';
import { checkReachable, kubeconfigPaths } from './clusterAccess.js';
import { formatCount, line, type CliIo } from './io.js';
import { openExistingRun } from './verify.js';
import { printWindowSummary, windowExitCode, windowTotals, type WindowOutcome } from './windowSummary.js';

export interface PreserveFlags {
  /** --preserve: how long to keep preserving, e.g. 24h (at most 7d). */
  preserve?: string;
  /** --segment: seal a segment this often, e.g. 5m (default 5m; 10 s to 1 h). */
  segment?: string;
  /** --segment-rows: ...or once it holds this many rows (default 50,000). */
  segmentRows?: string;
  takeOver?: boolean;
  /** --concurrency: the load budget; the window's watch streams each hold one of its permits. */
  concurrency?: string;
}

export interface PreserveSettings {
  preserveForSeconds: number;
  segmentInMs: number;
  segmentRows: number;
  takeOver: boolean;
  /** Kubernetes API requests in flight at once (watch streams included). */
  concurrency: number;
}

/** Validate the window's flags before anything touches the cluster (bad input: exit 2). */
export function parsePreserveFlags(flags: PreserveFlags, fallback = '24h'): PreserveSettings {
  const duration = (flag: string, text: string, min: number, max: number, example: string): number => {
    let seconds: number;
    try {
      seconds = parseDurationSeconds(text);
    } catch {
      throw new InputError(flag, `"${text}" is not a duration: use a number with s, m, h or d, e.g. ${example}`);
    }
    if (seconds < min || seconds > max) throw new InputError(flag, `must be from ${min} s to ${max >= 86400 ? `${max / 86400} days` : `${max} s`}; got ${text}`);
    return seconds;
  };
  const preserveForSeconds = duration('--preserve', flags.preserve ?? fallback, 1, MAX_PRESERVE_SECONDS, '24h (at most 7d)');
  const segmentInMs = duration('--segment', flags.segment ?? '5m', 10, 3600, '5m') * 1000;
  const rows = flags.segmentRows === undefined ? 50_000 : Number(flags.segmentRows);
  if (!Number.isInteger(rows) || rows < 1 || rows > 10_000_000) throw new InputError('--segment-rows', `"${flags.segmentRows}" is not a whole number from 1 to 10000000`);
  const floor = minimumPreservationBudget();
  const concurrency = flags.concurrency === undefined ? DEFAULT_CLUSTER_REQUEST_BUDGET : Number(flags.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < floor || concurrency > 256) {
    throw new InputError(
      '--concurrency',
      `"${flags.concurrency}" is too small for a preservation window or not a whole number: its ${floor - 1} watch streams each hold one request of the budget while open, and log fetches need at least one more; use a whole number from ${floor} to 256`,
    );
  }
  return { preserveForSeconds, segmentInMs, segmentRows: rows, takeOver: flags.takeOver === true, concurrency };
}

export interface WindowRun {
  store: EvidenceStore;
  kubeConfig: KubeConfigLike;
  settings: PreserveSettings;
  collector: CollectorIdentity;
  ingestion?: { target: IngestionTarget; credential: TokenCredential };
  requestedBy?: string;
  quiet?: boolean;
  /** Print every event and object change the window records (stderr). */
  verbose?: boolean;
}

/** Open the window on the sealed run in `store`, run it to its end or Ctrl-C, close it. */
export async function runWindow(run: WindowRun, io: CliIo): Promise<WindowOutcome> {
  const { store, settings } = run;
  const claim = await readRunClaim(store);
  const { manifest } = await readManifestWithHash(store);
  const cursor = await openPreservationWindow({
    store,
    collector: run.collector,
    claim,
    preserveForSeconds: settings.preserveForSeconds,
    takeOver: settings.takeOver,
    ...(run.requestedBy ? { requestedBy: run.requestedBy } : {}),
    settings: { segmentInMs: settings.segmentInMs, segmentRows: settings.segmentRows, host: 'cli' },
  });
  const say = (text: string): void => {
    if (!run.quiet) line(io.stderr, `[aks-evidence] ${text}`);
  };
  say(
    `preserving run ${manifest.runId} until ${cursor.endsAt} (window ${cursor.windowId}; a segment every ${settings.segmentInMs / 1000} s; Ctrl-C ends the window and seals what it holds)`,
  );
  const stop = new AbortController();
  let stoppedBy = '';
  const stopListening = io.interrupts?.on((signal) => {
    if (stoppedBy) io.interrupts?.exitNow(130);
    stoppedBy = signal === 'SIGINT' ? 'stopped (Ctrl-C)' : 'stopped (SIGTERM)';
    say(`${stoppedBy}: sealing the segment in progress (press Ctrl-C again to stop at once; the next window names it as lost)`);
    stop.abort();
  });
  const custody = new CustodyLog(store, { runId: manifest.runId, caseId: manifest.caseId, collector: run.collector, claim });
  KubeApi.for(run.kubeConfig).budget.limit = settings.concurrency;
  let result: PreservationResult;
  let notIngested = 0;
  try {
    result = await runPreservation({
      store,
      kubeConfig: run.kubeConfig,
      runId: manifest.runId,
      caseId: manifest.caseId,
      request: manifest.request,
      collector: run.collector,
      claim,
      cursor,
      until: new Date(cursor.endsAt),
      stopSignal: stop.signal,
      stopReason: () => stoppedBy || 'stopped',
      segmentInMs: settings.segmentInMs,
      segmentRows: settings.segmentRows,
      progress: (e) => {
        if (e.kind === 'watching')
          say(`watching ${e.resources} resource(s) (one watch stream each, every one holding a permit of the --concurrency budget); segment ${e.segment} open`);
        if (e.kind === 'gap') say(`gap: ${e.detail}`);
        if (e.kind === 'event' && run.verbose)
          say(`${e.resource} ${e.type.toLowerCase()}: ${e.namespace ? `${e.namespace}/` : ''}${e.name}${e.relisted ? ' (found by a relist)' : ''}`);
        if (e.kind === 'logs' && e.outcome.outcome === 'kept' && e.outcome.lines > 0) {
          say(
            `kept ${formatCount(e.outcome.lines)} log line(s) of ${e.outcome.namespace}/${e.outcome.pod} (${e.outcome.container}${e.outcome.previous ? ', previous' : ''}): ${e.outcome.reason}`,
          );
        }
      },
      onSegmentSealed: async (segment) => {
        const c = segment.counts;
        say(
          `segment ${segment.seq} sealed (${segment.from} to ${segment.to}): ${formatCount(c.logLines)} log lines, ${formatCount(c.events)} events, ${formatCount(c.changes)} changes, ${segment.gaps} gap(s); manifest sha256 ${segment.manifestSha256}`,
        );
        if (!run.ingestion) return;
        try {
          const receipt = await ingestIncrement({
            store,
            seq: segment.seq,
            manifestSha256: segment.manifestSha256,
            config: run.ingestion.target,
            tables: SOURCES.tables,
            credential: run.ingestion.credential,
            custody,
          });
          if (receipt) say(`segment ${segment.seq} ingested: ${receipt.status}, ${formatCount(receipt.rowsAcknowledged)} rows acknowledged`);
        } catch (error) {
          // The segment is sealed; re-ingest later with: aks-evidence ingest <bundle>.
          notIngested++;
          say(`segment ${segment.seq} not ingested: ${describeError(error)} (it is sealed; deliver it later with aks-evidence ingest <bundle>)`);
        }
      },
    });
  } catch (error) {
    // The window ends with the process: say so in custody (what was sealed stays sealed; a segment in progress is named lost by the next window).
    await closePreservationWindow({ store, collector: run.collector, cursor, reason: 'failed', detail: describeError(error) }).catch(() => undefined);
    throw error;
  } finally {
    stopListening?.();
  }
  await closePreservationWindow({ store, collector: run.collector, cursor: result.cursor, reason: result.ended?.reason ?? 'stopped', totals: windowTotals(result) });
  say(
    `window ${cursor.windowId} ended (${result.ended?.reason ?? 'stopped'}): ${result.segments.length} segment(s) sealed; ${result.requests.list} list, ${result.requests.watch} watch and ${result.requests.log} log request(s)`,
  );
  return { ...result, notIngested };
}

interface WatchCliFlags extends PreserveFlags {
  kubeconfig?: string;
  context?: string;
  ingest?: string;
  requester?: string;
  json?: boolean;
  verbose?: boolean;
}

export function registerWatchCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('watch')
    .argument('<bundle>', 'bundle directory or Blob URL of a sealed run')
    .description(
      'keep preserving a sealed run: watch pods and events, keep the logs of deleted, terminated and restarted containers, append events, record object changes, in sealed segments',
    )
    .option('--preserve <duration>', 'how long, e.g. 24h (at most 7d)', '24h')
    .option('--segment <duration>', 'seal a segment this often (10s to 1h)', '5m')
    .option('--segment-rows <n>', 'or once a segment holds this many rows', '50000')
    .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG or ~/.kube/config)')
    .option('--context <name>', "kubeconfig context (default: current-context); must point at the run's cluster")
    .option(
      '--concurrency <n>',
      `the load budget: Kubernetes API requests in flight at once, each open watch stream included (at least ${minimumPreservationBudget()})`,
      String(DEFAULT_CLUSTER_REQUEST_BUDGET),
    )
    .option('--ingest <config>', 'ingest each sealed segment into Log Analytics (ingestion target JSON or file)')
    .option('--requester <who>', 'who asked for the window (chain of custody)')
    .option('--take-over', 'start even though an earlier window of the run never recorded its end (its process died)')
    .option('--verbose', 'print every event and object change the window records (stderr)')
    .option('--json', "print the window's result as JSON")
    .action(async (bundle: string, flags: WatchCliFlags) => {
      const settings = parsePreserveFlags(flags);
      const target = flags.ingest ? await loadIngestionTarget(flags.ingest, { cwd: io.cwd, origin: '--ingest' }) : undefined;
      const store = await openExistingRun(bundle, io);
      const { manifest } = await readManifestWithHash(store).catch((error: unknown) => {
        throw new InputError('<bundle>', `${store.location} holds no readable manifest: ${describeError(error)}; watch continues a sealed run`);
      });
      const kubeConfig = loadKubeConfig({ kubeconfigPath: kubeconfigPaths(flags.kubeconfig, io), ...(flags.context ? { context: flags.context } : {}) });
      const server = describeCluster(kubeConfig).server;
      if (server.replace(/\/+$/, '') !== manifest.cluster.server.replace(/\/+$/, '')) {
        throw new InputError(
          '--context',
          `the kubeconfig points at ${redactUrl(server)}, but run ${manifest.runId} was collected from ${redactUrl(manifest.cluster.server)}: choose that cluster's context`,
        );
      }
      await checkReachable(kubeConfig, server);
      const collector = collectorIdentity({ runtime: 'cli', ...(io.env.USER ? { identity: io.env.USER } : {}) });
      const result = await runWindow(
        {
          store,
          kubeConfig,
          settings,
          collector,
          ...(target ? { ingestion: { target, credential: await defaultAzureCredential() } } : {}),
          ...(flags.requester ? { requestedBy: flags.requester } : {}),
          verbose: flags.verbose === true,
        },
        io,
      );
      if (flags.json)
        line(
          io.stdout,
          JSON.stringify(
            { runId: manifest.runId, bundle: store.location, ended: result.ended, segments: result.segments, requests: result.requests, notIngested: result.notIngested },
            null,
            2,
          ),
        );
      else {
        line(io.stdout, `Run ${manifest.runId} (case ${manifest.caseId}): preservation window on ${store.location}`);
        printWindowSummary(result, io);
      }
      setExit(windowExitCode(result));
    });
}
