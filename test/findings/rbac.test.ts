import { analyzeRbac, grantPathText, RBAC_RULES } from '../../shared/findings/rbac.js';
import type { K8sObject, RbacFinding } from '../../shared/findings/types.js';
import { clusterRole, crb, deployment, group, pod, rb, role, sa, summary, user, type Rule } from './build.js';

const run = (objects: K8sObject[]) => analyzeRbac(objects).findings;
const only = (findings: RbacFinding[], ruleId: string) => findings.filter((f) => f.ruleId === ruleId);
const ids = (findings: RbacFinding[]) => [...new Set(findings.map((f) => f.ruleId))].sort();

/** One subject (User alice) bound cluster-wide to a ClusterRole with these rules. */
const clusterWide = (rules: Rule[]) => run([clusterRole('r', rules), crb('b', 'r', [user('alice')])]);
/** One subject bound in namespace `ns` to a Role with these rules. */
const inNamespace = (ns: string, rules: Rule[]) => run([role(ns, 'r', rules), rb(ns, 'b', { kind: 'Role', name: 'r' }, [user('alice')])]);

describe('rule catalog', () => {
  test('every rule has a stable id, a title and a description', () => {
    const ruleIds = RBAC_RULES.map((r) => r.id);
    expect(ruleIds).toEqual(
      expect.arrayContaining([
        'rbac.cluster-admin',
        'rbac.secrets-read',
        'rbac.pod-exec',
        'rbac.workload-create',
        'rbac.impersonate',
        'rbac.escalate-bind',
        'rbac.sa-token-create',
        'rbac.rolebinding-modify',
        'rbac.webhook-modify',
        'rbac.node-proxy',
        'rbac.csr-approve',
        'rbac.events-delete',
        'rbac.public-binding',
        'rbac.dangling-binding',
      ]),
    );
    expect(new Set(ruleIds).size).toBe(ruleIds.length);
    for (const r of RBAC_RULES) {
      expect(r.title.length).toBeGreaterThan(5);
      expect(r.description.length).toBeGreaterThan(20);
    }
  });
});

