import { createHash } from 'node:crypto';
import type { AuditEvent } from './types.js';
import { eventTimeMs } from './types.js';

/**
 * The API server writes up to four events per request (RequestReceived, ResponseStarted,
 * ResponseComplete, Panic), and the same event can reach us twice (kube-audit and
 * kube-audit-admin both enabled, overlapping query windows, several destinations).
 *
 * AuditDeduper drops exact repeats (same auditID + stage). FinalStageSelector keeps one
 * event per request for labelling and the timeline: ResponseComplete or Panic, or
 * ResponseStarted when no completion ever comes (long-running exec/attach/portforward/watch
 * sessions still open, or cut by the window).
 *
 * Both remember keys in insertion order with a cap (default 500,000 keys, ~60 MB) and forget
 * the oldest first: duplicates arrive close together (same slice, overlapping windows), so a
 * forgotten key is far older than anything still arriving.
 */
export const DEFAULT_MAX_KEYS = 500_000;

class BoundedSet {
  private readonly keys = new Map<string, true>();
  constructor(private readonly max: number) {}
  has(key: string): boolean {
    return this.keys.has(key);
  }
  add(key: string): void {
    if (this.keys.has(key)) return;
    this.keys.set(key, true);
    if (this.keys.size > this.max) {
      const oldest = this.keys.keys().next();
      if (!oldest.done) this.keys.delete(oldest.value);
    }
  }
  get size(): number {
    return this.keys.size;
  }
}

/**
 * The key that tells two requests apart: the auditID, or — for a record without one — its
 * time, verb, URI and user, or failing those a hash of the whole record (identical records are
 * one request seen twice; different ones are different requests).
 */
export function requestKeyOf(event: AuditEvent): string {
  if (event.auditID) return event.auditID;
  const t = event.requestReceivedTimestamp ?? '';
  if (t) return `${t}|${event.verb}|${event.requestURI}|${event.user?.username ?? ''}`;
  const { stage: _stage, stageTimestamp: _st, responseStatus: _rs, responseObject: _ro, annotations: _an, parseNote: _pn, ...rest } = event;
  return `sha256:${createHash('sha256').update(JSON.stringify(rest)).digest('hex')}`;
}

export class AuditDeduper {
  private readonly seen: BoundedSet;
  constructor(options: { maxKeys?: number } = {}) {
    this.seen = new BoundedSet(options.maxKeys ?? DEFAULT_MAX_KEYS);
  }
  /** True the first time an (auditID, stage) pair is seen. */
  isNew(event: AuditEvent): boolean {
    const key = `${requestKeyOf(event)}\u0000${event.stage}`;
    if (this.seen.has(key)) return false;
    this.seen.add(key);
    return true;
  }
}

const FINAL = new Set(['ResponseComplete', 'Panic']);

export class FinalStageSelector {
  private readonly emitted: BoundedSet;
  private readonly pendingStarted = new Map<string, AuditEvent>();
  constructor(options: { maxKeys?: number } = {}) {
    this.emitted = new BoundedSet(options.maxKeys ?? DEFAULT_MAX_KEYS);
  }

  /** Feed one (deduplicated) event; returns the events now final (zero or one). */
  push(event: AuditEvent): AuditEvent[] {
    const key = requestKeyOf(event);
    if (event.stage === 'RequestReceived') return [];
    if (event.stage === 'ResponseStarted') {
      if (!this.emitted.has(key) && !this.pendingStarted.has(key)) this.pendingStarted.set(key, event);
      return [];
    }
    // ResponseComplete, Panic, or an export without a Stage column: final.
    if (this.emitted.has(key)) return [];
    this.pendingStarted.delete(key);
    this.emitted.add(key);
    return [event];
  }

  /**
   * Release ResponseStarted events that never completed: all of them (end of a static
   * window), or only those received before `beforeMs` (follow mode: a later window may
   * still bring the completion of a recent one). A completion arriving later is dropped.
   */
  flushStarted(beforeMs?: number): AuditEvent[] {
    const out: AuditEvent[] = [];
    for (const [key, event] of this.pendingStarted) {
      const t = eventTimeMs(event);
      if (beforeMs !== undefined && !(t < beforeMs)) continue;
      this.pendingStarted.delete(key);
      this.emitted.add(key);
      out.push(event);
    }
    return out;
  }

  get pending(): number {
    return this.pendingStarted.size;
  }
}

/** True for the stages the selector passes through as final. */
export function isFinalStage(stage: string): boolean {
  return FINAL.has(stage) || stage === '';
}

/** Dedupe and select final stages over a whole stream (static mode). */
export async function* selectFinalEvents(events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>): AsyncGenerator<AuditEvent> {
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  for await (const event of events) {
    if (!dedupe.isNew(event)) continue;
    yield* select.push(event);
  }
  yield* select.flushStarted();
}
