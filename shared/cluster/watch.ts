import type { Readable } from 'node:stream';
import { AksEvidenceError } from '../util/errors.js';
import { LineSplitter } from '../util/lines.js';
import { KubeApiError, type KubeApi, type QueryValue } from './kubeApi.js';
import type { KubeListItem } from './paginate.js';
import { abortReason } from './retry.js';

/**
 * One Kubernetes watch request (`?watch=1`) on the KubeApi's pooled connection, read as the API
 * server writes it: one JSON event per line — ADDED / MODIFIED / DELETED / BOOKMARK, or ERROR
 * carrying a Status (410 Expired when the resourceVersion asked for was compacted).
 *
 * Built on KubeApi's public surface (openStreamOnce, the same authenticated GET every log
 * stream uses) and the one line splitter, so changes to the transport (auth, budgets) apply to
 * watches too. Why not client-node's Watch: it hides the body behind callbacks with no way to
 * tell a server's normal end (timeoutSeconds) from a cut connection, and it loses resourceVersion
 * bookkeeping to the caller anyway. List-then-watch, resume and relist live in reflector.ts.
 */

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK';

export interface WatchEvent {
  type: WatchEventType;
  /** The object as served (a bookmark carries only kind, apiVersion and metadata.resourceVersion). */
  object: KubeListItem;
}

export interface WatchOptions {
  /** Resume after this resourceVersion (exclusive). Absent: the server starts with ADDED for every current object. */
  resourceVersion?: string;
  /** Ask for BOOKMARK events (default true): they move the resume point while nothing changes. */
  allowWatchBookmarks?: boolean;
  /** The server ends the stream after this many seconds (normal end, resumed by the caller). Default 290. */
  timeoutSeconds?: number;
  labelSelector?: string;
  fieldSelector?: string;
  abortSignal?: AbortSignal;
  countRequest?: () => void;
  /**
   * Longest silence of the stream, in ms, before it counts as stalled (a half-open connection a
   * load balancer forgot): it is then ended as interrupted. Default: timeoutSeconds + 60 s (the
   * server ends the stream at timeoutSeconds, with a bookmark first when allowed).
   */
  idleTimeoutInMs?: number;
}

/** The resourceVersion asked for is older than the server keeps (410 Expired): the caller must relist. */
export class WatchExpiredError extends AksEvidenceError {
  override name = 'WatchExpiredError';
  constructor(
    readonly path: string,
    readonly resourceVersion: string | undefined,
    detail: string,
  ) {
    super('ERR_WATCH_EXPIRED', `watch ${path} from resourceVersion ${resourceVersion ?? '(none)'} expired: ${detail}`);
  }
}

