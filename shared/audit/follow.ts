import { setTimeout as delay } from 'node:timers/promises';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import type { AuditLabeler } from './label.js';
import { AuditDeduper, FinalStageSelector } from './stages.js';
import type { AuditEvent, AuditLabel } from './types.js';

/** One time window to fetch: [start, end). */
export interface AuditWindow {
  start: Date;
  end: Date;
  abortSignal?: AbortSignal;
}

/** Fetch the audit events of one window (Log Analytics query, storage read, file tail...). */
export type AuditWindowFetch = (window: AuditWindow) => AsyncIterable<AuditEvent> | Iterable<AuditEvent> | Promise<Iterable<AuditEvent> | AsyncIterable<AuditEvent>>;

export interface FollowAuditOptions {
  /** Pause between two polls, in ms. */
  intervalMs: number;
  /** Stop following (the generator then releases pending events and returns). */
  abortSignal?: AbortSignal;
  /** Start of the first window (default: now − intervalMs). */
  start?: Date;
  /**
   * How far each window reaches back before the previous window's end, in ms (default 0).
   * Log Analytics shows an event up to ~15 minutes after it happened: use 15 × 60_000 there;
   * events seen twice are dropped.
   */
  overlapMs?: number;
  /** Labels events as they arrive; without it only events are yielded. */
  labeler?: AuditLabeler;
  clock?: Clock;
  /** Wait function (tests inject one that resolves at once). Must reject or resolve early on abort. */
  sleep?: (ms: number, abortSignal?: AbortSignal) => Promise<void>;
  /** A failed window is reported here and retried on the next poll; without it the error is thrown. */
  onError?: (error: unknown, window: AuditWindow) => void;
}

export type AuditFollowItem = { kind: 'event'; event: AuditEvent; labels: AuditLabel[] } | { kind: 'window'; start: string; end: string; events: number };

async function defaultSleep(ms: number, abortSignal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, abortSignal ? { signal: abortSignal } : undefined);
  } catch (error) {
    if ((error as Error).name !== 'AbortError') throw error;
  }
}

/**
 * Follow mode: query consecutive windows until aborted, drop events already seen, keep one
 * final-stage event per request, and label each as it arrives. A window that fails is
 * retried (its start is kept) on the next poll.
 */
export async function* followAudit(fetchWindow: AuditWindowFetch, options: FollowAuditOptions): AsyncGenerator<AuditFollowItem> {
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? defaultSleep;
  const overlap = options.overlapMs ?? 0;
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  const signal = options.abortSignal;
  let from = options.start ?? new Date(clock().getTime() - options.intervalMs);

  const out = (event: AuditEvent): AuditFollowItem => ({ kind: 'event', event, labels: options.labeler?.push(event) ?? [] });

  while (!signal?.aborted) {
    const end = clock();
    const window: AuditWindow = { start: new Date(from.getTime() - overlap), end, ...(signal ? { abortSignal: signal } : {}) };
    let count = 0;
    let failed = false;
    try {
      for await (const event of await fetchWindow(window)) {
        if (!dedupe.isNew(event)) continue;
        for (const e of select.push(event)) {
          count++;
          yield out(e);
        }
      }
    } catch (error) {
      if (signal?.aborted) break;
      if (!options.onError) throw error;
      options.onError(error, window);
      failed = true;
    }
    // A ResponseStarted older than the overlap had its chance to complete: release it.
    for (const e of select.flushStarted(end.getTime() - overlap)) {
      count++;
      yield out(e);
    }
    yield { kind: 'window', start: toRfc3339(window.start), end: toRfc3339(end), events: count };
    if (!failed) from = end;
    if (signal?.aborted) break;
    await sleep(options.intervalMs, signal);
  }
  for (const e of select.flushStarted()) yield out(e);
}
