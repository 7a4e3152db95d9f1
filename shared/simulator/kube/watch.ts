/**
 * Watch like an etcd-backed API server: `?watch=1` on a list path answers 200 and streams one
 * JSON event per line — ADDED/MODIFIED/DELETED, BOOKMARK when allowWatchBookmarks=true, and an
 * ERROR event carrying a 410 Expired Status when the requested resourceVersion is older than
 * the kept history. resourceVersion unset or "0" starts with an ADDED event per existing
 * object; a number N replays every change after N. timeoutSeconds ends the stream (with a
 * bookmark first, when asked for). Connections can be dropped on demand.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { BodyLimit } from './faults.js';
import type { FaultRule, KubeObject } from './scenario.js';
import { objectMatches, type ObjectStore, type ServedResource, type StoreChange } from './store.js';

export interface WatchRequest {
  resource: ServedResource;
  namespace: string | undefined;
  query: URLSearchParams;
  /** The object as served at the watched group/version (apiVersion and kind set). */
  present: (obj: KubeObject) => KubeObject;
  /** A cut or stall to apply to the event stream (after N bytes or events). */
  fault?: FaultRule;
}

export interface ActiveWatch {
  path: string;
  /** Send a BOOKMARK now (when the client allowed them). */
  bookmark(): void;
  /** Close the connection abruptly, as a restarting API server or a load balancer does. */
  drop(): void;
}

export class WatchHub {
  readonly active = new Set<ActiveWatch>();

  constructor(
    private readonly store: ObjectStore,
    private readonly bookmarkIntervalMs: number,
  ) {}

  serve(req: IncomingMessage, res: ServerResponse, w: WatchRequest): void {
    const q = w.query;
    const labelSelector = q.get('labelSelector') ?? undefined;
    const fieldSelector = q.get('fieldSelector') ?? undefined;
    const bookmarks = q.get('allowWatchBookmarks') === 'true' || q.get('allowWatchBookmarks') === '1';
    const rvParam = q.get('resourceVersion') ?? '';
    const timeoutSeconds = q.get('timeoutSeconds');
    const bucket = w.resource.storeKey;
    const inScope = (o: KubeObject): boolean => (w.namespace === undefined || o.metadata.namespace === w.namespace) && objectMatches(o, labelSelector, fieldSelector);
    const path = new URL(req.url ?? '/', 'https://x').pathname;

    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const limit = w.fault ? new BodyLimit(w.fault) : undefined;
    let closed = false;
    let lastRv = Number(this.store.resourceVersion);
    const write = (event: unknown): void => {
      if (closed) return;
      const line = Buffer.from(`${JSON.stringify(event)}\n`);
      const out = limit ? limit.take(line) : line;
      if (out.length) res.write(out);
      if (limit?.stopped) {
        closed = true;
        if (w.fault!.effect === 'cut') res.write(Buffer.alloc(0), () => res.socket?.end());
      }
    };
    const send = (type: StoreChange['type'], obj: KubeObject): void => {
      lastRv = Math.max(lastRv, Number(obj.metadata['resourceVersion'] ?? 0));
      write({ type, object: w.present(obj) });
    };
    const bookmark = (): void => {
      if (!bookmarks) return;
      const kind = w.resource.kind;
      write({
        type: 'BOOKMARK',
        object: {
          kind,
          apiVersion: w.resource.group ? `${w.resource.group}/${w.resource.version}` : w.resource.version,
          metadata: { resourceVersion: String(Math.max(lastRv, Number(this.store.resourceVersion))) },
        },
      });
    };

    let unsubscribe = (): void => undefined;
    const timers: NodeJS.Timeout[] = [];
    const handle: ActiveWatch = {
      path,
      bookmark,
      drop: () => {
        closed = true;
        res.socket?.destroy();
      },
    };
    const finish = (): void => {
      unsubscribe();
      for (const t of timers) clearTimeout(t);
      this.active.delete(handle);
    };
    res.on('close', () => {
      closed = true;
      finish();
    });

    if (rvParam === '' || rvParam === '0') {
      for (const o of this.store.listAll(bucket)) if (inScope(o)) send('ADDED', o);
    } else {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < this.store.compactedRv) {
        write({
          type: 'ERROR',
          object: {
            kind: 'Status',
            apiVersion: 'v1',
            metadata: {},
            status: 'Failure',
            message: `too old resource version: ${rvParam} (${this.store.compactedRv})`,
            reason: 'Expired',
            code: 410,
          },
        });
        res.end();
        finish();
        return;
      }
      for (const c of this.store.changesSince(bucket, from)) if (inScope(c.object)) send(c.type, c.object);
    }
    // Same tick as the replay: no change can fall between history and live events.
    unsubscribe = this.store.subscribe((c) => {
      if (c.storeKey === bucket && inScope(c.object)) send(c.type, c.object);
    });
    this.active.add(handle);
    if (bookmarks && this.bookmarkIntervalMs > 0) {
      const tick = (): void => {
        bookmark();
        timers.push(setTimeout(tick, this.bookmarkIntervalMs).unref());
      };
      timers.push(setTimeout(tick, this.bookmarkIntervalMs).unref());
    }
    if (timeoutSeconds !== null && Number(timeoutSeconds) > 0) {
      timers.push(
        setTimeout(
          () => {
            bookmark();
            closed = true;
            res.end();
          },
          Number(timeoutSeconds) * 1000,
        ).unref(),
      );
    }
  }

  /** Drop every active watch (whose path contains `match`, when given). Returns how many. */
  drop(match?: string): number {
    let n = 0;
    for (const w of [...this.active]) {
      if (match !== undefined && !w.path.includes(match)) continue;
      w.drop();
      n++;
    }
    return n;
  }
}
