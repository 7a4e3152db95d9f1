import { countPods, describeRequirement, reviewSourceAccess } from '../../shared/cluster/accessReview.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const SSAR = '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews';

describe('Kubernetes access review', () => {
  let fixture: FixtureCluster;

  beforeAll(async () => {
    const scenario = generateCluster({ pods: 37, namespaces: 3, linesPerContainer: 1 });
    scenario.forbidden = ['pods/log', 'batch/cronjobs'];
    fixture = await startFixtureCluster(scenario);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('reviews each distinct requirement once and names what is missing per source', async () => {
    const before = fixture.requestLog.filter((r) => r.path === SSAR).length;
    const sources = ['containerlogs', 'suspiciouspods', 'commandhistory', 'cronjobs', 'events', 'not-a-reviewed-source'];
    const access = SOURCES.kubernetesAccess(sources);
    const result = await reviewSourceAccess(fixtureKubeConfig(fixture), access);
    expect(result.access).toEqual({
      containerlogs: { allowed: false, missing: ['get pods/log'] },
      suspiciouspods: { allowed: true, missing: [] },
      commandhistory: { allowed: true, missing: [] },
      cronjobs: { allowed: false, missing: ['list cronjobs.batch'] },
      events: { allowed: true, missing: [] },
    });
    expect(result.gaps.map((g) => [g.source, g.reason])).toEqual([
      ['containerlogs', 'forbidden'],
      ['cronjobs', 'forbidden'],
    ]);
    // list pods is shared by three sources but asked once: 6 distinct checks.
    const distinct = new Set(Object.values(access).flatMap((reqs) => reqs.map(describeRequirement)));
    expect(distinct.size).toBe(6);
    expect(fixture.requestLog.filter((r) => r.path === SSAR).length - before).toBe(6);
  });

  it('a review that cannot run is a gap ("collection will try anyway"), not a throw', async () => {
    fixture.faults.push({ match: `POST ${SSAR}`, status: 500 });
    try {
      const result = await reviewSourceAccess(fixtureKubeConfig(fixture), SOURCES.kubernetesAccess(['events']));
      expect(result.access.events).toEqual({ allowed: false, missing: [] });
      expect(result.gaps).toEqual([{ source: 'events', reason: 'error', detail: expect.stringContaining('HTTP 500') }]);
      expect(result.gaps[0]?.detail).toContain('collection will try anyway');
    } finally {
      fixture.faults.length = 0;
    }
  });

  it('counts pods with one cheap list (remainingItemCount)', async () => {
    const before = fixture.requestLog.length;
    expect(await countPods(fixtureKubeConfig(fixture))).toBe(37);
    const lists = fixture.requestLog.slice(before).filter((r) => r.path === '/api/v1/pods');
    expect(lists).toHaveLength(1);
    expect(lists[0]?.query).toContain('limit=1');
  });
});

/**
 * The review is cluster-wide because collection is: a grant held in one namespace only must not
 * read as access to the whole cluster. The collector's access here comes from RBAC alone.
 */
describe('Kubernetes access review under RBAC', () => {
  const rbac = 'rbac.authorization.k8s.io/v1';
  const subjects = [{ kind: 'ServiceAccount', name: 'collector', namespace: 'aks-evidence' }];
  let fixture: FixtureCluster;

  beforeAll(async () => {
    fixture = await startFixtureCluster({
      name: 'namespace-scoped-collector',
      collector: { access: 'rbac' },
      objects: [
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } },
        // Everything, but in namespace "a" only.
        { apiVersion: rbac, kind: 'Role', metadata: { name: 'all-of-a', namespace: 'a' }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] },
        {
          apiVersion: rbac,
          kind: 'RoleBinding',
          metadata: { name: 'collector-a', namespace: 'a' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'all-of-a' },
          subjects,
        },
        // Events, cluster-wide: the review can say yes.
        { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'event-reader' }, rules: [{ apiGroups: [''], resources: ['events'], verbs: ['list'] }] },
        {
          apiVersion: rbac,
          kind: 'ClusterRoleBinding',
          metadata: { name: 'collector-events' },
          roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'event-reader' },
          subjects,
        },
      ],
    });
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  it('a Role in one namespace is not cluster-wide access: every requirement it covers there is still missing', async () => {
    const result = await reviewSourceAccess(fixtureKubeConfig(fixture), SOURCES.kubernetesAccess(['containerlogs', 'commandhistory', 'events']));
    expect(result.access).toEqual({
      containerlogs: { allowed: false, missing: ['list pods', 'get pods/log'] },
      commandhistory: { allowed: false, missing: ['list pods', 'get pods/exec', 'create pods/exec'] },
      events: { allowed: true, missing: [] },
    });
    expect(result.gaps.map((g) => [g.source, g.reason])).toEqual([
      ['containerlogs', 'forbidden'],
      ['commandhistory', 'forbidden'],
    ]);
    // list pods is shared: five distinct reviews (list pods, get pods/log, get and create pods/exec, list events).
    expect(fixture.requestLog.filter((r) => r.path === SSAR && r.status === 201)).toHaveLength(5);
  });
});
