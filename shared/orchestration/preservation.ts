import {
  FUNCTION_NAMES,
  STOP_PRESERVATION_EVENT,
  type ClosePreservationInput,
  type CollectionRunInput,
  type CollectionRunOutput,
  type OpenPreservationInput,
  type PreservationState,
  type PreservationStatus,
  type PreservationTotals,
  type PreserveStretchInput,
  type PreserveStretchOutput,
  type RunCustomStatus,
  type StopPreservationEvent,
} from './types.js';
import type { PreservationCursor } from '../preservation/window.js';

/**
 * The run's preservation window in Azure, after its collection is sealed: the collectEvidence
 * orchestration continues as new into this loop. Each step is a bounded activity (a stretch of
 * a few minutes watching from the cursor the previous one returned, sealing its segment at its
 * end), so the window runs for days within Flex Consumption's limits; every
 * `stretchesPerGeneration` stretches the orchestration continues as new, so its history stays
 * small. A failed stretch waits on a durable timer (back-off) before the next. It ends at the
 * window's end, or when the stop event arrives (DELETE /api/collections/{runId}/preservation,
 * the Sentinel incident closing through the playbook): the stretch in progress finishes and
 * seals its segment, then the window is closed in custody.
 *
 * Runtime-agnostic: written against the part of durable-functions' OrchestrationContext it
 * uses (structurally), so shared/ does not import the Functions runtime; functions/ hands it
 * the real context. Deterministic: time only from currentUtcDateTime, ids from newGuid.
 */

/** A Durable task as the loop sees it. */
export interface TaskLike {
  readonly isCompleted: boolean;
  readonly isFaulted: boolean;
  readonly result?: unknown;
}

/** The part of durable-functions' OrchestrationContext the loop uses. */
export interface PreservationContext {
  df: {
    readonly currentUtcDateTime: Date;
    callActivityWithRetry(name: string, retryOptions: never, input?: unknown): TaskLike;
    waitForExternalEvent(name: string): TaskLike;
    createTimer(fireAt: Date): TaskLike;
    Task: { any(tasks: TaskLike[]): TaskLike };
    setCustomStatus(status: unknown): void;
    continueAsNew(input: unknown): void;
    newGuid(instanceId: string): string;
  };
}

/** One preservation activity's length unless the app settings say otherwise: a few minutes. */
export const DEFAULT_STRETCH_SECONDS = 240;
/** Stretches per orchestration generation before continue-as-new (12 × 4 min ≈ 48 min of history). */
export const STRETCHES_PER_GENERATION = 12;
/** Consecutive failed stretches before the window is closed as failed (with back-off in between, about an hour). */
export const MAX_FAILED_STRETCHES = 8;

export function emptyTotals(): PreservationTotals {
  return { segments: 0, logLines: 0, events: 0, changes: 0, gaps: 0, lost: 0, apiRequests: 0, notIngested: 0 };
}

/** The state the collection hands to the loop when it continues as new. */
export function initialPreservationState(collection: CollectionRunOutput, authMode: PreservationState['authMode'], stop?: StopPreservationEvent): PreservationState {
  return { collection, authMode, totals: emptyTotals(), stretches: 0, generation: 0, failures: 0, ...(stop ? { stop } : {}) };
}

/** Back-off before the next stretch after `failures` failed ones: 30 s doubling, at most 10 minutes. */
export function stretchBackoffSeconds(failures: number): number {
  return Math.min(600, 30 * 2 ** Math.max(0, failures - 1));
}

export function addStretch(totals: PreservationTotals, out: PreserveStretchOutput): PreservationTotals {
  const t = { ...totals };
  for (const s of out.segments) {
    t.segments++;
    t.logLines += s.logLines;
    t.events += s.events;
    t.changes += s.changes;
    t.gaps += s.gaps;
  }
  t.lost += out.lost;
  t.apiRequests += out.apiRequests;
  t.notIngested += out.notIngested;
  return t;
}

export function preservationStatus(st: PreservationState, state: PreservationStatus['state'], endReason?: string): PreservationStatus {
  return {
    state,
    ...(st.cursor ? { windowId: st.cursor.windowId, endsAt: st.cursor.endsAt } : {}),
    totals: st.totals,
    stretches: st.stretches,
    generation: st.generation,
    ...(st.lastSegment ? { lastSegment: st.lastSegment } : {}),
    ...(st.stop ? { stopRequestedAt: st.stop.requestedAt } : {}),
    ...(endReason ? { endReason } : {}),
    ...(st.lastError ? { lastError: st.lastError } : {}),
  };
}

function errorLine(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).split('\n')[0]!.trim().slice(0, 300);
}

