import { buildRbacModel, grantsForServiceAccount, matchNonResourceUrl, matchRule, selectorMatches, subjectCoversServiceAccount } from '../../shared/findings/rbacModel.js';
import { clusterRole, crb, group, rb, role, sa, user } from './build.js';

describe('matchRule (the authorizer rules)', () => {
  const want = { apiGroups: [''], resources: ['secrets', 'pods/exec'], verbs: ['get', 'create'] };

  test('exact, wildcard and */subresource matches', () => {
    expect(matchRule({ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }, want)).toEqual({ verbs: ['get'], resources: ['secrets'], apiGroups: [''] });
    expect(matchRule({ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }, want)).toEqual({ verbs: ['get', 'create'], resources: ['secrets', 'pods/exec'], apiGroups: [''] });
    expect(matchRule({ apiGroups: [''], resources: ['*/exec'], verbs: ['create'] }, want)).toEqual({ verbs: ['create'], resources: ['pods/exec'], apiGroups: [''] });
  });

  test('a resource does not match its subresources, nor the reverse', () => {
    expect(matchRule({ apiGroups: [''], resources: ['pods'], verbs: ['*'] }, want)).toBeUndefined();
    expect(matchRule({ apiGroups: [''], resources: ['secrets/status'], verbs: ['*'] }, { apiGroups: [''], resources: ['secrets'], verbs: ['get'] })).toBeUndefined();
  });

  test('resourceNames: no create on the plain resource, create on a named subresource is fine', () => {
    expect(matchRule({ apiGroups: [''], resources: ['secrets'], verbs: ['create'], resourceNames: ['x'] }, want)).toBeUndefined();
    expect(matchRule({ apiGroups: [''], resources: ['pods/exec'], verbs: ['create'], resourceNames: ['web-0'] }, want)).toEqual({
      verbs: ['create'],
      resources: ['pods/exec'],
      apiGroups: [''],
      resourceNames: ['web-0'],
    });
  });

  test('a nonResourceURLs rule grants no resource; URL matching with prefixes', () => {
    expect(matchRule({ nonResourceURLs: ['*'], verbs: ['*'] }, want)).toBeUndefined();
    expect(matchNonResourceUrl({ nonResourceURLs: ['/apis/*'], verbs: ['get'] }, 'get', '/apis/apps/v1')).toBe(true);
    expect(matchNonResourceUrl({ nonResourceURLs: ['/healthz'], verbs: ['get'] }, 'get', '/healthz/etcd')).toBe(false);
    expect(matchNonResourceUrl({ nonResourceURLs: ['*'], verbs: ['get'] }, 'post', '/logs')).toBe(false);
  });
});

test('selectorMatches: matchLabels and every matchExpressions operator; empty selects everything', () => {
  const labels = { tier: 'gold', team: 'a' };
  expect(selectorMatches({}, labels)).toBe(true);
  expect(selectorMatches({ matchLabels: { tier: 'gold' } }, labels)).toBe(true);
  expect(selectorMatches({ matchLabels: { tier: 'silver' } }, labels)).toBe(false);
  expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold', 'x'] }] }, labels)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['gold'] }] }, labels)).toBe(false);
  expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'Exists' }] }, labels)).toBe(false);
  expect(selectorMatches({ matchExpressions: [{ key: 'env', operator: 'DoesNotExist' }] }, labels)).toBe(true);
  expect(selectorMatches({ matchExpressions: [{ key: 'tier', operator: 'Bogus' }] }, labels)).toBe(false);
});

test('a service account is itself, system:serviceaccount:<ns>:<name>, and the groups system:serviceaccounts[:<ns>] and system:authenticated', () => {
  expect(subjectCoversServiceAccount(sa('dev', 'app'), 'dev', 'app')).toBe(true);
  expect(subjectCoversServiceAccount(sa('prod', 'app'), 'dev', 'app')).toBe(false);
  expect(subjectCoversServiceAccount(user('system:serviceaccount:dev:app'), 'dev', 'app')).toBe(true);
  expect(subjectCoversServiceAccount(group('system:serviceaccounts'), 'dev', 'app')).toBe(true);
  expect(subjectCoversServiceAccount(group('system:serviceaccounts:dev'), 'dev', 'app')).toBe(true);
  expect(subjectCoversServiceAccount(group('system:serviceaccounts:prod'), 'dev', 'app')).toBe(false);
  expect(subjectCoversServiceAccount(group('system:authenticated'), 'dev', 'app')).toBe(true);
  expect(subjectCoversServiceAccount(group('system:unauthenticated'), 'dev', 'app')).toBe(false);
  expect(subjectCoversServiceAccount(user('system:anonymous'), 'dev', 'app')).toBe(false);

  const model = buildRbacModel([
    role('dev', 'r', []),
    rb('dev', 'direct', { kind: 'Role', name: 'r' }, [sa('dev', 'app')]),
    rb('dev', 'ns-group', { kind: 'Role', name: 'r' }, [group('system:serviceaccounts:dev')]),
    rb('prod', 'other-ns-group', { kind: 'Role', name: 'r' }, [group('system:serviceaccounts:prod')]),
    clusterRole('c', []),
    crb('all-sas', 'c', [group('system:serviceaccounts')]),
    crb('everyone', 'c', [group('system:authenticated')]),
    crb('someone', 'c', [user('bob')]),
  ]);
  expect(grantsForServiceAccount(model, 'dev', 'app').map((g) => `${g.binding.name}@${g.scopeNamespace} via ${g.via.name}`)).toEqual([
    'direct@dev via app',
    'ns-group@dev via system:serviceaccounts:dev',
    'all-sas@* via system:serviceaccounts',
    'everyone@* via system:authenticated',
  ]);
});

test('aggregation cycles are cut and noted', () => {
  const model = buildRbacModel([
    clusterRole('a', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }], { labels: { agg: 'b' }, aggregate: [{ agg: 'a' }] }),
    clusterRole('b', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], { labels: { agg: 'a' }, aggregate: [{ agg: 'b' }] }),
  ]);
  const rules = model.rulesFor({ kind: 'ClusterRoleBinding', name: 'x', roleRef: { kind: 'ClusterRole', name: 'a' }, subjects: [] })!;
  expect(rules.map((r) => r.declaredBy).sort()).toEqual(['a', 'b']);
  expect(model.notes.some((n) => n.code === 'aggregation-cycle')).toBe(true);
});

test("in a cycle, each role bound directly still gets the other one's rules", () => {
  const model = buildRbacModel([
    clusterRole('a', [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }], { labels: { agg: 'b' }, aggregate: [{ agg: 'a' }] }),
    clusterRole('b', [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }], { labels: { agg: 'a' }, aggregate: [{ agg: 'b' }] }),
  ]);
  const of = (name: string) =>
    model
      .rulesFor({ kind: 'ClusterRoleBinding', name: 'x', roleRef: { kind: 'ClusterRole', name }, subjects: [] })!
      .map((r) => r.declaredBy)
      .sort();
  expect(of('a')).toEqual(['a', 'b']);
  expect(of('b')).toEqual(['a', 'b']);
});
