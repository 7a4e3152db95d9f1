import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { KubeConfig } from '@kubernetes/client-node';
import { describeKubeError, gapReasonFor, KubeApi, KubeApiError } from '../../shared/cluster/kubeApi.js';
import { loadKubeConfig } from '../../shared/cluster/kubeConfig.js';
import { listAll } from '../../shared/cluster/paginate.js';
import { RetriesExhaustedError } from '../../shared/cluster/retry.js';
import type { KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster, fixtureKubeConfig } from '../../shared/simulator/kube/server.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';

function scenario(n: number): Scenario {
  const objects: KubeObject[] = [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } }];
  for (let i = 0; i < n; i++) objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `cm-${String(i).padStart(3, '0')}`, namespace: 'a' }, data: { i: String(i) } });
  return { name: 'api', objects };
}

describe('KubeApi', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  beforeEach(async () => {
    cluster = await startFixtureCluster(scenario(7), { maxPageSize: 3 });
    kc = fixtureKubeConfig(cluster);
  });
  afterEach(async () => {
    await cluster.stop();
  });

  test('one keep-alive connection pool per cluster: sequential requests reuse one TLS connection', async () => {
    const sockets: unknown[] = [];
    const onSocket = (message: unknown): void => {
      sockets.push(message);
    };
    subscribe('net.client.socket', onSocket);
    try {
      const api = new KubeApi(kc);
      for (let i = 0; i < 5; i++) await api.getJson('/api/v1/namespaces');
      expect(sockets).toHaveLength(1);
      expect(KubeApi.for(kc)).toBe(KubeApi.for(kc));
      await api.close();
    } finally {
      unsubscribe('net.client.socket', onSocket);
    }
  });

  test('lists page by page with the kind restored on items, counting requests', async () => {
    let requests = 0;
    const pages: number[] = [];
    const names: string[] = [];
    for await (const item of listAll(KubeApi.for(kc), '/api/v1/namespaces/a/configmaps', { limit: 500, countRequest: () => requests++, onPage: (p) => pages.push(p.items) })) {
      expect(item.apiVersion).toBe('v1');
      expect(item.kind).toBe('ConfigMap');
      names.push(String(item.metadata?.name));
    }
    expect(names).toEqual(['cm-000', 'cm-001', 'cm-002', 'cm-003', 'cm-004', 'cm-005', 'cm-006']);
    expect(pages).toEqual([3, 3, 1]);
    expect(requests).toBe(3);
    expect(cluster.requestLog.filter((r) => r.path.endsWith('/configmaps')).map((r) => new URLSearchParams(r.query).get('limit'))).toEqual(['500', '500', '500']);
  });

  test('a dropped connection is retried', async () => {
    cluster.faults.push({ match: 'GET /api/v1/namespaces/a/configmaps', status: 'drop', times: 1 });
    const list = await KubeApi.for(kc).getJson<{ items: unknown[] }>('/api/v1/namespaces/a/configmaps', { limit: 100 }, { retry: { baseDelayInMs: 1 } });
    expect(list.items).toHaveLength(3);
  });

  test('errors carry the status and the Status reason, map to gap reasons, and never the token', async () => {
    const api = KubeApi.for(kc);
    const notFound = await api.getJson('/api/v1/namespaces/a/configmaps/none').catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(KubeApiError);
    expect(notFound).toMatchObject({ status: 404, reason: 'NotFound', code: 'ERR_KUBE_API' });
    expect(gapReasonFor(notFound)).toBe('not-found');
    expect(describeKubeError(notFound)).toBe('GET /api/v1/namespaces/a/configmaps/none: HTTP 404 NotFound: configmaps "none" not found');

    const bad = loadKubeConfig({ kubeconfigYaml: cluster.kubeconfigYaml.replace(cluster.token, 'wrong-token') });
    const unauthorized = await new KubeApi(bad).getJson('/api/v1/namespaces').catch((e: unknown) => e);
    expect(gapReasonFor(unauthorized)).toBe('unauthorized');
    expect(JSON.stringify({ m: (unauthorized as Error).message, s: describeKubeError(unauthorized) })).not.toContain('wrong-token');

    cluster.faults.push({ match: 'GET /api/v1/namespaces', status: 500 });
    const exhausted = await api.getJson('/api/v1/namespaces', undefined, { retry: { maxAttempts: 2, baseDelayInMs: 1 } }).catch((e: unknown) => e);
    expect(exhausted).toBeInstanceOf(RetriesExhaustedError);
    expect(gapReasonFor(exhausted)).toBe('retries-exhausted');
    expect(describeKubeError(exhausted)).toMatch(/HTTP 500 InternalError.*\(gave up after 2 attempts\)$/);
  });

  test('410 beyond the relist budget is thrown with the server continue token', async () => {
    let now = Date.parse('2026-03-01T00:00:00Z');
    const c2 = await startFixtureCluster(scenario(7), { maxPageSize: 3, continueTokenTtlMs: 10, now: () => new Date(now) });
    try {
      const api = KubeApi.for(fixtureKubeConfig(c2));
      const seen: string[] = [];
      const error = await (async () => {
        for await (const item of listAll(api, '/api/v1/namespaces/a/configmaps', { maxRelists: 0 })) {
          seen.push(String(item.metadata?.name));
          now += 1000;
        }
      })().catch((e: unknown) => e);
      expect(seen).toEqual(['cm-000', 'cm-001', 'cm-002']);
      expect(error).toMatchObject({ status: 410, reason: 'Expired' });
      expect((error as KubeApiError).continueToken).toEqual(expect.any(String));
      expect(gapReasonFor(error)).toBe('expired-continue');
    } finally {
      await c2.stop();
    }
  });

  test('an aborted request rejects with the abort reason; a request over its time limit is a timeout', async () => {
    const slow = await startFixtureCluster(scenario(1), { latencyMs: 2000 });
    try {
      const controller = new AbortController();
      const pending = KubeApi.for(fixtureKubeConfig(slow)).getJson('/api/v1/namespaces', undefined, { abortSignal: controller.signal });
      setTimeout(() => controller.abort(new Error('budget spent')), 20);
      await expect(pending).rejects.toThrow('budget spent');
      // Our own per-request limit is an expected failure (a timeout gap), not an abort of the run.
      const late = await KubeApi.for(fixtureKubeConfig(slow))
        .getJson('/api/v1/namespaces', undefined, { timeoutInMs: 50 })
        .catch((e: unknown) => e);
      expect(late).toBeInstanceOf(KubeApiError);
      expect((late as Error).message).toBe('GET /api/v1/namespaces: no complete answer within 50 ms');
      expect(gapReasonFor(late)).toBe('timeout');
    } finally {
      await slow.stop();
    }
  });
});
