import { join } from 'node:path';
import { EXPECTED_BINDINGS, CONTROLLER_SERVICE_ACCOUNTS } from '../../shared/findings/expected.js';
import { loadObjects } from '../../shared/findings/objects.js';
import { analyzeRbac } from '../../shared/findings/rbac.js';
import type { K8sObject } from '../../shared/findings/types.js';
import { crb, summary, user } from './build.js';

const FRESH = join(process.cwd(), 'test/fixtures/findings/fresh-cluster-rbac.yaml');

async function fresh(): Promise<K8sObject[]> {
  const loaded = await loadObjects([FRESH]);
  expect(loaded.skipped).toEqual([]);
  return loaded.objects;
}

describe('default bindings of a fresh cluster', () => {
  test('yield only expected findings, each explained', async () => {
    const { findings } = analyzeRbac(await fresh());
    const unexpected = findings.filter((f) => !f.expected);
    expect(unexpected.map((f) => `${f.ruleId} ${f.subject.name} ${f.grant.bindingName}`)).toEqual([]);
    // The defaults are not silently dropped: they are there, marked, with the reason.
    expect(findings.length).toBeGreaterThan(15);
    for (const f of findings) expect(f.expectedReason).toMatch(/default/);
    expect(summary(findings, 'rbac.cluster-admin')).toEqual([
      'Group:system:masters|ClusterRoleBinding:cluster-admin|*|critical',
      'User:clusterAdmin|ClusterRoleBinding:aks-cluster-admin-binding|*|critical',
    ]);
    expect(summary(findings, 'rbac.escalate-bind')).toEqual([
      'ServiceAccount:kube-system/clusterrole-aggregation-controller|ClusterRoleBinding:system:controller:clusterrole-aggregation-controller|*|critical',
    ]);
    expect(summary(findings, 'rbac.csr-approve')).toEqual(['ServiceAccount:kube-system/certificate-controller|ClusterRoleBinding:system:controller:certificate-controller|*|high']);
    expect(summary(findings, 'rbac.public-binding')).toEqual([
      'Group:system:authenticated|ClusterRoleBinding:system:basic-user|*|low',
      'Group:system:authenticated|ClusterRoleBinding:system:discovery|*|low',
      'Group:system:authenticated|ClusterRoleBinding:system:public-info-viewer|*|low',
      'Group:system:unauthenticated|ClusterRoleBinding:system:public-info-viewer|*|low',
    ]);
  });

  test('the aggregated admin/edit/view roles are computed although their rules are empty in the dump', async () => {
    const { model } = analyzeRbac(await fresh());
    const edit = model.rulesFor({ kind: 'ClusterRoleBinding', name: 'x', roleRef: { kind: 'ClusterRole', name: 'admin' }, subjects: [] })!;
    expect(edit.length).toBeGreaterThan(10);
    expect(new Set(edit.map((r) => r.declaredBy))).toEqual(new Set(['system:aggregate-to-admin', 'system:aggregate-to-edit', 'system:aggregate-to-view']));
  });

  test('a subject added to a default binding is reported', async () => {
    const objects = (await fresh()).map((o) =>
      o.kind === 'ClusterRoleBinding' && o.metadata.name === 'system:kube-controller-manager'
        ? { ...o, subjects: [...(o.subjects as unknown[]), { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'mallory' }] }
        : o,
    );
    const unexpected = analyzeRbac(objects).findings.filter((f) => !f.expected);
    expect(summary(unexpected, 'rbac.secrets-read')).toEqual(['User:mallory|ClusterRoleBinding:system:kube-controller-manager|*|high']);
    expect(summary(unexpected, 'rbac.sa-token-create')).toEqual(['User:mallory|ClusterRoleBinding:system:kube-controller-manager|*|high']);
  });

  test('a default binding name pointed at another role is reported', async () => {
    const objects = [
      ...(await fresh()).filter((o) => !(o.kind === 'ClusterRoleBinding' && o.metadata.name === 'system:kube-scheduler')),
      crb('system:kube-scheduler', 'cluster-admin', [user('system:kube-scheduler')]),
    ];
    const unexpected = analyzeRbac(objects).findings.filter((f) => !f.expected);
    expect(summary(unexpected, 'rbac.cluster-admin')).toEqual(['User:system:kube-scheduler|ClusterRoleBinding:system:kube-scheduler|*|critical']);
  });

  test('a default role that gains a capability outside its expected rules is reported', async () => {
    const objects = (await fresh()).map((o) =>
      o.kind === 'ClusterRole' && o.metadata.name === 'system:basic-user'
        ? { ...o, rules: [...(o.rules as unknown[]), { apiGroups: [''], resources: ['secrets'], verbs: ['list'] }] }
        : o,
    );
    const unexpected = analyzeRbac(objects).findings.filter((f) => !f.expected);
    // The secrets rule itself, and the public binding that is no longer harmless.
    expect(summary(unexpected, 'rbac.secrets-read')).toEqual(['Group:system:authenticated|ClusterRoleBinding:system:basic-user|*|high']);
    expect(summary(unexpected, 'rbac.public-binding')).toEqual(['Group:system:authenticated|ClusterRoleBinding:system:basic-user|*|high']);
  });

  test('the documented list is consistent: every controller has its binding entry and entries are unique', () => {
    for (const name of Object.keys(CONTROLLER_SERVICE_ACCOUNTS)) {
      expect(EXPECTED_BINDINGS.some((e) => e.bindingName === `system:controller:${name}` && e.subject.kind === 'ServiceAccount' && e.subject.name === name)).toBe(true);
    }
    const keys = EXPECTED_BINDINGS.map((e) => `${e.bindingKind}|${e.bindingNamespace ?? ''}|${e.bindingName}|${e.subject.kind}|${e.subject.namespace ?? ''}|${e.subject.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const e of EXPECTED_BINDINGS) expect(e.why.length).toBeGreaterThan(10);
  });
});
