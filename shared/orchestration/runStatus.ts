import { redactSecrets } from '../util/redact.js';
import type { SealResult } from '../pipeline/types.js';
import type { CollectionRunInput, CollectionRunOutput, PreservationStatus, RunCustomStatus } from './types.js';

/**
 * Reading run status through a Durable client, described structurally so shared/ does not
 * import durable-functions: the HTTP functions pass their DurableClient.
 */
export interface OrchestrationStatusLike {
  instanceId: string;
  runtimeStatus: string;
  createdTime: Date | string;
  lastUpdatedTime: Date | string;
  input?: unknown;
  output?: unknown;
  customStatus?: unknown;
}

export interface StatusReader {
  getStatus(instanceId: string, options?: { showInput?: boolean; showHistory?: boolean }): Promise<OrchestrationStatusLike>;
}

/**
 * The status of an instance, or undefined when the task hub has none. durable-functions 3.x
 * throws for an unknown instance ("... replied with HTTP 404 response ..."); other failures
 * are rethrown.
 */
export async function findRun(client: StatusReader, instanceId: string, options: { showInput?: boolean } = {}): Promise<OrchestrationStatusLike | undefined> {
  try {
    const status = await client.getStatus(instanceId, { showInput: options.showInput ?? false });
    return status ?? undefined;
  } catch (error) {
    if (error instanceof Error && /\bHTTP 404\b/.test(error.message)) return undefined;
    throw error;
  }
}

/** Statuses for which a repeated trigger returns the existing run instead of starting another. */
const KEEP = new Set(['Running', 'Pending', 'Completed', 'ContinuedAsNew', 'Suspended']);

export function keepsExistingRun(status: OrchestrationStatusLike | undefined): status is OrchestrationStatusLike {
  return status !== undefined && KEEP.has(status.runtimeStatus);
}

/** What GET /api/collections/{runId} answers. */
export interface RunStatusView {
  runId: string;
  runtimeStatus: string;
  createdTime: string;
  lastUpdatedTime: string;
  caseId?: string;
  clusterResourceId?: string;
  sources?: string[];
  trigger?: CollectionRunInput['trigger'];
  /** The preservation window the request asked for, seconds. */
  preserveForSeconds?: number;
  /** What the preservation window has kept so far (or kept, once ended). */
  preservation?: PreservationStatus;
  progress?: RunCustomStatus;
  /** Once sealed: where the evidence is and the manifest hash to verify it against. */
  evidence?: {
    location: string;
    manifestPath: string;
    manifestSha256: string;
    artifactCount: number;
    reportUrl?: string;
    chainHead?: string;
    interrupted?: boolean;
    anchors?: SealResult['anchors'];
  };
  result?: Omit<CollectionRunOutput, 'seal'> & { records: Record<string, number>; gaps: Record<string, number> };
  /** Failed runs: what went wrong (redacted). */
  error?: string;
}

function iso(value: Date | string): string {
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? String(value) : d.toISOString();
}

function isRunInput(value: unknown): value is CollectionRunInput {
  return typeof value === 'object' && value !== null && (value as { schemaVersion?: unknown }).schemaVersion === 1 && typeof (value as { runId?: unknown }).runId === 'string';
}

function isRunOutput(value: unknown): value is CollectionRunOutput {
  return typeof value === 'object' && value !== null && typeof (value as { seal?: unknown }).seal === 'object';
}

/** The extension may hand input/output back as JSON text rather than parsed values. */
function parsed(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (!t.startsWith('{') && !t.startsWith('[')) return value;
  try {
    return JSON.parse(t) as unknown;
  } catch {
    return value;
  }
}

export function runStatusView(status: OrchestrationStatusLike): RunStatusView {
  const input = parsed(status.input);
  const output = parsed(status.output);
  const customStatus = parsed(status.customStatus);
  const view: RunStatusView = {
    runId: status.instanceId,
    runtimeStatus: status.runtimeStatus,
    createdTime: iso(status.createdTime),
    lastUpdatedTime: iso(status.lastUpdatedTime),
  };
  if (isRunInput(input)) {
    view.caseId = input.request.caseId;
    view.clusterResourceId = input.cluster.resourceId;
    view.sources = input.request.sources;
    view.trigger = input.trigger;
    if (input.request.preserveForSeconds) view.preserveForSeconds = input.request.preserveForSeconds;
  }
  if (customStatus && typeof customStatus === 'object') {
    view.progress = customStatus as RunCustomStatus;
    if (view.progress.preservation) view.preservation = view.progress.preservation;
  }
  // While the run preserves, its sealed collection travels in the orchestration's input.
  const collected = isRunOutput(output) ? output : isRunInput(input) && input.preservation ? input.preservation.collection : undefined;
  if (isRunOutput(output) && output.preservation) view.preservation = output.preservation;
  if (collected) {
    const { seal, ...rest } = collected;
    view.evidence = {
      location: seal.location,
      manifestPath: seal.manifestPath,
      manifestSha256: seal.manifestSha256,
      artifactCount: seal.artifactCount,
      ...(seal.chainHead ? { chainHead: seal.chainHead } : {}),
      ...(seal.interrupted ? { interrupted: true } : {}),
      ...(seal.anchors ? { anchors: seal.anchors } : {}),
    };
    // The report written at sealing, as a URL in the bundle (the incident comment links it).
    if (seal.reportPath) view.evidence.reportUrl = `${seal.location.replace(/\/+$/, '')}/${seal.reportPath}`;
    view.result = { ...rest, records: seal.records, gaps: seal.gaps };
  } else if (status.runtimeStatus === 'Failed' && output !== undefined && output !== null) {
    view.error = redactSecrets(typeof output === 'string' ? output : JSON.stringify(output)).slice(0, 2000);
  }
  return view;
}
