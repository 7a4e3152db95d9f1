import type { KubeConfigLike } from '../cluster/kubeConfig.js';
import { KubeApi } from '../cluster/kubeApi.js';
import { Reflector, type ReflectorEvent } from '../cluster/reflector.js';
import { readRunClaim, type ClaimedRun } from '../evidence/claim.js';
import { CustodyLog } from '../evidence/custody.js';
import type { LostSegment } from '../evidence/increment.js';
import type { CollectionRequestRecord, CollectorIdentity, EvidenceStore } from '../evidence/types.js';
import { namespaceSelected } from '../sources/common/namespaces.js';
import { eventRow } from '../sources/events/source.js';
import { describeError } from '../util/errors.js';
import { systemClock, systemSleeper, toRfc3339, type Clock, type Sleeper } from '../util/time.js';
import { redactRawObject } from '../util/valueRedaction.js';
import { changeEvidence, type ChangeType } from './changes.js';
import { LogKeeper, type LogFetchOutcome } from './logKeeper.js';
import { podLogTrigger, podStartTrigger } from './podTriggers.js';
import { minimumPreservationBudget, WATCHED_RESOURCES, type WatchedResource } from './resources.js';
import { Segment, type SealedSegment } from './segment.js';
import { PreservationError, reconcileCursor, type PreservationCursor } from './window.js';

/**
 * One stretch of a preservation window: watch pods, events and the objects an attacker changes
 * from the cursor on, keep what happens in segments, seal each segment (every `segmentInMs` or
 * `segmentRows` rows), and stop at `until` (the window's end, or a bounded activity's) or when
 * asked to. The CLI runs one stretch for the whole window; the Functions app runs one per
 * bounded activity, each resuming from the cursor the previous one returned.
 */

export type PreservationProgress =
  | { kind: 'watching'; resources: number; segment: number }
  | { kind: 'event'; resource: string; type: string; namespace: string; name: string; relisted?: boolean }
  | { kind: 'logs'; outcome: LogFetchOutcome }
  | { kind: 'gap'; detail: string }
  | { kind: 'segment-sealed'; segment: SealedSegment }
  | { kind: 'stopping'; reason: string };

export interface PreservationOptions {
  store: EvidenceStore;
  kubeConfig: KubeConfigLike;
  runId: string;
  caseId: string;
  /** The run's request: its namespace filter and env-value handling apply to the window too. */
  request: CollectionRequestRecord;
  collector: CollectorIdentity;
  claim?: ClaimedRun;
  cursor: PreservationCursor;
  /** Stop watching then (the window's end, or a bounded activity's). */
  until: Date;
  /** Stop now (Ctrl-C, a stop request): the segment in progress is sealed. */
  stopSignal?: AbortSignal;
  /** Why stopSignal fired (recorded as the window's end reason). Default "stopped". */
  stopReason?: () => string;
  clock?: Clock;
  /** How to wait on `clock` (tests drive both). Default real timers. */
  sleep?: Sleeper;
  /** Seal a segment after this many ms. Default 300000 (5 minutes). */
  segmentInMs?: number;
  /** ...or once it holds this many rows. Default 50000. */
  segmentRows?: number;
  /** Log streams read at once. Default 8. */
  logConcurrency?: number;
  /** Server-side end of each watch request, seconds. Default 290. */
  watchTimeoutSeconds?: number;
  /** What to watch (default WATCHED_RESOURCES). */
  resources?: readonly WatchedResource[];
  progress?: (event: PreservationProgress) => void;
  /** After each segment is sealed (ingestion of the segment, status). */
  onSegmentSealed?: (segment: SealedSegment) => Promise<void>;
}

export interface PreservationResult {
  cursor: PreservationCursor;
  segments: SealedSegment[];
  /** Set when this stretch ended the window (its end reached, or stopped). */
  ended?: { reason: string };
  /** Kubernetes API requests, by kind. */
  requests: { list: number; watch: number; log: number };
  /** Segments found started and never sealed (named as lost in the first segment sealed here). */
  lost: LostSegment[];
}

