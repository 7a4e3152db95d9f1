import { AksEvidenceError } from '../util/errors.js';
import { attemptInstanceId, forcedInstanceId } from './instanceId.js';
import { findRun, keepsExistingRun, type OrchestrationStatusLike, type StatusReader } from './runStatus.js';
import { FUNCTION_NAMES, type CollectionRunInput, type RunTrigger } from './types.js';
import type { ClusterRef } from '../cluster/clusterRef.js';
import type { AppSettings } from '../config/appSettings.js';
import { newClaimNonce } from '../evidence/claim.js';
import type { CollectionRequestRecord } from '../evidence/types.js';

/** The part of a Durable client that starts runs (structural: shared/ does not import durable-functions). */
export interface RunStarter extends StatusReader {
  startNew(orchestratorName: string, options: { instanceId: string; input: unknown }): Promise<string>;
}

export interface StartRunResult {
  runId: string;
  /** False when an existing run for the same key was returned instead. */
  started: boolean;
  runtimeStatus: string;
  /** When this start is a new attempt: the attempt it replaces (Failed or Terminated, keeping its own path). */
  previousAttempt?: { runId: string; runtimeStatus: string };
  /** 1 for the first run of a key, n for its n-th attempt. */
  attempt: number;
}

/** How many attempts of one key are looked for (each is one status read); far more than any incident needs. */
const MAX_ATTEMPTS = 50;

/**
 * Start the run for a deterministic instance id, or return the one that already exists
 * (Running, Pending, Completed…) so a repeated trigger does not collect twice.
 *
 * One run, one path: a Failed or Terminated run is never restarted under its own id (Durable
 * would replace it, and the new run would write into the old bundle path). A new attempt gets
 * its own id, attemptInstanceId(base, n) — so its own bundle path — and its input names the
 * attempt it replaces, which its claim and manifest record. `force` starts a separate run
 * under a new id derived from the base id.
 *
 * Two identical triggers racing: the loser's start is rejected by the task hub (the id is
 * Pending/Running), and it returns the winner's run.
 */
export async function startOrReuseRun(
  client: RunStarter,
  baseInstanceId: string,
  makeInput: (runId: string, previousAttempt?: { runId: string; runtimeStatus: string }) => CollectionRunInput,
  options: { force?: boolean; nonce?: string } = {},
): Promise<StartRunResult> {
  let runId = baseInstanceId;
  let attempt = 1;
  let previousAttempt: { runId: string; runtimeStatus: string } | undefined;
  if (options.force) {
    runId = forcedInstanceId(baseInstanceId, options.nonce);
  } else {
    // The newest attempt of this key decides: reuse it, or start the next one.
    for (;;) {
      const existing: OrchestrationStatusLike | undefined = await findRun(client, runId);
      if (!existing) break;
      const runtimeStatus = existing.runtimeStatus;
      if (keepsExistingRun(existing)) return { runId, started: false, runtimeStatus, attempt };
      previousAttempt = { runId, runtimeStatus };
      attempt++;
      if (attempt > MAX_ATTEMPTS)
        throw new AksEvidenceError('ERR_TOO_MANY_ATTEMPTS', `${MAX_ATTEMPTS} attempts of this collection failed or were terminated; send "force": true to start a separate run`);
      runId = attemptInstanceId(baseInstanceId, attempt);
    }
  }
  try {
    await client.startNew(FUNCTION_NAMES.orchestrator, { instanceId: runId, input: makeInput(runId, previousAttempt) });
    return { runId, started: true, runtimeStatus: 'Pending', attempt, ...(previousAttempt ? { previousAttempt } : {}) };
  } catch (error) {
    const existing = await findRun(client, runId).catch(() => undefined);
    if (keepsExistingRun(existing)) return { runId, started: false, runtimeStatus: existing.runtimeStatus, attempt };
    throw error;
  }
}

/**
 * The orchestration input of a new run, whatever started it (POST /api/collections or a
 * Sentinel incident): the same settings travel with every run, the preservation stretch
 * settings included whenever the request keeps a window (a Sentinel-started run once went
 * without them and preserved in 240 s stretches whatever the deployment said).
 */
export function newRunInput(args: {
  runId: string;
  cluster: ClusterRef;
  request: CollectionRequestRecord;
  trigger: RunTrigger;
  settings: Pick<AppSettings, 'podsPerShard' | 'ingestion' | 'preserveStretchSeconds' | 'preserveStretchesPerGeneration'>;
  previousAttempt?: { runId: string; runtimeStatus?: string } | undefined;
}): CollectionRunInput {
  const { settings, request } = args;
  return {
    schemaVersion: 1,
    runId: args.runId,
    cluster: args.cluster,
    request,
    trigger: args.trigger,
    podsPerShard: settings.podsPerShard,
    ingest: settings.ingestion !== undefined,
    claimNonce: newClaimNonce(),
    ...(request.preserveForSeconds ? { preserveStretchSeconds: settings.preserveStretchSeconds, preserveStretchesPerGeneration: settings.preserveStretchesPerGeneration } : {}),
    ...(args.previousAttempt ? { previousAttempt: args.previousAttempt } : {}),
  };
}
