import { redactSecrets } from '../util/redact.js';
import { describeError } from '../util/errors.js';
import { runStatusView, type OrchestrationStatusLike, type RunStatusView } from './runStatus.js';
import { STOP_PRESERVATION_EVENT, type StopPreservationEvent } from './types.js';

/** Lists instances by runtime status (durable-functions' DurableClient.getStatusBy). */
export interface StatusLister {
  getStatusBy(filter: { runtimeStatus?: string[]; showInput?: boolean }): Promise<OrchestrationStatusLike[]>;
}

/** Durable runtime statuses of a run that has not ended (continued-as-new: a preservation window going on). */
const NOT_ENDED = ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'];

/**
 * The runs a Sentinel incident started that have not ended: every instance not yet ended whose
 * trigger names this incident (ARM ids compared case-insensitively). Listing is the only way
 * to find them without asking Sentinel again: run ids hash the incident with each cluster it
 * led to, and a closed incident's entities may no longer lead to the same clusters.
 */
export async function openIncidentRuns(client: StatusLister, incidentId: string): Promise<RunStatusView[]> {
  const wanted = incidentId.trim().toLowerCase();
  const statuses = await client.getStatusBy({ runtimeStatus: NOT_ENDED, showInput: true });
  const runs: RunStatusView[] = [];
  for (const status of statuses) {
    const view = runStatusView(status);
    if (view.trigger?.kind === 'sentinel' && view.trigger.incidentId?.trim().toLowerCase() === wanted) runs.push(view);
  }
  return runs.sort((a, b) => a.runId.localeCompare(b.runId));
}

/** Raises an external event on an instance (DurableClient.raiseEvent). */
export interface EventRaiser {
  raiseEvent(instanceId: string, eventName: string, eventData: unknown): Promise<void>;
}

export interface IncidentRunEntry {
  runId: string;
  cluster?: string;
  statusUrl: string;
}

/** What closing an incident did to its runs. */
export interface IncidentClosing {
  /** Runs asked to stop their preservation window. */
  stopping: IncidentRunEntry[];
  /** Runs that asked for no window and have not ended: their collection goes on and is sealed. */
  stillCollecting: IncidentRunEntry[];
  /** Runs whose stop could not be raised (ended meanwhile, or the task hub refused), with why. */
  notStopped: (IncidentRunEntry & { error: string })[];
}

/**
 * A Sentinel incident was closed: ask every run of it that keeps a preservation window to stop.
 * Each run's stretch in progress finishes and seals its segment, then the window is closed in
 * custody (the same stop as DELETE /api/collections/{runId}/preservation).
 */
export async function stopIncidentWindows(
  client: StatusLister & EventRaiser,
  incident: { incidentId: string; label: string },
  options: { statusUrl: (runId: string) => string; requestedAt: string },
): Promise<IncidentClosing> {
  const closing: IncidentClosing = { stopping: [], stillCollecting: [], notStopped: [] };
  for (const run of await openIncidentRuns(client, incident.incidentId)) {
    const entry: IncidentRunEntry = { runId: run.runId, ...(run.clusterResourceId ? { cluster: run.clusterResourceId } : {}), statusUrl: options.statusUrl(run.runId) };
    if (!run.preserveForSeconds) {
      closing.stillCollecting.push(entry);
      continue;
    }
    const event: StopPreservationEvent = { requestedAt: options.requestedAt, by: `Sentinel incident ${incident.label} closed` };
    try {
      await client.raiseEvent(run.runId, STOP_PRESERVATION_EVENT, event);
      closing.stopping.push(entry);
    } catch (error) {
      closing.notStopped.push({ ...entry, error: redactSecrets(describeError(error)).slice(0, 500) });
    }
  }
  return closing;
}
