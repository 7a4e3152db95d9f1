import { serviceAccountsSource } from '../../shared/sources/serviceaccounts/source.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';
import { collect, context, namespace, startCluster } from './helpers.js';

function sa(ns: string, name: string, extra: Record<string, unknown> = {}, annotations?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name, namespace: ns, creationTimestamp: '2026-02-01T00:00:00Z', ...(annotations ? { annotations } : {}) },
    ...extra,
  };
}

describe('service accounts source', () => {
  test('every namespace, paginated, with automount, pull secrets, secrets and workload identity', async () => {
    const objects: KubeObject[] = [namespace('a'), namespace('kube-system')];
    for (let i = 0; i < 9; i++) objects.push(sa(i % 2 ? 'a' : 'kube-system', `sa-${i}`));
    objects.push(
      sa(
        'a',
        'wi',
        { automountServiceAccountToken: false, imagePullSecrets: [{ name: 'acr' }], secrets: [{ name: 'wi-token' }] },
        { 'azure.workload.identity/client-id': '11111111-2222-3333-4444-555555555555' },
      ),
      sa('a', 'auto', { automountServiceAccountToken: true }),
    );
    const { cluster, kc } = await startCluster({ name: 'sa', objects }, { maxPageSize: 4 });
    try {
      const out = await collect(serviceAccountsSource, context(kc));
      expect(out.gaps).toEqual([]);
      expect(out.rows).toHaveLength(cluster.objectsOf('v1', 'ServiceAccount').length);
      expect(out.rows).toHaveLength(11);
      expect(out.raws).toHaveLength(11);
      const wi = out.rows.find((r) => r['name'] === 'wi')!;
      expect(wi).toEqual({
        TimeGenerated: '2026-02-01T00:00:00.000Z',
        namespace: 'a',
        name: 'wi',
        automount_service_account_token: 'false',
        image_pull_secrets: '["acr"]',
        secrets: '["wi-token"]',
        annotations: '{"azure.workload.identity/client-id":"11111111-2222-3333-4444-555555555555"}',
        workload_identity_client_id: '11111111-2222-3333-4444-555555555555',
        uid: expect.stringMatching(/^[0-9a-f-]{36}$/),
      });
      expect(out.rows.find((r) => r['name'] === 'auto')!['automount_service_account_token']).toBe('true');
      expect(out.rows.find((r) => r['name'] === 'sa-0')).toMatchObject({
        automount_service_account_token: 'unset',
        image_pull_secrets: '[]',
        secrets: '[]',
        annotations: '{}',
        workload_identity_client_id: '',
      });
      expect(cluster.requestLog.filter((r) => r.path === '/api/v1/serviceaccounts')).toHaveLength(3);
    } finally {
      await cluster.stop();
    }
  });

  test('403 is a gap', async () => {
    const { cluster, kc } = await startCluster({ name: 'sa', objects: [namespace('a'), sa('a', 'x')], forbidden: ['serviceaccounts'] });
    try {
      const out = await collect(serviceAccountsSource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps).toEqual([expect.objectContaining({ source: 'serviceaccounts', reason: 'forbidden', resource: 'serviceaccounts' })]);
    } finally {
      await cluster.stop();
    }
  });
});