export async function runPreservation(options: PreservationOptions): Promise<PreservationResult> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? systemSleeper;
  const { store } = options;
  const claim = options.claim ?? (await readRunClaim(store));
  const custody = new CustodyLog(store, { runId: options.runId, caseId: options.caseId, collector: options.collector, claim, clock });
  const envValues = options.request.envValues ?? 'hash';
  const filter = {
    ...(options.request.namespaces?.length ? { include: options.request.namespaces } : {}),
    ...(options.request.excludeNamespaces?.length ? { exclude: options.request.excludeNamespaces } : {}),
  };
  const requests = { list: 0, watch: 0, log: 0 };
  const now = (): string => toRfc3339(clock());
  const segmentInMs = Math.max(1000, options.segmentInMs ?? 300_000);
  const segmentRows = Math.max(1, options.segmentRows ?? 50_000);
  const untilMs = options.until.getTime();
  const endsAtMs = Date.parse(options.cursor.endsAt);

  const recovered = await reconcileCursor(store, options.cursor, now());
  let cursor = recovered.cursor;
  let pendingLost = recovered.lost;
  const window = { id: cursor.windowId, startedAt: cursor.startedAt, endsAt: cursor.endsAt };

  const api = KubeApi.for(options.kubeConfig);
  const resources = options.resources ?? WATCHED_RESOURCES;
  // Every open watch stream holds a permit of the cluster's load budget for as long as it is
  // open (KubeApi.openStreamOnce); log fetches share what is left.
  const budget = api.budget.limit;
  if (budget < minimumPreservationBudget(resources)) {
    throw new PreservationError(
      'ERR_PRESERVE_BUDGET',
      `the load budget (${budget} requests in flight) is too small for a preservation window: its ${resources.length} watch streams each hold one, and log fetches need at least one more; raise it to ${minimumPreservationBudget(resources)} or more`,
    );
  }
  const reflectors = resources.map(
    (resource) =>
      [
        resource,
        new Reflector(api, resource, {
          accepts: (o) => namespaceSelected(o.metadata?.namespace, filter),
          ...(options.watchTimeoutSeconds !== undefined ? { watchTimeoutSeconds: options.watchTimeoutSeconds } : {}),
          countRequest: (kind) => {
            requests[kind]++;
            current.counts.apiRequests++;
          },
        }),
      ] as const,
  );

  const openSegment = async (seq: number, from: string, cursorFrom: Record<string, string>): Promise<Segment> => {
    await custody.record('increment-started', { seq, windowId: window.id, from, cursorFrom });
    return new Segment({ store, runId: options.runId, caseId: options.caseId, seq, window, from, cursorFrom, clock });
  };
  let current = await openSegment(cursor.nextSeq, cursor.at ?? now(), cursor.resourceVersions);
  for (const lost of pendingLost) {
    current.addGap({
      source: 'preservation',
      reason: 'error',
      detail: `increment ${lost.seq} was lost (${lost.reason}): what it kept is unsealed; its time range is re-watched from the last sealed position where the API server still keeps it`,
      from: lost.from,
      to: lost.to,
    });
  }
  const sealed: SealedSegment[] = [];
  const logs = new LogKeeper(api, {
    clock,
    concurrency: Math.min(options.logConcurrency ?? 8, budget - resources.length),
    countRequest: () => {
      requests.log++;
      current.counts.apiRequests++;
    },
    onFetched: (outcome) => options.progress?.({ kind: 'logs', outcome }),
  });

  // Start every resource from the cursor (exact lists for cached ones); a refused one is a gap.
  const live: (typeof reflectors)[number][] = [];
  const lastSeenAt = new Map<string, string>();
  for (const [resource, reflector] of reflectors) {
    try {
      const from = cursor.resourceVersions[resource.key];
      const events = await reflector.start(from);
      for (const e of events) if (e.type === 'GAP') gap(resource, e.detail, cursor.at);
      live.push([resource, reflector]);
      if (resource.role === 'pods' && from === undefined) {
        for (const pod of reflector.objects()) {
          const trigger = podStartTrigger(pod);
          if (trigger) logs.keep(current, pod, trigger);
        }
      }
    } catch (error) {
      gap(resource, `${resource.key} cannot be watched: ${describeError(error)}; its changes are not preserved`);
    }
  }

  function gap(resource: WatchedResource, detail: string, from?: string): void {
    const reason = /\b403\b|forbidden/i.test(detail) ? 'forbidden' : /\b410\b|compacted|no longer kept/.test(detail) ? 'expired-continue' : 'error';
    current.addGap({
      source: resource.role === 'pods' ? 'containerlogs' : resource.role === 'events' ? 'events' : 'preservation',
      reason,
      detail,
      resource: resource.key,
      ...(from ? { from } : {}),
      to: now(),
    });
    options.progress?.({ kind: 'gap', detail });
  }

  let rotateNow: (() => void) | undefined;
  const handle =
    (resource: WatchedResource) =>
    (event: ReflectorEvent): Promise<void> | void => {
      if (event.type === 'GAP') return gap(resource, event.detail, lastSeenAt.get(resource.key) ?? cursor.at);
      if (event.type === 'FAILED') return gap(resource, event.detail);
      const seenAt = now();
      lastSeenAt.set(resource.key, seenAt);
      const object = event.object;
      options.progress?.({
        kind: 'event',
        resource: resource.key,
        type: event.type,
        namespace: String(object.metadata?.namespace ?? ''),
        name: String(object.metadata?.name ?? ''),
        ...(event.relisted ? { relisted: true } : {}),
      });
      const segment = current;
      const writes: Promise<void>[] = [];
      if (resource.role === 'events') {
        if (event.type === 'DELETED') return; // events expire: their deletion is not news
        writes.push(segment.append('eventRows', [JSON.stringify(eventRow(object, seenAt))]));
        writes.push(segment.append('eventsRaw', [JSON.stringify(redactRawObject(object, envValues))]));
        segment.counts.events++;
      } else {
        const change: ChangeType = event.type === 'ADDED' ? 'added' : event.type === 'DELETED' ? 'deleted' : 'modified';
        const evidence = changeEvidence(change, object, event.previous, { at: seenAt, by: event.relisted ? 'relist' : 'watch' }, envValues);
        writes.push(segment.append('changeRows', [JSON.stringify(evidence.row)]));
        writes.push(segment.append('changesRaw', [evidence.record]));
        segment.counts.changes++;
        if (resource.role === 'pods') {
          const trigger = podLogTrigger(event.type, object, event.previous);
          if (trigger) logs.keep(segment, object, trigger);
        }
      }
      if (segment.rows >= segmentRows) rotateNow?.();
      return Promise.all(writes).then(() => undefined);
    };

  const stopWatching = new AbortController();
  const runs = live.map(([resource, reflector]) => reflector.run(handle(resource), stopWatching.signal, () => untilMs - clock().getTime()));
  const resourceVersions = (): Record<string, string> => {
    const rvs: Record<string, string> = { ...cursor.resourceVersions };
    for (const [resource, reflector] of live) if (reflector.resourceVersion !== undefined) rvs[resource.key] = reflector.resourceVersion;
    return rvs;
  };
  const sealSegment = async (segment: Segment, to: string, cursorTo: Record<string, string>, final?: string): Promise<void> => {
    const result = await segment.seal({
      custody,
      to,
      cursorTo,
      baseManifestSha256: cursor.baseManifestSha256,
      ...(cursor.last ? { previous: cursor.last } : {}),
      ...(pendingLost.length ? { lost: pendingLost } : {}),
      ...(final ? { final } : {}),
    });
    pendingLost = [];
    sealed.push(result);
    cursor = { ...cursor, nextSeq: result.seq + 1, resourceVersions: cursorTo, at: to, last: { seq: result.seq, manifestSha256: result.manifestSha256 } };
    options.progress?.({ kind: 'segment-sealed', segment: result });
    await options.onSegmentSealed?.(result);
  };

  options.progress?.({ kind: 'watching', resources: live.length, segment: current.seq });
  let endReason: string | undefined;
  const stop = options.stopSignal;
  try {
    for (;;) {
      const rotateAt = Math.min(Date.parse(current.from) + segmentInMs, untilMs);
      const wake = new AbortController();
      rotateNow = () => wake.abort();
      const onStop = (): void => wake.abort();
      stop?.addEventListener('abort', onStop, { once: true });
      if (!stop?.aborted && current.rows < segmentRows) await sleep(new Date(rotateAt), wake.signal);
      stop?.removeEventListener('abort', onStop);
      rotateNow = undefined;
      if (stop?.aborted) {
        endReason = options.stopReason?.() ?? 'stopped';
        break;
      }
      if (clock().getTime() >= untilMs) {
        if (untilMs >= endsAtMs) endReason = 'window-ended';
        break;
      }
      if (clock().getTime() < rotateAt && current.rows < segmentRows) continue;
      // Rotate: the next segment takes new records at once; the old one seals behind it.
      const old = current;
      const to = now();
      const cursorTo = resourceVersions();
      current = await openSegment(old.seq + 1, to, cursorTo);
      await sealSegment(old, to, cursorTo);
    }
  } finally {
    // Whatever happens, the watches stop with the stretch (an unsealed segment is named lost by the next).
    stopWatching.abort();
    await Promise.all(runs);
  }
  if (endReason) options.progress?.({ kind: 'stopping', reason: endReason });
  await sealSegment(current, now(), resourceVersions(), endReason);
  return { cursor, segments: sealed, ...(endReason ? { ended: { reason: endReason } } : {}), requests, lost: recovered.lost };
}
