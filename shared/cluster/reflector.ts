import { describeKubeError, KubeApiError, type KubeApi } from './kubeApi.js';
import { listAll, type KubeListItem } from './paginate.js';
import { classifyForRetry, isAbortError, sleep } from './retry.js';
import { watchEvents, WatchExpiredError, WatchInterruptedError } from './watch.js';

/**
 * List, then watch, one resource for as long as the caller wants, losing nothing a watch can
 * still deliver: every stream end, cut, stall or refused reconnect is resumed from the last
 * resourceVersion seen (bookmarks move it while nothing changes); only when the server no
 * longer keeps that version (410 Gone) does it relist, and then it says so — a `relisted` gap
 * with the time range whose intermediate states may be lost — and reports what the relist
 * shows changed (objects added, modified, deleted meanwhile) as events marked `relisted`.
 *
 * With `cache`, it keeps the last object seen per uid, so every MODIFIED and DELETED event is
 * handed over with the object as it was before. Started from a resourceVersion (a bounded
 * activity resuming where the previous one stopped) it lists the cache as of exactly that
 * version (resourceVersionMatch=Exact), so "before" is right across activities too.
 */

export interface ReflectedResource {
  /** Stable name, e.g. "pods", "rbac.authorization.k8s.io/rolebindings": the cursor's key. */
  key: string;
  /** Cluster-wide collection path, e.g. /api/v1/pods. */
  path: string;
  /** Keep the last object per uid (before-states of changes). */
  cache: boolean;
}

export type ReflectorEvent =
  | {
      type: 'ADDED' | 'MODIFIED' | 'DELETED';
      object: KubeListItem;
      /** The object as last seen (cached resources). */
      previous?: KubeListItem;
      /** Found by a relist after a 410, not by the watch: intermediate states are not known. */
      relisted?: boolean;
    }
  | {
      /** Changes between `fromResourceVersion` and the relist may be lost (compacted before they were read). */
      type: 'GAP';
      fromResourceVersion: string | undefined;
      toResourceVersion: string | undefined;
      detail: string;
    }
  | {
      /** The resource cannot be watched (403, 404): nothing more comes from it. */
      type: 'FAILED';
      detail: string;
      status?: number;
    };

export interface ReflectorOptions {
  /** Keep objects only when this holds (the run's namespace filter); default all. */
  accepts?: (object: KubeListItem) => boolean;
  /** Page size of lists (default 500). */
  pageSize?: number;
  /** Server-side end of each watch request, seconds (default 290; capped by the caller's deadline). */
  watchTimeoutSeconds?: number;
  /** Called once per HTTP request (lists, watches). */
  countRequest?: (kind: 'list' | 'watch') => void;
  /** Back-off after a failed (re)connect: base and cap, ms (defaults 1000 and 30000). */
  backoffBaseInMs?: number;
  backoffMaxInMs?: number;
  /** Idle time-out of a watch stream, ms (see WatchOptions.idleTimeoutInMs). */
  idleTimeoutInMs?: number;
}

export class Reflector {
  /** The resume point: the newest resourceVersion seen (list, event or bookmark). */
  resourceVersion: string | undefined;
  private readonly cache = new Map<string, KubeListItem>();
  /** Watch requests made (the first included) and how many were resumed after a break. */
  readonly stats = { lists: 0, watches: 0, resumes: 0, relists: 0 };

  constructor(
    private readonly api: KubeApi,
    readonly resource: ReflectedResource,
    private readonly options: ReflectorOptions = {},
  ) {}

  /** Objects cached (cached resources only). */
  get size(): number {
    return this.cache.size;
  }

  /** The cached objects, for a caller that needs the current state. */
  objects(): IterableIterator<KubeListItem> {
    return this.cache.values();
  }

  /**
   * Establish the starting state. `from` absent: a list now (cached resources: every object;
   * others: one item, for its resourceVersion). `from` given: cached resources list exactly as
   * of `from`; if that version is gone (410), the list is taken now and a GAP is returned.
   */
  async start(from: string | undefined, abortSignal?: AbortSignal): Promise<ReflectorEvent[]> {
    if (from !== undefined && !this.resource.cache) {
      this.resourceVersion = from;
      return [];
    }
    if (from !== undefined) {
      try {
        await this.listInto(this.cache, { resourceVersion: from, resourceVersionMatch: 'Exact' }, abortSignal);
        this.resourceVersion = from;
        return [];
      } catch (error) {
        if (!(error instanceof KubeApiError && error.status === 410)) throw error;
        this.cache.clear();
        await this.listInto(this.cache, {}, abortSignal);
        return [
          {
            type: 'GAP',
            fromResourceVersion: from,
            toResourceVersion: this.resourceVersion,
            detail: `${this.resource.key}: the state at resourceVersion ${from} is no longer kept (410); listed anew: objects changed in between are reported from their current state only`,
          },
        ];
      }
    }
    await this.listInto(this.resource.cache ? this.cache : undefined, {}, abortSignal);
    return [];
  }

