/**
 * The preserve stage: what an idle preservation window costs the API server, beyond the watch
 * streams it keeps open. A run is collected and sealed (events only: quick), then a window is
 * opened on it and run in the two ways the hosts run it:
 *   cli    one stretch for the whole window (`collect --preserve`, `watch`): lists once, opens
 *          one watch per resource, then waits; the server ends each watch after
 *          timeoutSeconds (290 s) and it is re-opened from its resourceVersion.
 *   azure  consecutive bounded stretches resuming from the cursor (the preserveStretch
 *          activities): each stretch lists the cached resources as of the cursor's
 *          resourceVersion (the "before" states) and re-opens every watch.
 * Counts are the collector's own, by kind (list pages, watch requests, log fetches); nothing
 * changes in the cluster meanwhile, so every request is the window's idle cost.
 */
import type { KubeConfigLike } from '../shared/cluster/kubeConfig.js';
import { collectorIdentity } from '../shared/evidence/custody.js';
import type { EvidenceStore } from '../shared/evidence/types.js';
import { collectRun, kubeconfigFacts } from '../shared/pipeline/collectRun.js';
import { WATCHED_RESOURCES } from '../shared/preservation/resources.js';
import { runPreservation } from '../shared/preservation/session.js';
import { closePreservationWindow, openPreservationWindow, type PreservationCursor } from '../shared/preservation/window.js';
import { DEFAULT_STRETCH_SECONDS } from '../shared/orchestration/preservation.js';

export interface PreserveBenchOptions {
  kubeConfig: KubeConfigLike;
  store: EvidenceStore;
  runId: string;
  server: string;
  /** Seconds of the cli-mode window (default 60). */
  windowSeconds: number;
  /** Seconds of each azure-mode stretch (default 20) and how many (default 3). */
  stretchSeconds: number;
  stretches: number;
}

type Requests = { list: number; watch: number; log: number };
const total = (r: Requests) => r.list + r.watch + r.log;

export async function preserveBench(o: PreserveBenchOptions): Promise<Record<string, unknown>> {
  const collector = collectorIdentity({ runtime: 'bench' });
  const request = { caseId: 'bench', sources: ['events'], sinceSeconds: 3600 };
  await collectRun({ kubeConfig: o.kubeConfig, store: o.store, runId: o.runId, request, collector, facts: kubeconfigFacts({ server: o.server, name: 'bench' }) });
  const streams = WATCHED_RESOURCES.length;
  /** One stretch of the window from `from`, for `seconds` (one segment: the bench counts requests, not segments). */
  const preserve = (from: PreservationCursor, seconds: number) =>
    runPreservation({
      store: o.store,
      kubeConfig: o.kubeConfig,
      runId: o.runId,
      caseId: 'bench',
      request,
      collector,
      cursor: from,
      until: new Date(Date.now() + seconds * 1000),
      segmentInMs: 3_600_000,
    });

  // cli: one stretch for the whole window.
  let cursor = await openPreservationWindow({ store: o.store, collector, preserveForSeconds: 3600, settings: { host: 'bench' } });
  const cliStart = performance.now();
  const cli = await preserve(cursor, o.windowSeconds);
  const cliSeconds = (performance.now() - cliStart) / 1000;
  await closePreservationWindow({ store: o.store, collector, cursor: cli.cursor, reason: 'bench' });
  // Opening: every list page, and the first watch of each resource; the rest is the idle cost.
  const cliOpening = cli.requests.list + streams;
  const cliIdle = total(cli.requests) - cliOpening;

  // azure: bounded stretches, each resuming from the cursor the previous one returned.
  cursor = await openPreservationWindow({ store: o.store, collector, preserveForSeconds: 3600, settings: { host: 'bench' } });
  const perStretch: (Requests & { seconds: number })[] = [];
  for (let i = 0; i < o.stretches; i++) {
    const t0 = performance.now();
    const r = await preserve(cursor, o.stretchSeconds);
    cursor = r.cursor;
    perStretch.push({ ...r.requests, seconds: (performance.now() - t0) / 1000 });
  }
  await closePreservationWindow({ store: o.store, collector, cursor, reason: 'bench' });
  // The first stretch opens the window like the cli; the resumed ones are the steady state.
  const resumed = perStretch.slice(1);
  const resumedRequests = resumed.length ? resumed.reduce((n, s) => n + total(s), 0) / resumed.length : NaN;
  const resumedBeyondWatches = resumed.length ? resumed.reduce((n, s) => n + s.list + s.log, 0) / resumed.length : NaN;

  return {
    watchStreams: streams,
    cli: {
      seconds: cliSeconds,
      requests: cli.requests,
      openingRequests: cliOpening,
      idleRequests: cliIdle,
      idleRequestsPerMinute: (cliIdle / Math.max(1, cliSeconds - 0)) * 60,
      // The server ends each watch at timeoutSeconds; it is re-opened (one request per stream per 290 s).
      rewatchesPerMinuteAt290s: (streams / 290) * 60,
    },
    azure: {
      stretchSeconds: o.stretchSeconds,
      perStretch,
      resumedStretchRequests: resumedRequests,
      resumedStretchRequestsBeyondWatches: resumedBeyondWatches,
      perMinuteAtProductionStretch: {
        stretchSeconds: DEFAULT_STRETCH_SECONDS,
        requests: (resumedRequests * 60) / DEFAULT_STRETCH_SECONDS,
        beyondWatches: (resumedBeyondWatches * 60) / DEFAULT_STRETCH_SECONDS,
      },
    },
  };
}
