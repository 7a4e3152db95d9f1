import { rbacBindingsSource } from '../../shared/sources/rbacbindings/source.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';
import { collect, context, namespace, startCluster } from './helpers.js';

const RBAC = 'rbac.authorization.k8s.io/v1';

function binding(kind: 'RoleBinding' | 'ClusterRoleBinding', name: string, ns: string | undefined, roleRef: [string, string], subjects?: Record<string, unknown>[]): KubeObject {
  return {
    apiVersion: RBAC,
    kind,
    metadata: { name, ...(ns ? { namespace: ns } : {}), creationTimestamp: '2026-02-02T00:00:00Z' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: roleRef[0], name: roleRef[1] },
    ...(subjects ? { subjects } : {}),
  };
}

const objects: KubeObject[] = [
  namespace('app'),
  namespace('other'),
  binding(
    'RoleBinding',
    'readers',
    'app',
    ['Role', 'reader'],
    [
      { kind: 'ServiceAccount', name: 'web' },
      { kind: 'ServiceAccount', name: 'ci', namespace: 'build' },
      { kind: 'User', name: 'alice@example.com', apiGroup: 'rbac.authorization.k8s.io' },
    ],
  ),
  binding('RoleBinding', 'orphan', 'other', ['ClusterRole', 'view']),
  binding('ClusterRoleBinding', 'anon-admin', undefined, ['ClusterRole', 'cluster-admin'], [{ kind: 'User', name: 'system:anonymous', apiGroup: 'rbac.authorization.k8s.io' }]),
  binding(
    'ClusterRoleBinding',
    'sa-no-ns',
    undefined,
    ['ClusterRole', 'edit'],
    [
      { kind: 'ServiceAccount', name: 'lost' },
      { kind: 'Group', name: 'devs' },
    ],
  ),
];

describe('RBAC bindings source', () => {
  test('labels each binding as what it is, one row per subject, namespaces defaulted only where the API does', async () => {
    const { cluster, kc } = await startCluster({ name: 'rbac', objects }, { maxPageSize: 1 });
    try {
      const out = await collect(rbacBindingsSource, context(kc));
      expect(out.gaps).toEqual([]);
      const rows = out.rows.map((r) => [
        r['binding_type'],
        r['binding_name'],
        r['namespace'],
        r['subject_kind'],
        r['subject_name'],
        r['subject_namespace'],
        r['role_ref_kind'],
        r['role_ref_name'],
        r['detail'],
      ]);
      expect(rows).toEqual([
        ['RoleBinding', 'readers', 'app', 'ServiceAccount', 'web', 'app', 'Role', 'reader', 'subject namespace defaulted to the binding namespace'],
        ['RoleBinding', 'readers', 'app', 'ServiceAccount', 'ci', 'build', 'Role', 'reader', ''],
        ['RoleBinding', 'readers', 'app', 'User', 'alice@example.com', '', 'Role', 'reader', ''],
        ['RoleBinding', 'orphan', 'other', '', '', '', 'ClusterRole', 'view', 'binding has no subjects'],
        ['ClusterRoleBinding', 'anon-admin', '', 'User', 'system:anonymous', '', 'ClusterRole', 'cluster-admin', ''],
        ['ClusterRoleBinding', 'sa-no-ns', '', 'ServiceAccount', 'lost', '', 'ClusterRole', 'edit', expect.stringContaining('must name it')],
        ['ClusterRoleBinding', 'sa-no-ns', '', 'Group', 'devs', '', 'ClusterRole', 'edit', ''],
      ]);
      expect(out.raws.map((r) => (r.object as KubeObject).kind)).toEqual(['RoleBinding', 'RoleBinding', 'ClusterRoleBinding', 'ClusterRoleBinding']);
      expect(out.rows.every((r) => typeof r['uid'] === 'string' && r['uid'] !== '')).toBe(true);
    } finally {
      await cluster.stop();
    }
  });

  test('403 on one binding type is a gap for it; the other type is still collected', async () => {
    const { cluster, kc } = await startCluster({ name: 'rbac', objects, forbidden: ['rbac.authorization.k8s.io/clusterrolebindings'] });
    try {
      const out = await collect(rbacBindingsSource, context(kc));
      expect(new Set(out.rows.map((r) => r['binding_type']))).toEqual(new Set(['RoleBinding']));
      expect(out.rows).toHaveLength(4);
      expect(out.gaps).toEqual([expect.objectContaining({ reason: 'forbidden', resource: 'clusterrolebindings' })]);
    } finally {
      await cluster.stop();
    }
  });

  test('the namespace filter applies to RoleBindings, not to cluster-wide bindings', async () => {
    const { cluster, kc } = await startCluster({ name: 'rbac', objects });
    try {
      const out = await collect(rbacBindingsSource, context(kc, { namespaces: { include: ['other'] } }));
      expect(out.rows.map((r) => r['binding_name'])).toEqual(['orphan', 'anon-admin', 'sa-no-ns', 'sa-no-ns']);
    } finally {
      await cluster.stop();
    }
  });
});
