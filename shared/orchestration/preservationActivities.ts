import { createArmClients } from '../cluster/arm.js';
import { buildClusterKubeConfig } from '../cluster/credentials.js';
import { KubeApi } from '../cluster/kubeApi.js';
import { readRunClaim } from '../evidence/claim.js';
import { CustodyLog } from '../evidence/custody.js';
import { runBudget } from '../pipeline/loadBudget.js';
import { ingestIncrement } from '../preservation/ingestIncrement.js';
import { minimumPreservationBudget } from '../preservation/resources.js';
import { runPreservation } from '../preservation/session.js';
import { closePreservationWindow, openPreservationWindow, type PreservationCursor } from '../preservation/window.js';
import { SOURCES } from '../sources/registry.js';
import { AksEvidenceError } from '../util/errors.js';
import { openStore, step, type ActivityEnvironment } from './activities.js';
import type { ClosePreservationInput, OpenPreservationInput, PreserveStretchInput, PreserveStretchOutput } from './types.js';

/**
 * The preservation window's activities (shared/orchestration/preservation.ts runs them): open
 * the window in the run's custody, one bounded stretch of watching from the cursor (sealing its
 * segment, ingesting it when ingestion is configured), close the window. Each is idempotent
 * under retry: the window is found by its id, a stretch rebuilds its cursor against the custody
 * chain (a segment an earlier attempt sealed is taken, one it left unsealed is named lost), a
 * close finds its own record.
 */

/** openPreservation: `preservation-started` in the run's custody (or the record a retried attempt wrote). */
export function openPreservationStep(input: OpenPreservationInput, env: ActivityEnvironment): Promise<PreservationCursor> {
  return step('openPreservation', async () => {
    const store = await openStore(env, input.runId, input.caseId, input.request);
    return openPreservationWindow({
      store,
      collector: env.collector,
      preserveForSeconds: input.preserveForSeconds,
      windowId: input.windowId,
      ...(input.request.requester ? { requestedBy: input.request.requester } : {}),
      reason: 'preserveFor in the collection request',
      settings: { host: 'azure-functions' },
      ...(env.clock ? { clock: env.clock } : {}),
    });
  });
}

/** preserveStretch: watch from the cursor until `until`, seal, ingest; returns the next cursor and what was sealed. */
export function preserveStretchStep(input: PreserveStretchInput, env: ActivityEnvironment): Promise<PreserveStretchOutput> {
  return step('preserveStretch', async () => {
    const budget = runBudget(input.request.concurrency ?? env.settings.concurrency);
    if (budget < minimumPreservationBudget()) {
      // Bad configuration, not a transient fault: say what to change (the request check names it too).
      throw new AksEvidenceError(
        'ERR_PRESERVE_BUDGET',
        `AKS_EVIDENCE_CONCURRENCY (${budget}) is below ${minimumPreservationBudget()}: a preservation window's watch streams each hold one request of the load budget`,
      );
    }
    const store = await openStore(env, input.runId, input.caseId, input.request);
    const { kubeConfig } = await buildClusterKubeConfig({
      arm: createArmClients(env.credential, input.cluster.subscriptionId, { endpoint: env.settings.armEndpoint, ...env.arm }),
      cluster: input.cluster,
      credential: env.credential,
      authMode: input.authMode === 'local-accounts' ? 'local-accounts' : 'entra',
      useAdmin: env.settings.useAdminCredentials,
    });
    // The preservation window runs alone (after the collection): it has the run's whole budget.
    KubeApi.for(kubeConfig).budget.limit = budget;
    const claim = await readRunClaim(store);
    const custody = new CustodyLog(store, { runId: input.runId, caseId: input.caseId, collector: env.collector, claim, ...(env.clock ? { clock: env.clock } : {}) });
    const target = env.settings.ingestion;
    let notIngested = 0;
    try {
      const result = await runPreservation({
        store,
        kubeConfig,
        runId: input.runId,
        caseId: input.caseId,
        request: input.request,
        collector: env.collector,
        claim,
        cursor: input.cursor,
        until: new Date(input.until),
        segmentInMs: input.segmentSeconds * 1000,
        ...(env.clock ? { clock: env.clock } : {}),
        onSegmentSealed: async (segment) => {
          if (!target) return;
          try {
            const receipt = await ingestIncrement({
              store,
              seq: segment.seq,
              manifestSha256: segment.manifestSha256,
              config: target,
              tables: (env.registry ?? SOURCES).tables,
              credential: env.credential,
              custody,
              ...(env.ingestionClientOptions ? { clientOptions: env.ingestionClientOptions } : {}),
            });
            if (receipt && receipt.status !== 'complete') notIngested++;
          } catch {
            // The segment is sealed; the status counts it as not ingested (aks-evidence ingest delivers it later).
            notIngested++;
          }
        },
      });
      return {
        cursor: result.cursor,
        segments: result.segments.map((s) => ({
          seq: s.seq,
          manifestSha256: s.manifestSha256,
          from: s.from,
          to: s.to,
          logLines: s.counts.logLines,
          events: s.counts.events,
          changes: s.counts.changes,
          gaps: s.gaps,
        })),
        lost: result.lost.length,
        apiRequests: result.requests.list + result.requests.watch + result.requests.log,
        notIngested,
      };
    } finally {
      await KubeApi.for(kubeConfig).close();
    }
  });
}

/** closePreservation: `preservation-ended` with the reason and totals (once). */
export function closePreservationStep(input: ClosePreservationInput, env: ActivityEnvironment): Promise<{ alreadyEnded: boolean }> {
  return step('closePreservation', async () => {
    const store = await openStore(env, input.runId, input.caseId, input.request);
    const { totals } = input;
    return closePreservationWindow({
      store,
      collector: env.collector,
      cursor: input.cursor,
      reason: input.reason,
      ...(input.detail ? { detail: input.detail } : {}),
      totals: { segments: totals.segments, logLines: totals.logLines, events: totals.events, changes: totals.changes, gaps: totals.gaps, lost: totals.lost },
      ...(env.clock ? { clock: env.clock } : {}),
    });
  });
}