describe('rbac.cluster-admin', () => {
  test("'*' on '*' in '*' cluster-wide is critical and subsumes the other rules", () => {
    const findings = clusterWide([
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]);
    expect(ids(findings)).toEqual(['rbac.cluster-admin']);
    const [f] = findings;
    expect(f).toMatchObject({ severity: 'critical', scopeNamespace: '*', verbs: ['*'], resources: ['*'], apiGroups: ['*'], subject: { kind: 'User', name: 'alice' } });
    expect(f!.grant).toEqual({ bindingKind: 'ClusterRoleBinding', bindingName: 'b', roleKind: 'ClusterRole', roleName: 'r', ruleIndexes: [0] });
    expect(f!.details).toContain("nonResourceURLs '*'");
  });

  test('through a RoleBinding it is namespace admin: high, scoped to the namespace (kube-system: critical)', () => {
    const objects = [
      clusterRole('cluster-admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]),
      rb('dev', 'dev-admin', { kind: 'ClusterRole', name: 'cluster-admin' }, [user('alice')]),
      rb('kube-system', 'ks-admin', { kind: 'ClusterRole', name: 'cluster-admin' }, [user('bob')]),
    ];
    expect(summary(run(objects), 'rbac.cluster-admin')).toEqual([
      'User:alice|RoleBinding:dev/dev-admin|dev|high',
      'User:bob|RoleBinding:kube-system/ks-admin|kube-system|critical',
    ]);
  });

  test('negative: wildcards limited to the core group are not cluster-admin (but their parts are reported)', () => {
    const findings = clusterWide([{ apiGroups: [''], resources: ['*'], verbs: ['*'] }]);
    expect(only(findings, 'rbac.cluster-admin')).toHaveLength(0);
    expect(ids(findings)).toEqual(
      expect.arrayContaining(['rbac.secrets-read', 'rbac.pod-exec', 'rbac.workload-create', 'rbac.impersonate', 'rbac.sa-token-create', 'rbac.node-proxy', 'rbac.events-delete']),
    );
    expect(ids(findings)).not.toContain('rbac.escalate-bind');
    expect(ids(findings)).not.toContain('rbac.webhook-modify');
  });

  test('limited by resourceNames it is medium and does not subsume', () => {
    const findings = clusterWide([{ apiGroups: ['*'], resources: ['*'], verbs: ['*'], resourceNames: ['one'] }]);
    expect(only(findings, 'rbac.cluster-admin')[0]).toMatchObject({ severity: 'medium', resourceNames: ['one'] });
  });
});

describe('rbac.secrets-read', () => {
  const secrets = (verbs: string[], extra: Partial<Rule> = {}): Rule => ({ apiGroups: [''], resources: ['secrets'], verbs, ...extra });

  test('list/watch cluster-wide is high; get-only cluster-wide medium', () => {
    expect(only(clusterWide([secrets(['list', 'watch'])]), 'rbac.secrets-read')[0]).toMatchObject({
      severity: 'high',
      verbs: ['list', 'watch'],
      resources: ['secrets'],
      scopeNamespace: '*',
    });
    expect(only(clusterWide([secrets(['get'])]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'medium', verbs: ['get'] });
  });

  test('in a namespace: list medium, get low; in kube-system list high', () => {
    expect(only(inNamespace('dev', [secrets(['list'])]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'medium', scopeNamespace: 'dev' });
    expect(only(inNamespace('dev', [secrets(['get'])]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'low' });
    expect(only(inNamespace('kube-system', [secrets(['list'])]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'high', scopeNamespace: 'kube-system' });
  });

  test('wildcard verbs, resources and apiGroups all match', () => {
    expect(only(clusterWide([secrets(['*'])]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'high', verbs: ['get', 'list', 'watch'] });
    expect(only(clusterWide([{ apiGroups: [''], resources: ['*'], verbs: ['list'] }]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'high' });
    expect(only(clusterWide([{ apiGroups: ['*'], resources: ['secrets'], verbs: ['list'] }]), 'rbac.secrets-read')[0]).toMatchObject({ severity: 'high' });
  });

  test('limited by resourceNames: low, names reported', () => {
    const [f] = only(clusterWide([secrets(['get', 'list', 'watch'], { resourceNames: ['tls-cert'] })]), 'rbac.secrets-read');
    expect(f).toMatchObject({ severity: 'low', resourceNames: ['tls-cert'] });
    expect(f!.details).toContain('limited to resourceNames [tls-cert]');
  });

  test('negative: other resources, other groups, write-only verbs', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'] }]), 'rbac.secrets-read')).toHaveLength(0);
    expect(only(clusterWide([{ apiGroups: ['apps'], resources: ['secrets'], verbs: ['list'] }]), 'rbac.secrets-read')).toHaveLength(0);
    expect(only(clusterWide([secrets(['create', 'update', 'delete'])]), 'rbac.secrets-read')).toHaveLength(0);
  });
});

describe('rbac.pod-exec', () => {
  test('create on pods/exec cluster-wide is high; in a namespace medium', () => {
    const rule: Rule = { apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] };
    expect(only(clusterWide([rule]), 'rbac.pod-exec')[0]).toMatchObject({ severity: 'high', resources: ['pods/exec'], verbs: ['create'] });
    expect(only(inNamespace('dev', [rule]), 'rbac.pod-exec')[0]).toMatchObject({ severity: 'medium', scopeNamespace: 'dev' });
  });

  test('attach, portforward, ephemeral containers and the */exec wildcard count', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['pods/attach', 'pods/portforward'], verbs: ['create'] }]), 'rbac.pod-exec')[0]!.resources).toEqual([
      'pods/attach',
      'pods/portforward',
    ]);
    expect(only(clusterWide([{ apiGroups: [''], resources: ['pods/ephemeralcontainers'], verbs: ['patch'] }]), 'rbac.pod-exec')[0]).toMatchObject({ severity: 'high' });
    expect(only(clusterWide([{ apiGroups: [''], resources: ['*/exec'], verbs: ['create'] }]), 'rbac.pod-exec')[0]!.resources).toEqual(['pods/exec']);
  });

  test('get only (WebSocket upgrade on older API servers) is one level lower and says why', () => {
    const [f] = only(clusterWide([{ apiGroups: [''], resources: ['pods/exec'], verbs: ['get'] }]), 'rbac.pod-exec');
    expect(f).toMatchObject({ severity: 'medium', verbs: ['get'] });
    expect(f!.details).toContain('before 1.31');
  });

  test('negative: create on pods (no subresource), get on pods/log', () => {
    expect(
      only(
        clusterWide([
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods/log'], verbs: ['get'] },
        ]),
        'rbac.pod-exec',
      ),
    ).toHaveLength(0);
    expect(only(clusterWide([{ apiGroups: [''], resources: ['pods'], verbs: ['create'] }]), 'rbac.pod-exec')).toHaveLength(0);
  });
});

