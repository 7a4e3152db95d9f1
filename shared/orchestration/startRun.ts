import { forcedInstanceId } from './instanceId.js';
import { findRun, keepsExistingRun, type StatusReader } from './runStatus.js';
import { FUNCTION_NAMES, type CollectionRunInput } from './types.js';

/** The part of a Durable client that starts runs (structural: shared/ does not import durable-functions). */
export interface RunStarter extends StatusReader {
  startNew(orchestratorName: string, options: { instanceId: string; input: unknown }): Promise<string>;
}

export interface StartRunResult {
  runId: string;
  /** False when an existing run for the same key was returned instead. */
  started: boolean;
  runtimeStatus: string;
}

/**
 * Start the run for a deterministic instance id, or return the one that already exists
 * (Running, Pending, Completed…) so a repeated trigger does not collect twice. A failed or
 * terminated run is replaced by a new start under the same id. `force` starts a separate run
 * under a new id derived from the base id.
 *
 * Two identical triggers racing: the loser's start is rejected by the task hub (the id is
 * Pending/Running), and it returns the winner's run.
 */
export async function startOrReuseRun(
  client: RunStarter,
  baseInstanceId: string,
  makeInput: (runId: string) => CollectionRunInput,
  options: { force?: boolean; nonce?: string } = {},
): Promise<StartRunResult> {
  if (!options.force) {
    const existing = await findRun(client, baseInstanceId);
    if (keepsExistingRun(existing)) return { runId: baseInstanceId, started: false, runtimeStatus: existing.runtimeStatus };
  }
  const runId = options.force ? forcedInstanceId(baseInstanceId, options.nonce) : baseInstanceId;
  try {
    await client.startNew(FUNCTION_NAMES.orchestrator, { instanceId: runId, input: makeInput(runId) });
    return { runId, started: true, runtimeStatus: 'Pending' };
  } catch (error) {
    const existing = await findRun(client, runId).catch(() => undefined);
    if (keepsExistingRun(existing)) return { runId, started: false, runtimeStatus: existing.runtimeStatus };
    throw error;
  }
}