  /**
   * Watch until `abortSignal` fires (then resolves), handing each event to `onEvent` in order
   * (awaited: a slow consumer slows the stream, never loses it). Resolves early only when the
   * resource cannot be watched at all (after a FAILED event).
   */
  async run(onEvent: (event: ReflectorEvent) => Promise<void> | void, abortSignal: AbortSignal, deadline?: () => number): Promise<void> {
    let failures = 0;
    while (!abortSignal.aborted) {
      let timeoutSeconds = this.options.watchTimeoutSeconds ?? 290;
      const left = deadline?.();
      if (left !== undefined) timeoutSeconds = Math.max(1, Math.min(timeoutSeconds, Math.ceil(left / 1000) + 5));
      let delivered = 0;
      try {
        this.stats.watches++;
        if (this.stats.watches > 1) this.stats.resumes++;
        for await (const event of watchEvents(this.api, this.resource.path, {
          ...(this.resourceVersion !== undefined ? { resourceVersion: this.resourceVersion } : {}),
          timeoutSeconds,
          abortSignal,
          ...(this.options.idleTimeoutInMs !== undefined ? { idleTimeoutInMs: this.options.idleTimeoutInMs } : {}),
          countRequest: () => this.options.countRequest?.('watch'),
        })) {
          delivered++;
          const rv = event.object.metadata?.resourceVersion;
          if (event.type === 'BOOKMARK') {
            if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
            continue;
          }
          const accepted = this.options.accepts?.(event.object) ?? true;
          if (accepted) {
            const key = identity(event.object);
            const previous = this.resource.cache ? this.cache.get(key) : undefined;
            if (this.resource.cache) {
              if (event.type === 'DELETED') this.cache.delete(key);
              else this.cache.set(key, event.object);
            }
            await onEvent({ type: event.type, object: event.object, ...(previous ? { previous } : {}) });
          }
          if (typeof rv === 'string' && rv !== '') this.resourceVersion = rv;
        }
        failures = 0;
      } catch (error) {
        if (abortSignal.aborted || isAbortError(error)) return;
        if (error instanceof WatchExpiredError) {
          await this.relist(onEvent, abortSignal);
          failures = 0;
          continue;
        }
        const retryable = error instanceof WatchInterruptedError || classifyForRetry(error).retryable;
        if (!retryable) {
          await onEvent({ type: 'FAILED', detail: `${this.resource.key}: ${describeKubeError(error)}`, ...(error instanceof KubeApiError ? { status: error.status } : {}) });
          return;
        }
        // A stream that delivered something was healthy: resume at once; repeated failures back off.
        failures = delivered > 0 ? 0 : failures + 1;
        if (failures > 0) {
          const base = this.options.backoffBaseInMs ?? 1000;
          const wait = Math.min(this.options.backoffMaxInMs ?? 30_000, base * 2 ** Math.min(failures - 1, 10));
          try {
            await sleep(wait, abortSignal);
          } catch {
            return;
          }
        }
      }
    }
  }

  /** 410 on resume: list now, and report what changed since the cache (or, uncached, what is newer). */
  private async relist(onEvent: (event: ReflectorEvent) => Promise<void> | void, abortSignal: AbortSignal): Promise<void> {
    this.stats.relists++;
    const from = this.resourceVersion;
    const fresh = new Map<string, KubeListItem>();
    for (;;) {
      try {
        await this.listInto(fresh, {}, abortSignal);
        break;
      } catch (error) {
        if (abortSignal.aborted || isAbortError(error)) return;
        if (!classifyForRetry(error).retryable) {
          await onEvent({
            type: 'FAILED',
            detail: `${this.resource.key}: relist after 410 failed: ${describeKubeError(error)}`,
            ...(error instanceof KubeApiError ? { status: error.status } : {}),
          });
          return;
        }
        try {
          await sleep(this.options.backoffBaseInMs ?? 1000, abortSignal);
        } catch {
          return;
        }
      }
    }
    await onEvent({
      type: 'GAP',
      fromResourceVersion: from,
      toResourceVersion: this.resourceVersion,
      detail: `${this.resource.key}: the watch could not resume from resourceVersion ${from ?? '(none)'} (410 Gone: compacted); relisted at ${this.resourceVersion ?? '?'}: changes in between are reported from the current state only, intermediate states are lost`,
    });
    if (this.resource.cache) {
      for (const [key, object] of fresh) {
        const previous = this.cache.get(key);
        if (!previous) await onEvent({ type: 'ADDED', object, relisted: true });
        else if (previous.metadata?.resourceVersion !== object.metadata?.resourceVersion) await onEvent({ type: 'MODIFIED', object, previous, relisted: true });
      }
      for (const [key, previous] of this.cache) if (!fresh.has(key)) await onEvent({ type: 'DELETED', object: previous, previous, relisted: true });
      this.cache.clear();
      for (const [key, object] of fresh) this.cache.set(key, object);
    } else {
      // Uncached (events): what the relist shows newer than the resume point is new to us.
      const since = from !== undefined && /^\d+$/.test(from) ? BigInt(from) : undefined;
      for (const object of fresh.values()) {
        const rv = object.metadata?.resourceVersion;
        if (since === undefined || (typeof rv === 'string' && /^\d+$/.test(rv) && BigInt(rv) > since)) await onEvent({ type: 'ADDED', object, relisted: true });
      }
    }
  }

  /** List into `into` (undefined: one item only, for the resourceVersion), setting resourceVersion. */
  private async listInto(into: Map<string, KubeListItem> | undefined, at: { resourceVersion?: string; resourceVersionMatch?: 'Exact' }, abortSignal?: AbortSignal): Promise<void> {
    let listRv: string | undefined;
    this.stats.lists++;
    for await (const object of listAll(this.api, this.resource.path, {
      limit: into ? (this.options.pageSize ?? 500) : 1,
      ...at,
      ...(abortSignal ? { abortSignal } : {}),
      countRequest: () => this.options.countRequest?.('list'),
      onPage: (page) => {
        if (page.first && page.resourceVersion) listRv = page.resourceVersion;
      },
    })) {
      if (!into) break;
      if (this.options.accepts && !this.options.accepts(object)) continue;
      into.set(identity(object), object);
    }
    this.resourceVersion = listRv ?? at.resourceVersion ?? this.resourceVersion;
  }
}

function identity(item: KubeListItem): string {
  const m = item.metadata ?? {};
  return m.uid ?? `${m.namespace ?? ''}/${m.name ?? ''}`;
}
