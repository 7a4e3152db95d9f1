/**
 * Watch and scripted changes, through client-node's own Watch: initial ADDED events, changes
 * as they happen (a pod deleted, a container restarted with its log moved to `previous`, events
 * emitted, a RoleBinding edited), resume from a resourceVersion, bookmarks, 410 as an ERROR event,
 * dropped connections resumed without loss, and a scenario timeline.
 */
import { CoreV1Api, Log, Watch, type KubeConfig } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import type { FixtureCluster, FixtureOptions, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

interface Seen {
  type: string;
  name: string;
  rv: string;
  obj: Record<string, any>;
}

/** A watch that records events; `until` resolves once the predicate holds for the events so far. */
async function watch(kc: KubeConfig, path: string, query: Record<string, string | number | boolean | undefined> = {}) {
  const events: Seen[] = [];
  const waiters: { pred: (e: Seen[]) => boolean; resolve: () => void }[] = [];
  let ended: ((err: unknown) => void) | undefined;
  const endedP = new Promise<unknown>((r) => (ended = r));
  const check = (): void => {
    for (const w of [...waiters])
      if (w.pred(events)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
  };
  const ac = await new Watch(kc).watch(
    path,
    query,
    (type, obj: Record<string, any>) => {
      events.push({ type, name: obj?.metadata?.name ?? '', rv: obj?.metadata?.resourceVersion ?? '', obj });
      check();
    },
    (err) => ended!(err ?? null),
  );
  return {
    events,
    ended: endedP,
    abort: () => ac.abort(),
    until: (pred: (e: Seen[]) => boolean) =>
      new Promise<void>((resolve) => {
        waiters.push({ pred, resolve });
        check();
      }),
  };
}

function pod(name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'a', creationTimestamp: '2026-03-01T08:00:00Z', uid: `uid-${name}` },
    spec: { containers: [{ name: 'c' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', restartCount: 0, state: { running: { startedAt: '2026-03-01T09:00:00Z' } } }] },
  };
}

function scenario(): Scenario {
  return {
    name: 'watch',
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      pod('p1'),
      pod('p2'),
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'readers', namespace: 'a' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'secret-reader' },
        subjects: [],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'secret-reader' },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }],
      },
    ],
    logs: { 'a/p1/c': { current: [{ time: '2026-03-01T10:00:00Z', message: 'first instance' }] } },
  };
}

async function readLog(kc: KubeConfig, name: string, previous: boolean): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const done = new Promise((r) => out.on('finish', r));
  await new Log(kc).log('a', name, 'c', out, { previous });
  await done;
  return text;
}

async function start(s: Scenario = scenario(), options: FixtureOptions = {}): Promise<{ cluster: FixtureCluster; kc: KubeConfig }> {
  const cluster = await startFixtureCluster(s, options);
  return { cluster, kc: fixtureKubeConfig(cluster) };
}