/** The watch stream broke off (connection cut, reset, stalled): resume from the last resourceVersion seen. */
export class WatchInterruptedError extends AksEvidenceError {
  override name = 'WatchInterruptedError';
  constructor(
    readonly path: string,
    readonly events: number,
    cause: unknown,
  ) {
    super('ERR_WATCH_INTERRUPTED', `watch ${path} interrupted after ${events} event(s): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

/**
 * Stream the events of one watch request. Returns normally when the server ends the stream
 * (timeoutSeconds); throws WatchExpiredError (410), KubeApiError (any other refusal before the
 * body), WatchInterruptedError (the body broke or stalled), or the caller's abort reason.
 */
export async function* watchEvents(api: KubeApi, path: string, options: WatchOptions = {}): AsyncGenerator<WatchEvent> {
  const timeoutSeconds = options.timeoutSeconds ?? 290;
  const query: Record<string, QueryValue> = {
    watch: 1,
    allowWatchBookmarks: options.allowWatchBookmarks ?? true,
    timeoutSeconds,
    resourceVersion: options.resourceVersion,
    labelSelector: options.labelSelector,
    fieldSelector: options.fieldSelector,
  };
  const idle = new IdleTimer(options.idleTimeoutInMs ?? (timeoutSeconds + 60) * 1000, options.abortSignal);
  let body: Readable;
  try {
    body = await api.openStreamOnce(path, query, { abortSignal: idle.signal, ...(options.countRequest ? { countRequest: options.countRequest } : {}) });
  } catch (error) {
    idle.stop();
    if (options.abortSignal?.aborted) throw abortReason(options.abortSignal);
    if (idle.fired) throw new WatchInterruptedError(path, 0, new Error('no answer before the idle time-out'));
    if (error instanceof KubeApiError && error.status === 410) throw new WatchExpiredError(path, options.resourceVersion, error.message);
    throw error;
  }
  const splitter = new LineSplitter();
  let events = 0;
  const parse = (line: string): WatchEvent | undefined => {
    if (line.trim() === '') return undefined;
    let doc: { type?: unknown; object?: unknown };
    try {
      doc = JSON.parse(line) as { type?: unknown; object?: unknown };
    } catch (error) {
      throw new WatchInterruptedError(path, events, new Error(`unreadable watch event (${line.length} characters): ${(error as Error).message}`));
    }
    const object = (doc.object ?? {}) as KubeListItem & { code?: unknown; message?: unknown; reason?: unknown };
    if (doc.type === 'ERROR') {
      const code = typeof object.code === 'number' ? object.code : 0;
      const message = typeof object.message === 'string' ? object.message : 'ERROR event';
      if (code === 410) throw new WatchExpiredError(path, options.resourceVersion, message);
      throw new KubeApiError({
        status: code,
        path,
        message: `watch ${path}: ERROR event ${code}: ${message.slice(0, 500)}`,
        ...(typeof object.reason === 'string' ? { reason: object.reason } : {}),
      });
    }
    if (doc.type !== 'ADDED' && doc.type !== 'MODIFIED' && doc.type !== 'DELETED' && doc.type !== 'BOOKMARK') {
      throw new WatchInterruptedError(path, events, new Error(`unknown watch event type ${JSON.stringify(doc.type)}`));
    }
    events++;
    return { type: doc.type, object };
  };
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      idle.touch();
      for (const line of splitter.push(chunk)) {
        const event = parse(line);
        if (event) yield event;
      }
    }
    const last = splitter.end();
    if (last !== undefined) {
      const event = parse(last);
      if (event) yield event;
    }
  } catch (error) {
    body.destroy();
    if (options.abortSignal?.aborted) throw abortReason(options.abortSignal);
    if (error instanceof WatchExpiredError || error instanceof WatchInterruptedError || error instanceof KubeApiError) throw error;
    throw new WatchInterruptedError(path, events, idle.fired ? new Error(`no data for ${idle.ms} ms (stalled)`) : error);
  } finally {
    idle.stop();
    // A consumer that stopped early (return()) leaves the body unread: release the connection.
    if (!body.readableEnded) body.destroy();
  }
}

/** Aborts the request when the stream is silent too long; follows the caller's signal. */
class IdleTimer {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private last = performance.now();
  private readonly follow: (() => void) | undefined;
  fired = false;

  constructor(
    readonly ms: number,
    private readonly parent: AbortSignal | undefined,
  ) {
    this.timer = setTimeout(this.check, ms);
    this.timer.unref?.();
    if (parent?.aborted) this.controller.abort(parent.reason);
    else if (parent) {
      this.follow = () => this.controller.abort(parent.reason);
      parent.addEventListener('abort', this.follow, { once: true });
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    this.last = performance.now();
  }

  private readonly check = (): void => {
    if (performance.now() - this.last < this.ms) {
      this.timer.refresh();
      return;
    }
    this.fired = true;
    this.controller.abort(new Error(`watch stalled: no data for ${this.ms} ms`));
  };

  stop(): void {
    clearTimeout(this.timer);
    if (this.follow) this.parent?.removeEventListener('abort', this.follow);
  }
}
