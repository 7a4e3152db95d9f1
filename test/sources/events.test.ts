import { eventsSource } from '../../shared/sources/events/source.js';
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { collect, context, namespace, startCluster } from './helpers.js';

function event(ns: string, name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace: ns, creationTimestamp: '2026-03-01T10:00:00Z' },
    involvedObject: { kind: 'Pod', namespace: ns, name: `pod-of-${name}`, uid: `uid-${name}` },
    reason: 'Started',
    message: `message of ${name}`,
    type: 'Normal',
    firstTimestamp: '2026-03-01T10:00:01Z',
    lastTimestamp: '2026-03-01T10:00:05Z',
    count: 3,
    source: { component: 'kubelet', host: 'aks-node-1' },
    ...extra,
  };
}

function scenario(count: number): Scenario {
  const objects: KubeObject[] = [namespace('default'), namespace('kube-system'), namespace('prod')];
  for (let i = 0; i < count; i++) objects.push(event(['default', 'kube-system', 'prod'][i % 3]!, `ev-${String(i).padStart(3, '0')}`));
  return { name: 'events', objects };
}

describe('events source', () => {
  test('lists every event of every namespace, page by page, with all columns', async () => {
    const { cluster, kc } = await startCluster(scenario(23), { maxPageSize: 5 });
    try {
      const out = await collect(eventsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.rows).toHaveLength(23);
      expect(out.raws).toHaveLength(23);
      expect(new Set(out.rows.map((r) => r['name'])).size).toBe(23);
      // 23 items at 5 per page = 5 pages, nothing else.
      expect(cluster.requestLog.filter((r) => r.path === '/api/v1/events')).toHaveLength(5);
      expect(out.requests).toBe(5);
      const row = out.rows.find((r) => r['name'] === 'ev-004')!;
      expect(row).toEqual({
        TimeGenerated: '2026-03-01T10:00:05.000Z',
        action: '',
        first_timestamp: '2026-03-01T10:00:01.000Z',
        involved_object_name: 'pod-of-ev-004',
        involved_object_uid: 'uid-ev-004',
        last_timestamp: '2026-03-01T10:00:05.000Z',
        message: 'message of ev-004',
        reason: 'Started',
        reporting_component: 'kubelet',
        event_type: 'Normal',
        namespace: 'kube-system',
        name: 'ev-004',
        involved_object_kind: 'Pod',
        involved_object_namespace: 'kube-system',
        reporting_instance: 'aks-node-1',
        count: 3,
      });
      // Raw objects are kept as served, with the kind the list items lack restored.
      expect(out.raws[0]!.object).toMatchObject({ apiVersion: 'v1', kind: 'Event' });
    } finally {
      await cluster.stop();
    }
  });

  test('falls back to eventTime and creationTimestamp for events.k8s.io-style events', async () => {
    const ev = event('default', 'new-style', {
      firstTimestamp: null,
      lastTimestamp: null,
      count: undefined,
      eventTime: '2026-03-01T11:00:00.123456Z',
      series: { count: 7, lastObservedTime: '2026-03-01T11:30:00.000000Z' },
      reportingComponent: 'scheduler',
      reportingInstance: 'scheduler-1',
      action: 'Binding',
      source: {},
    });
    const old = event('default', 'only-created', { firstTimestamp: null, lastTimestamp: null, count: undefined });
    const { cluster, kc } = await startCluster({ name: 'e', objects: [namespace('default'), ev, old] });
    try {
      const out = await collect(eventsSource, context(kc));
      const a = out.rows.find((r) => r['name'] === 'new-style')!;
      expect(a['TimeGenerated']).toBe('2026-03-01T11:00:00.123Z');
      expect(a['first_timestamp']).toBe('2026-03-01T11:00:00.123Z');
      expect(a['last_timestamp']).toBe('2026-03-01T11:30:00.000Z');
      expect(a['count']).toBe(7);
      expect(a['action']).toBe('Binding');
      expect(a['reporting_component']).toBe('scheduler');
      expect(a['reporting_instance']).toBe('scheduler-1');
      const b = out.rows.find((r) => r['name'] === 'only-created')!;
      expect(b['TimeGenerated']).toBe('2026-03-01T10:00:00.000Z');
      expect(b['count']).toBe(1);
    } finally {
      await cluster.stop();
    }
  });

  test('honours the namespace filter: include lists namespace by namespace, exclude wins', async () => {
    const { cluster, kc } = await startCluster(scenario(30), { maxPageSize: 4 });
    try {
      const out = await collect(eventsSource, context(kc, { namespaces: { include: ['prod', 'default'], exclude: ['default'] } }));
      expect(out.rows).toHaveLength(10);
      expect(new Set(out.rows.map((r) => r['namespace']))).toEqual(new Set(['prod']));
      expect(cluster.requestLog.every((r) => r.path !== '/api/v1/events')).toBe(true);
      expect(cluster.requestLog.some((r) => r.path === '/api/v1/namespaces/prod/events')).toBe(true);

      const all = await collect(eventsSource, context(kc, { namespaces: { exclude: ['kube-system'] } }));
      expect(all.rows).toHaveLength(20);
      expect(all.rows.some((r) => r['namespace'] === 'kube-system')).toBe(false);
    } finally {
      await cluster.stop();
    }
  });

  test('403 becomes a forbidden gap, not a thrown error', async () => {
    const s = scenario(3);
    s.forbidden = ['events'];
    const { cluster, kc } = await startCluster(s);
    try {
      const out = await collect(eventsSource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps).toHaveLength(1);
      expect(out.gaps[0]).toMatchObject({ source: 'events', reason: 'forbidden', resource: 'events' });
      expect(out.gaps[0]!.detail).toContain('cannot list resource "events"');
    } finally {
      await cluster.stop();
    }
  });

  test('429 with Retry-After and 500 are retried; counts stay exact', async () => {
    const { cluster, kc } = await startCluster(scenario(12), {
      maxPageSize: 5,
      faults: [
        { match: 'GET /api/v1/events', status: 429, times: 1, retryAfterSeconds: 1 },
        { match: 'GET /api/v1/events', status: 500, times: 2 },
      ],
    });
    try {
      const started = Date.now();
      const out = await collect(eventsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.rows).toHaveLength(12);
      expect(new Set(out.rows.map((r) => r['name'])).size).toBe(12);
      const statuses = cluster.requestLog.filter((r) => r.path === '/api/v1/events').map((r) => r.status);
      expect(statuses).toEqual([429, 500, 500, 200, 200, 200]);
      expect(out.requests).toBe(6);
      // Retry-After: 1 was honoured (the wait is the server's, not a test threshold).
      expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    } finally {
      await cluster.stop();
    }
  });

  test('persistent 5xx ends in a retries-exhausted gap', async () => {
    const { cluster, kc } = await startCluster(scenario(3), { faults: [{ match: 'GET /api/v1/events', status: 503 }] });
    try {
      const out = await collect(eventsSource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps).toHaveLength(1);
      expect(out.gaps[0]).toMatchObject({ reason: 'retries-exhausted' });
      expect(out.gaps[0]!.detail).toMatch(/gave up after 5 attempts/);
      expect(cluster.requestLog.filter((r) => r.path === '/api/v1/events')).toHaveLength(5);
    } finally {
      await cluster.stop();
    }
  });

  test('an expired continue token relists from scratch without duplicates', async () => {
    let now = Date.parse('2026-03-01T12:00:00Z');
    const { cluster, kc } = await startCluster(scenario(10), { maxPageSize: 4, continueTokenTtlMs: 1000, now: () => new Date(now) });
    try {
      const ctx = context(kc);
      const seen: string[] = [];
      const gen = eventsSource.collect(ctx)[Symbol.asyncIterator]();
      const coverage: unknown[] = [];
      for (;;) {
        const next = await gen.next();
        if (next.done) break;
        const item = next.value;
        if (item.kind === 'row') {
          seen.push(String(item.row['name']));
          // After the first page, let the token expire once.
          if (seen.length === 4) now += 5000;
        }
        if (item.kind === 'coverage') coverage.push(item.coverage);
        expect(item.kind).not.toBe('gap');
      }
      expect(seen).toHaveLength(10);
      expect(new Set(seen).size).toBe(10);
      expect(cluster.requestLog.filter((r) => r.path === '/api/v1/events').map((r) => r.status)).toEqual([200, 410, 200, 200, 200]);
      expect(coverage).toEqual([{ events: { relistsAfterExpiredContinue: [{ path: '/api/v1/events', relists: 1 }] } }]);
    } finally {
      await cluster.stop();
    }
  });
});