describe('watch', () => {
  test('initial ADDED, then a deletion (terminating, then DELETED) and a restart as they happen', async () => {
    const { cluster, kc } = await start();
    const w = await watch(kc, '/api/v1/namespaces/a/pods');
    try {
      await w.until((e) => e.length === 2);
      expect(w.events.map((e) => [e.type, e.name])).toEqual([
        ['ADDED', 'p1'],
        ['ADDED', 'p2'],
      ]);
      expect(w.events[0]!.obj['kind']).toBe('Pod');

      cluster.changes.restartContainer('a', 'p1', 'c', { exitCode: 137, reason: 'OOMKilled', newLines: [{ time: '2026-03-01T11:00:00Z', message: 'second instance' }] });
      await w.until((e) => e.length === 3);
      const restarted = w.events[2]!;
      expect(restarted.type).toBe('MODIFIED');
      expect(restarted.obj['status'].containerStatuses[0]).toMatchObject({ restartCount: 1, lastState: { terminated: { exitCode: 137, reason: 'OOMKilled' } } });
      expect(await readLog(kc, 'p1', true)).toBe('first instance\n');
      expect(await readLog(kc, 'p1', false)).toBe('second instance\n');

      cluster.changes.deletePod('a', 'p2');
      await w.until((e) => e.some((x) => x.type === 'DELETED'));
      expect(w.events.slice(3).map((e) => [e.type, e.name, Boolean(e.obj['metadata'].deletionTimestamp)])).toEqual([
        ['MODIFIED', 'p2', true],
        ['DELETED', 'p2', true],
      ]);
      const rvs = w.events.slice(2).map((e) => Number(e.rv));
      expect([...rvs].sort((a, b) => a - b)).toEqual(rvs);
      await expect(readLog(kc, 'p2', false)).rejects.toMatchObject({ code: 404 });
    } finally {
      w.abort();
      await cluster.stop();
    }
  });

  test('a pod deleted with a grace period keeps serving its logs until it is gone (forced here)', async () => {
    const { cluster, kc } = await start();
    const w = await watch(kc, '/api/v1/namespaces/a/pods', {
      resourceVersion: (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'a' })).metadata!.resourceVersion,
    });
    try {
      cluster.changes.deletePod('a', 'p1', { graceMs: 600_000 });
      await w.until((e) => e.some((x) => x.type === 'MODIFIED'));
      expect(await readLog(kc, 'p1', false)).toBe('first instance\n');
      // Forced: the terminating pod goes at once.
      cluster.changes.deletePod('a', 'p1');
      await w.until((e) => e.some((x) => x.type === 'DELETED'));
      await expect(readLog(kc, 'p1', false)).rejects.toMatchObject({ code: 404 });
    } finally {
      w.abort();
      await cluster.stop();
    }
  });

  test('resume from a resourceVersion replays every change after it; a compacted one is an ERROR event with 410', async () => {
    let now = Date.parse('2026-03-01T12:00:00Z');
    const { cluster, kc } = await start(scenario(), { now: () => new Date(now), historyWindowMs: 60_000 });
    try {
      const list = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: 'a' });
      const rv = list.metadata!.resourceVersion!;
      cluster.changes.emitEvent({ namespace: 'a', involvedObject: { kind: 'Pod', name: 'p1' }, reason: 'Pulled', message: 'image pulled' });
      cluster.changes.deletePod('a', 'p2');
      const w = await watch(kc, '/api/v1/namespaces/a/pods', { resourceVersion: rv });
      await w.until((e) => e.length === 2);
      expect(w.events.map((e) => [e.type, e.name])).toEqual([
        ['MODIFIED', 'p2'],
        ['DELETED', 'p2'],
      ]);
      w.abort();

      const ev = await watch(kc, '/api/v1/events', { resourceVersion: rv });
      await ev.until((e) => e.length === 1);
      expect(ev.events[0]).toMatchObject({ type: 'ADDED', obj: { reason: 'Pulled', involvedObject: { name: 'p1', uid: 'uid-p1' } } });
      ev.abort();

      now += 120_000;
      await kc.makeApiClient(CoreV1Api).listNamespace(); // any request lets the server compact
      const old = await watch(kc, '/api/v1/namespaces/a/pods', { resourceVersion: rv });
      await old.until((e) => e.length === 1);
      expect(old.events[0]).toMatchObject({ type: 'ERROR', obj: { kind: 'Status', code: 410, reason: 'Expired' } });
      expect(old.events[0]!.obj['message']).toMatch(/^too old resource version: \d+ \(\d+\)$/);
      await old.ended;
    } finally {
      await cluster.stop();
    }
  });

  test('bookmarks on demand carry the current resourceVersion; a dropped watch resumes from its last one without loss', async () => {
    const { cluster, kc } = await start(scenario(), { watchBookmarkIntervalMs: 0 });
    try {
      const w = await watch(kc, '/api/v1/namespaces/a/pods', { allowWatchBookmarks: true });
      await w.until((e) => e.length === 2);
      cluster.changes.emitEvent({ namespace: 'a', involvedObject: { kind: 'Pod', name: 'p1' }, reason: 'X', message: 'moves the resourceVersion' });
      cluster.watches.bookmark();
      await w.until((e) => e.some((x) => x.type === 'BOOKMARK'));
      const bookmark = w.events.find((e) => e.type === 'BOOKMARK')!;
      expect(bookmark.obj).toMatchObject({ kind: 'Pod', apiVersion: 'v1' });
      const lastRv = bookmark.rv;

      expect(cluster.watches.count()).toBe(1);
      expect(cluster.watches.drop('/pods')).toBe(1);
      await w.ended;
      // While nobody watches, the cluster changes.
      cluster.changes.restartContainer('a', 'p2', 'c');
      cluster.changes.deletePod('a', 'p1');
      const resumed = await watch(kc, '/api/v1/namespaces/a/pods', { resourceVersion: lastRv, allowWatchBookmarks: true });
      await resumed.until((e) => e.filter((x) => x.type !== 'BOOKMARK').length === 3);
      expect(resumed.events.map((e) => [e.type, e.name])).toEqual([
        ['MODIFIED', 'p2'],
        ['MODIFIED', 'p1'],
        ['DELETED', 'p1'],
      ]);
      resumed.abort();
    } finally {
      await cluster.stop();
    }
  });

  test('a watch stream cut by a fault after N events', async () => {
    const { cluster, kc } = await start(scenario(), { faults: [{ match: 'GET /api/v1/namespaces/a/pods', query: 'watch=', effect: 'cut', afterLines: 1, times: 1 }] });
    try {
      const w = await watch(kc, '/api/v1/namespaces/a/pods');
      await w.ended;
      expect(w.events.map((e) => e.name)).toEqual(['p1']);
    } finally {
      await cluster.stop();
    }
  });
});