describe('rbac.workload-create', () => {
  test('every workload kind, in its API group', () => {
    for (const [group, resource] of [
      ['', 'pods'],
      ['', 'replicationcontrollers'],
      ['apps', 'deployments'],
      ['apps', 'daemonsets'],
      ['apps', 'statefulsets'],
      ['apps', 'replicasets'],
      ['extensions', 'deployments'],
      ['batch', 'jobs'],
      ['batch', 'cronjobs'],
    ] as const) {
      const [f] = only(clusterWide([{ apiGroups: [group], resources: [resource], verbs: ['create'] }]), 'rbac.workload-create');
      expect(f).toMatchObject({ severity: 'high', resources: [resource] });
    }
  });

  test('update/patch count (they change the pod template); namespaced is medium', () => {
    expect(only(inNamespace('dev', [{ apiGroups: ['batch'], resources: ['cronjobs'], verbs: ['patch'] }]), 'rbac.workload-create')[0]).toMatchObject({
      severity: 'medium',
      verbs: ['patch'],
    });
  });

  test('resourceNames cannot limit create: such a rule grants no create; patch on named objects is low', () => {
    expect(only(clusterWide([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'], resourceNames: ['web'] }]), 'rbac.workload-create')).toHaveLength(0);
    const [f] = only(clusterWide([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['create', 'patch'], resourceNames: ['web'] }]), 'rbac.workload-create');
    expect(f).toMatchObject({ severity: 'low', verbs: ['patch'], resourceNames: ['web'] });
  });

  test('negative: read-only on workloads, wrong group', () => {
    expect(only(clusterWide([{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'list', 'watch', 'delete'] }]), 'rbac.workload-create')).toHaveLength(0);
    expect(only(clusterWide([{ apiGroups: [''], resources: ['deployments'], verbs: ['create'] }]), 'rbac.workload-create')).toHaveLength(0);
  });
});

describe('rbac.impersonate', () => {
  test('users/groups cluster-wide is critical; service accounts high', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['impersonate'] }]), 'rbac.impersonate')[0]).toMatchObject({
      severity: 'critical',
      resources: ['users', 'groups'],
    });
    expect(only(clusterWide([{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }]), 'rbac.impersonate')[0]).toMatchObject({ severity: 'high' });
  });

  test('names: system:masters stays critical, anything else medium', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['groups'], verbs: ['impersonate'], resourceNames: ['system:masters'] }]), 'rbac.impersonate')[0]).toMatchObject({
      severity: 'critical',
    });
    expect(only(clusterWide([{ apiGroups: [''], resources: ['users'], verbs: ['impersonate'], resourceNames: ['bob'] }]), 'rbac.impersonate')[0]).toMatchObject({
      severity: 'medium',
    });
  });

  test('through a RoleBinding only service accounts can be impersonated (users/groups are cluster-scoped)', () => {
    const objects = [
      clusterRole('imp', [{ apiGroups: [''], resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] }]),
      rb('dev', 'b', { kind: 'ClusterRole', name: 'imp' }, [user('alice')]),
    ];
    expect(only(run(objects), 'rbac.impersonate')).toEqual([expect.objectContaining({ severity: 'medium', resources: ['serviceaccounts'], scopeNamespace: 'dev' })]);
  });

  test('negative: get on users', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['users', 'groups'], verbs: ['get', 'list'] }]), 'rbac.impersonate')).toHaveLength(0);
  });
});