/** The loop, for one generation; returns the run's output when the window has ended, undefined after continue-as-new. */
export function* preservationLoop(
  context: PreservationContext,
  input: CollectionRunInput & { preservation: PreservationState },
  retry: unknown,
): Generator<TaskLike, CollectionRunOutput | undefined, unknown> {
  const df = context.df;
  const retryOptions = retry as never;
  const { runId, request, cluster } = input;
  const caseId = request.caseId;
  const stretchSeconds = input.preserveStretchSeconds ?? DEFAULT_STRETCH_SECONDS;
  const perGeneration = Math.max(1, input.preserveStretchesPerGeneration ?? STRETCHES_PER_GENERATION);
  let st: PreservationState = { ...input.preservation };
  const manifest = { location: st.collection.seal.location, sha256: st.collection.seal.manifestSha256 };
  const status = (state: PreservationStatus['state'], endReason?: string): void => {
    const s: RunCustomStatus = {
      phase: state === 'ended' || state === 'not-started' ? 'completed' : 'preserving',
      updatedAt: df.currentUtcDateTime.toISOString(),
      manifest,
      preservation: preservationStatus(st, state, endReason),
    };
    df.setCustomStatus(s);
  };
  const finish = (state: 'ended' | 'not-started', reason: string): CollectionRunOutput => {
    status(state, reason);
    return { ...st.collection, preservation: preservationStatus(st, state, reason) };
  };

  // One wait per generation: an event raised while a stretch runs completes it (a later stretch's Task.any sees it done).
  const stop = df.waitForExternalEvent(STOP_PRESERVATION_EVENT);
  const stopAsked = (): void => {
    if (!st.stop && stop.isCompleted) {
      const e = (stop.result ?? {}) as Partial<StopPreservationEvent>;
      st = {
        ...st,
        stop: { requestedAt: typeof e.requestedAt === 'string' ? e.requestedAt : df.currentUtcDateTime.toISOString(), ...(typeof e.by === 'string' ? { by: e.by } : {}) },
      };
    }
  };

  if (!st.cursor) {
    if (st.stop) return finish('not-started', 'stopped before the window opened');
    status('opening');
    const open: OpenPreservationInput = {
      runId,
      caseId,
      request,
      windowId: df.newGuid(`${runId}/preservation`).replace(/-/g, '').slice(0, 16),
      preserveForSeconds: request.preserveForSeconds ?? 0,
    };
    st = { ...st, cursor: (yield df.callActivityWithRetry(FUNCTION_NAMES.openPreservation, retryOptions, open)) as PreservationCursor };
  }

  let endReason: string | undefined;
  for (let i = 0; i < perGeneration; i++) {
    stopAsked();
    const now = df.currentUtcDateTime.getTime();
    const endsAt = Date.parse(st.cursor!.endsAt);
    if (st.stop) {
      endReason = 'stopped';
      break;
    }
    if (now >= endsAt) {
      endReason = 'window-ended';
      break;
    }
    status('preserving');
    const stretchInput: PreserveStretchInput = {
      runId,
      caseId,
      cluster,
      authMode: st.authMode,
      request,
      cursor: st.cursor!,
      until: new Date(Math.min(now + stretchSeconds * 1000, endsAt)).toISOString(),
      segmentSeconds: Math.min(300, stretchSeconds),
    };
    const stretch = df.callActivityWithRetry(FUNCTION_NAMES.preserveStretch, retryOptions, stretchInput);
    if (!stop.isCompleted) {
      const first = yield df.Task.any([stretch, stop]);
      if (first === stop) {
        stopAsked();
        status('stopping');
      }
    }
    if (!stretch.isCompleted && !stretch.isFaulted) {
      try {
        yield stretch;
      } catch {
        // recorded below from stretch.result
      }
    }
    st = { ...st, stretches: st.stretches + 1 };
    if (stretch.isFaulted) {
      st = { ...st, failures: st.failures + 1, lastError: `stretch ${st.stretches} failed after its retries: ${errorLine(stretch.result)}` };
      if (st.failures >= MAX_FAILED_STRETCHES) {
        endReason = 'failed';
        break;
      }
      stopAsked();
      if (st.stop) continue;
      status('preserving');
      const timer = df.createTimer(new Date(df.currentUtcDateTime.getTime() + stretchBackoffSeconds(st.failures) * 1000));
      yield df.Task.any([timer, stop]);
      continue;
    }
    const out = stretch.result as PreserveStretchOutput;
    const last = out.segments.at(-1);
    const { lastError: _lastError, ...rest } = st;
    st = {
      ...rest,
      cursor: out.cursor,
      failures: 0,
      totals: addStretch(st.totals, out),
      ...(last ? { lastSegment: { seq: last.seq, manifestSha256: last.manifestSha256, to: last.to } } : {}),
    };
  }
  stopAsked();
  if (!endReason && st.stop) endReason = 'stopped';
  if (!endReason && df.currentUtcDateTime.getTime() >= Date.parse(st.cursor!.endsAt)) endReason = 'window-ended';

  if (endReason) {
    status('stopping');
    const close: ClosePreservationInput = {
      runId,
      caseId,
      request,
      cursor: st.cursor!,
      reason: endReason === 'stopped' ? `stopped (requested at ${st.stop?.requestedAt ?? '?'}${st.stop?.by ? ` by ${st.stop.by}` : ''})` : endReason,
      ...(endReason === 'failed' && st.lastError ? { detail: st.lastError } : {}),
      totals: st.totals,
    };
    yield df.callActivityWithRetry(FUNCTION_NAMES.closePreservation, retryOptions, close);
    return finish('ended', endReason);
  }
  df.continueAsNew({ ...input, preservation: { ...st, generation: st.generation + 1 } } satisfies CollectionRunInput);
  return undefined;
}