describe('scripted changes', () => {
  test('a scenario timeline runs by itself after the start: an event, a RoleBinding edit that changes what the collector may do', async () => {
    const s = scenario();
    s.collector = { access: 'rbac' };
    s.timeline = [
      {
        afterMs: 20,
        action: 'emitEvent',
        event: { namespace: 'a', involvedObject: { kind: 'Pod', name: 'p1' }, reason: 'Exec', message: 'kubectl exec by attacker', type: 'Warning' },
      },
      {
        afterMs: 40,
        action: 'addSubject',
        kind: 'RoleBinding',
        namespace: 'a',
        name: 'readers',
        subject: { kind: 'ServiceAccount', name: 'collector', namespace: 'aks-evidence' },
      },
    ];
    const { cluster, kc } = await start(s);
    try {
      const core = kc.makeApiClient(CoreV1Api);
      const before = await core.listNamespacedSecret({ namespace: 'a' }).catch((e: { code: number }) => e.code);
      const admin = fixtureKubeConfig({ kubeconfigYaml: await cluster.kubeconfigFor('masterclient', ['system:masters'], 'certificate') });
      const w = await watch(admin, '/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings');
      await w.until((e) => e.some((x) => (x.obj['subjects'] ?? []).length > 0));
      expect(w.events.at(-1)!.obj['subjects']).toEqual([{ kind: 'ServiceAccount', name: 'collector', namespace: 'aks-evidence' }]);
      w.abort();
      // Either the edit came before the first try (then both succeed) or after (then 403 → 200): authorization follows the objects.
      expect([403, 'ok']).toContain(typeof before === 'number' ? before : 'ok');
      expect((await core.listNamespacedSecret({ namespace: 'a' })).items).toEqual([]);
      expect(cluster.scenario.objects.some((o) => o.kind === 'Event' && o['reason'] === 'Exec')).toBe(true);
      expect(cluster.timelineErrors).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });

  test('watching needs the watch verb', async () => {
    const s = scenario();
    s.forbidden = [];
    s.collector = { access: 'rbac' };
    const { cluster, kc } = await start(s);
    try {
      const w = await watch(kc, '/api/v1/namespaces/a/pods');
      const err = (await w.ended) as { message?: string; statusCode?: number } | null;
      expect(String(err?.message ?? err)).toMatch(/403|Forbidden/);
    } finally {
      await cluster.stop();
    }
  });
});