describe('rbac.escalate-bind', () => {
  test('escalate or bind on clusterroles cluster-wide is critical', () => {
    expect(only(clusterWide([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate'] }]), 'rbac.escalate-bind')[0]).toMatchObject({
      severity: 'critical',
      verbs: ['escalate'],
    });
    expect(only(clusterWide([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['roles'], verbs: ['bind'] }]), 'rbac.escalate-bind')[0]).toMatchObject({
      severity: 'critical',
      verbs: ['bind'],
    });
  });

  test('through a RoleBinding: bind on clusterroles counts (binds within the namespace), escalate on clusterroles does not', () => {
    const objects = [
      clusterRole('binder', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'] }]),
      clusterRole('escalator', [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate'] }]),
      rb('dev', 'b1', { kind: 'ClusterRole', name: 'binder' }, [user('alice')]),
      rb('dev', 'b2', { kind: 'ClusterRole', name: 'escalator' }, [user('bob')]),
    ];
    expect(summary(run(objects), 'rbac.escalate-bind')).toEqual(['User:alice|RoleBinding:dev/b1|dev|high']);
  });

  test('limited to names: medium (high when it names admin roles)', () => {
    expect(
      only(clusterWide([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['view'] }]), 'rbac.escalate-bind')[0],
    ).toMatchObject({ severity: 'medium' });
    expect(
      only(clusterWide([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['bind'], resourceNames: ['cluster-admin'] }]), 'rbac.escalate-bind')[0],
    ).toMatchObject({ severity: 'high' });
  });

  test('negative: update/patch on roles without escalate or bind', () => {
    expect(
      only(clusterWide([{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles', 'roles'], verbs: ['get', 'update', 'patch', 'create'] }]), 'rbac.escalate-bind'),
    ).toHaveLength(0);
  });
});

describe('rbac.sa-token-create', () => {
  test('create serviceaccounts/token: high cluster-wide, medium namespaced', () => {
    const rule: Rule = { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] };
    expect(only(clusterWide([rule]), 'rbac.sa-token-create')[0]).toMatchObject({ severity: 'high' });
    expect(only(inNamespace('dev', [rule]), 'rbac.sa-token-create')[0]).toMatchObject({ severity: 'medium', scopeNamespace: 'dev' });
  });

  test('a subresource request carries a name, so resourceNames limit it (low)', () => {
    expect(
      only(inNamespace('dev', [{ apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'], resourceNames: ['ci'] }]), 'rbac.sa-token-create')[0],
    ).toMatchObject({ severity: 'low', resourceNames: ['ci'] });
  });

  test('negative: create serviceaccounts (no token subresource)', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['create', 'get'] }]), 'rbac.sa-token-create')).toHaveLength(0);
  });
});

describe('rbac.rolebinding-modify', () => {
  const bindings = (resources: string[], verbs: string[]): Rule => ({ apiGroups: ['rbac.authorization.k8s.io'], resources, verbs });

  test('clusterrolebindings create is high; rolebindings cluster-wide medium; namespaced low, kube-system medium', () => {
    expect(only(clusterWide([bindings(['clusterrolebindings'], ['create'])]), 'rbac.rolebinding-modify')[0]).toMatchObject({ severity: 'high' });
    expect(only(clusterWide([bindings(['rolebindings'], ['patch'])]), 'rbac.rolebinding-modify')[0]).toMatchObject({ severity: 'medium' });
    expect(only(inNamespace('dev', [bindings(['rolebindings'], ['update'])]), 'rbac.rolebinding-modify')[0]).toMatchObject({ severity: 'low' });
    expect(only(inNamespace('kube-system', [bindings(['rolebindings'], ['update'])]), 'rbac.rolebinding-modify')[0]).toMatchObject({ severity: 'medium' });
  });

  test('a RoleBinding cannot grant clusterrolebindings', () => {
    const objects = [clusterRole('crb-writer', [bindings(['clusterrolebindings'], ['create'])]), rb('dev', 'b', { kind: 'ClusterRole', name: 'crb-writer' }, [user('alice')])];
    expect(only(run(objects), 'rbac.rolebinding-modify')).toHaveLength(0);
  });

  test('negative: read and delete', () => {
    expect(only(clusterWide([bindings(['rolebindings', 'clusterrolebindings'], ['get', 'list', 'delete'])]), 'rbac.rolebinding-modify')).toHaveLength(0);
  });
});

describe('rbac.webhook-modify', () => {
  const adm = (resources: string[], verbs: string[]): Rule => ({ apiGroups: ['admissionregistration.k8s.io'], resources, verbs });

  test('patch on mutating webhooks is high; delete of validating ones medium', () => {
    expect(only(clusterWide([adm(['mutatingwebhookconfigurations'], ['patch'])]), 'rbac.webhook-modify')[0]).toMatchObject({ severity: 'high' });
    expect(only(clusterWide([adm(['validatingwebhookconfigurations'], ['delete'])]), 'rbac.webhook-modify')[0]).toMatchObject({ severity: 'medium', verbs: ['delete'] });
  });

  test('negative: read-only, and through a RoleBinding (cluster-scoped)', () => {
    expect(only(clusterWide([adm(['mutatingwebhookconfigurations', 'validatingwebhookconfigurations'], ['get', 'list', 'watch'])]), 'rbac.webhook-modify')).toHaveLength(0);
    const objects = [clusterRole('hooks', [adm(['mutatingwebhookconfigurations'], ['*'])]), rb('dev', 'b', { kind: 'ClusterRole', name: 'hooks' }, [user('alice')])];
    expect(only(run(objects), 'rbac.webhook-modify')).toHaveLength(0);
  });
});

describe('rbac.node-proxy', () => {
  test('get or create on nodes/proxy is high, also via */proxy', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }]), 'rbac.node-proxy')[0]).toMatchObject({
      severity: 'high',
      resources: ['nodes/proxy'],
    });
    expect(only(clusterWide([{ apiGroups: [''], resources: ['*/proxy'], verbs: ['create'] }]), 'rbac.node-proxy')[0]).toMatchObject({ severity: 'high' });
  });

  test('negative: nodes without the proxy subresource; through a RoleBinding', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['nodes', 'nodes/stats'], verbs: ['get', 'list'] }]), 'rbac.node-proxy')).toHaveLength(0);
    const objects = [clusterRole('np', [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }]), rb('dev', 'b', { kind: 'ClusterRole', name: 'np' }, [user('alice')])];
    expect(only(run(objects), 'rbac.node-proxy')).toHaveLength(0);
  });
});

describe('rbac.csr-approve', () => {
  const approval: Rule = { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] };
  const signers = (names?: string[]): Rule => ({ apiGroups: ['certificates.k8s.io'], resources: ['signers'], verbs: ['approve'], ...(names ? { resourceNames: names } : {}) });

  test('approval + any signer is critical (kube-apiserver-client mints system:masters certificates)', () => {
    const [f] = only(clusterWide([approval, signers()]), 'rbac.csr-approve');
    expect(f).toMatchObject({ severity: 'critical', resources: ['certificatesigningrequests/approval', 'signers'] });
    expect(f!.grant.ruleIndexes).toEqual([0, 1]);
  });

  test('approval + the kubelet client signer only is high', () => {
    expect(only(clusterWide([approval, signers(['kubernetes.io/kube-apiserver-client-kubelet'])]), 'rbac.csr-approve')[0]).toMatchObject({ severity: 'high' });
  });

  test('negative: one half alone grants nothing', () => {
    expect(only(clusterWide([approval]), 'rbac.csr-approve')).toHaveLength(0);
    expect(only(clusterWide([signers()]), 'rbac.csr-approve')).toHaveLength(0);
  });
});

describe('rbac.events-delete', () => {
  test('delete events: medium cluster-wide, low namespaced; events.k8s.io too', () => {
    expect(only(clusterWide([{ apiGroups: [''], resources: ['events'], verbs: ['delete'] }]), 'rbac.events-delete')[0]).toMatchObject({ severity: 'medium' });
    expect(only(inNamespace('dev', [{ apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['deletecollection'] }]), 'rbac.events-delete')[0]).toMatchObject({
      severity: 'low',
      apiGroups: ['events.k8s.io'],
    });
  });

  test('negative: create/patch events (what every controller does)', () => {
    expect(
      only(clusterWide([{ apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch', 'update', 'get', 'list'] }]), 'rbac.events-delete'),
    ).toHaveLength(0);
  });
});

describe('rbac.public-binding', () => {
  test('system:anonymous bound to cluster-admin: critical, both as cluster-admin and as a public binding', () => {
    const findings = run([clusterRole('cluster-admin', [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }]), crb('anon', 'cluster-admin', [user('system:anonymous')])]);
    expect(summary(findings, 'rbac.cluster-admin')).toEqual(['User:system:anonymous|ClusterRoleBinding:anon|*|critical']);
    const [pub] = only(findings, 'rbac.public-binding');
    expect(pub).toMatchObject({ severity: 'critical', expected: false });
    expect(pub!.details).toContain('anonymous requests');
  });

  test('severity follows the role: unauthenticated + secrets list is high; authenticated + harmless role is low', () => {
    const objects = [
      clusterRole('secrets', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]),
      clusterRole('harmless', [{ apiGroups: [''], resources: ['configmaps'], verbs: ['get'] }]),
      crb('b1', 'secrets', [group('system:unauthenticated')]),
      crb('b2', 'harmless', [group('system:authenticated')]),
    ];
    expect(summary(run(objects), 'rbac.public-binding')).toEqual([
      'Group:system:authenticated|ClusterRoleBinding:b2|*|low',
      'Group:system:unauthenticated|ClusterRoleBinding:b1|*|high',
    ]);
  });

  test('negative: an ordinary group', () => {
    expect(
      only(run([clusterRole('secrets', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]), crb('b', 'secrets', [group('devs')])]), 'rbac.public-binding'),
    ).toHaveLength(0);
  });
});

describe('rbac.dangling-binding', () => {
  test('a binding to a missing role is reported when roles of that kind are in the input', () => {
    const analysis = analyzeRbac([role('dev', 'present', []), rb('dev', 'b', { kind: 'Role', name: 'ghost' }, [user('alice')])]);
    expect(summary(analysis.findings, 'rbac.dangling-binding')).toEqual(['User:alice|RoleBinding:dev/b|dev|low']);
    expect(analysis.notes.map((n) => n.code)).toContain('missing-role');
  });

  test('negative: without any role in the input it is only a note (a partial dump is not a finding)', () => {
    const analysis = analyzeRbac([crb('b', 'ghost', [user('alice')])]);
    expect(analysis.findings).toHaveLength(0);
    expect(analysis.notes.find((n) => n.code === 'missing-role')?.message).toContain('ClusterRole ghost');
  });
});

describe('traps', () => {
  test('aggregated ClusterRoles: rules computed from selectors even when the dump has none, with the chain', () => {
    const objects = [
      clusterRole('admin', [], { aggregate: [{ 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' }] }),
      clusterRole('edit', [], { labels: { 'rbac.authorization.k8s.io/aggregate-to-admin': 'true' }, aggregate: [{ 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' }] }),
      clusterRole(
        'secret-lister',
        [
          { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get'] },
          { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
        ],
        {
          labels: { 'rbac.authorization.k8s.io/aggregate-to-edit': 'true' },
        },
      ),
      clusterRole('unrelated', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }], { labels: { team: 'x' } }),
      crb('admins', 'admin', [group('ops')]),
      rb('dev', 'editors', { kind: 'ClusterRole', name: 'edit' }, [user('alice')]),
    ];
    const findings = run(objects);
    const admin = only(findings, 'rbac.secrets-read').find((f) => f.subject.name === 'ops')!;
    expect(admin.grant).toEqual({
      bindingKind: 'ClusterRoleBinding',
      bindingName: 'admins',
      roleKind: 'ClusterRole',
      roleName: 'admin',
      aggregatedFrom: ['edit', 'secret-lister'],
      ruleIndexes: [1],
    });
    expect(grantPathText(admin.grant)).toBe('ClusterRoleBinding admins → ClusterRole admin → aggregated from edit → secret-lister → rule 1');
    expect(admin.severity).toBe('high');
    const editor = only(findings, 'rbac.secrets-read').find((f) => f.subject.name === 'alice')!;
    expect(editor).toMatchObject({ scopeNamespace: 'dev', severity: 'medium', grant: expect.objectContaining({ aggregatedFrom: ['secret-lister'] }) });
    // The unrelated role's exec is not pulled in by the selectors.
    expect(only(findings, 'rbac.pod-exec')).toHaveLength(0);
  });

  test('a rule in an aggregated role that no selected role provides is still counted and marked', () => {
    const objects = [
      clusterRole('agg', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list'] }], { aggregate: [{ nothing: 'matches' }] }),
      crb('b', 'agg', [user('alice')]),
    ];
    const [f] = only(run(objects), 'rbac.secrets-read');
    expect(f!.details).toContain('not produced by aggregation');
  });

  test('matchExpressions selectors', () => {
    const objects: K8sObject[] = [
      { ...clusterRole('agg', []), aggregationRule: { clusterRoleSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] }] } },
      clusterRole('gold', [{ apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] }], { labels: { tier: 'gold' } }),
      clusterRole('silver', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }], { labels: { tier: 'silver' } }),
      crb('b', 'agg', [user('alice')]),
    ];
    expect(ids(run(objects))).toEqual(['rbac.node-proxy']);
  });

  test('a RoleBinding to a ClusterRole grants only within its namespace', () => {
    const objects = [
      clusterRole('powerful', [
        { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
        { apiGroups: [''], resources: ['nodes/proxy'], verbs: ['get'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterrolebindings'], verbs: ['create'] },
        { apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update'] },
        { apiGroups: ['certificates.k8s.io'], resources: ['signers'], verbs: ['approve'] },
      ]),
      rb('dev', 'b', { kind: 'ClusterRole', name: 'powerful' }, [user('alice')]),
    ];
    const findings = run(objects);
    expect(ids(findings)).toEqual(['rbac.secrets-read']);
    expect(findings[0]).toMatchObject({ scopeNamespace: 'dev', severity: 'medium' });
  });

  test('a RoleBinding cannot use a Role of another namespace', () => {
    const analysis = analyzeRbac([
      role('other', 'r', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]),
      rb('dev', 'b', { kind: 'Role', name: 'r' }, [user('alice')]),
    ]);
    expect(only(analysis.findings, 'rbac.secrets-read')).toHaveLength(0);
    expect(summary(analysis.findings, 'rbac.dangling-binding')).toEqual(['User:alice|RoleBinding:dev/b|dev|low']);
  });

  test('service accounts through their groups: system:serviceaccounts:<ns> covers the workloads of that namespace only', () => {
    const objects = [
      role('dev', 'reader', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]),
      rb('dev', 'all-sas', { kind: 'Role', name: 'reader' }, [group('system:serviceaccounts:dev')]),
      deployment('dev', 'web', { containers: [{ name: 'web', image: 'nginx' }] }),
      pod('dev', 'builder', { serviceAccountName: 'builder', containers: [{ name: 'b', image: 'x' }] }),
      pod('prod', 'api', { containers: [{ name: 'a', image: 'x' }] }),
    ];
    const analysis = analyzeRbac(objects);
    const [f] = only(analysis.findings, 'rbac.secrets-read');
    expect(f).toMatchObject({ subject: { kind: 'Group', name: 'system:serviceaccounts:dev' }, scopeNamespace: 'dev', workloadCount: 2 });
    expect(f!.workloads).toEqual([
      { kind: 'Deployment', namespace: 'dev', name: 'web', serviceAccount: 'default' },
      { kind: 'Pod', namespace: 'dev', name: 'builder', serviceAccount: 'builder' },
    ]);
  });

  test('a service account named as a User (system:serviceaccount:<ns>:<name>) is that service account', () => {
    const objects = [
      clusterRole('deployer', [{ apiGroups: ['apps'], resources: ['deployments'], verbs: ['create'] }]),
      crb('b', 'deployer', [user('system:serviceaccount:ci:deployer')]),
      {
        apiVersion: 'batch/v1',
        kind: 'CronJob',
        metadata: { name: 'ship', namespace: 'ci' },
        spec: { jobTemplate: { spec: { template: { spec: { serviceAccountName: 'deployer', containers: [] } } } } },
      },
      pod('ci', 'other', { containers: [] }),
    ];
    const [f] = only(run(objects), 'rbac.workload-create');
    expect(f!.workloads).toEqual([{ kind: 'CronJob', namespace: 'ci', name: 'ship', serviceAccount: 'deployer' }]);
  });

  test('risky service accounts list the workloads that run as them (default SA when unset); other SAs are not listed', () => {
    const objects = [
      clusterRole('exec', [{ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'] }]),
      crb('b', 'exec', [sa('tools', 'default')]),
      deployment('tools', 'debug', { containers: [] }),
      deployment('tools', 'named', { serviceAccountName: 'named', containers: [] }),
      deployment('other', 'debug', { containers: [] }),
    ];
    const [f] = only(run(objects), 'rbac.pod-exec');
    expect(f!.workloads.map((w) => `${w.namespace}/${w.name}`)).toEqual(['tools/debug']);
  });

  test('a ServiceAccount subject without namespace in a RoleBinding means the binding namespace', () => {
    const objects: K8sObject[] = [
      role('dev', 'r', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }]),
      { ...rb('dev', 'b', { kind: 'Role', name: 'r' }, []), subjects: [{ kind: 'ServiceAccount', name: 'app' }] },
    ];
    expect(summary(run(objects), 'rbac.secrets-read')).toEqual(['ServiceAccount:dev/app|RoleBinding:dev/b|dev|low']);
  });

  test('one finding per granting binding: the same subject through two bindings has two paths', () => {
    const objects = [
      clusterRole('reader', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]),
      crb('one', 'reader', [user('alice')]),
      rb('dev', 'two', { kind: 'ClusterRole', name: 'reader' }, [user('alice')]),
    ];
    expect(summary(run(objects), 'rbac.secrets-read')).toEqual(['User:alice|ClusterRoleBinding:one|*|high', 'User:alice|RoleBinding:dev/two|dev|medium']);
  });

  test('rule indexes point at the granting rules of the declaring role', () => {
    const [f] = only(
      clusterWide([
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        { apiGroups: [''], resources: ['pods'], verbs: ['list'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
      ]),
      'rbac.secrets-read',
    );
    expect(f!.grant.ruleIndexes).toEqual([1, 3]);
    expect(f!.verbs.sort()).toEqual(['get', 'list']);
    expect(f!.severity).toBe('high');
  });

  test('creation time of the binding is carried for the timeline', () => {
    const [f] = run([clusterRole('r', [{ apiGroups: [''], resources: ['secrets'], verbs: ['list'] }]), crb('b', 'r', [user('alice')], '2026-11-22T10:02:03Z')]);
    expect(f!.createdAt).toBe('2026-11-22T10:02:03Z');
  });
});
