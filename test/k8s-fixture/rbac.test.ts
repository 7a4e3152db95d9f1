/**
 * RBAC like the API server: the simulated cluster evaluates the served Roles, ClusterRoles
 * (aggregation included) and bindings for the caller on every request, and answers
 * SelfSubjectAccessReview and SelfSubjectRulesReview from them.
 */
import { ApiException, AuthorizationV1Api, CoreV1Api, type KubeConfig, type V1SelfSubjectAccessReview } from '@kubernetes/client-node';
import { PassThrough } from 'node:stream';
import { Exec, HttpMethod, Log, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { FixtureCluster, KubeObject, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';

const SA = 'system:serviceaccount:aks-evidence:collector';
const rbac = 'rbac.authorization.k8s.io/v1';

function pod(namespace: string, name: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace },
    spec: { containers: [{ name: 'c', image: 'debian:12' }] },
    status: { phase: 'Running', containerStatuses: [{ name: 'c', state: { running: {} } }] },
  };
}

/** The collector may: list/get pods, read logs and exec in "a" only; get (not list) pods anywhere; one named ConfigMap; secrets through an aggregated role. */
export function partialAccessScenario(): Scenario {
  return {
    name: 'partial-rbac',
    collector: { access: 'rbac' },
    objects: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'b' } },
      pod('a', 'p'),
      pod('b', 'p'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg-1', namespace: 'a' }, data: { k: 'v' } },
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg-2', namespace: 'a' }, data: { k: 'v' } },
      {
        apiVersion: rbac,
        kind: 'Role',
        metadata: { name: 'pod-reader', namespace: 'a' },
        rules: [
          { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list'] },
          { apiGroups: [''], resources: ['pods/log', 'pods/exec'], verbs: ['get', 'create'] },
          { apiGroups: [''], resources: ['configmaps'], resourceNames: ['cfg-1'], verbs: ['get'] },
        ],
      },
      {
        apiVersion: rbac,
        kind: 'RoleBinding',
        metadata: { name: 'collector-a', namespace: 'a' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', name: 'collector', namespace: 'aks-evidence' }],
      },
      { apiVersion: rbac, kind: 'ClusterRole', metadata: { name: 'pod-getter' }, rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] },
      {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'collector-get' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'pod-getter' },
        subjects: [{ kind: 'Group', name: 'system:serviceaccounts:aks-evidence' }],
      },
      {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: { name: 'evidence-reader' },
        aggregationRule: { clusterRoleSelectors: [{ matchLabels: { 'aks-evidence/aggregate': 'true' } }] },
        rules: [],
      },
      {
        apiVersion: rbac,
        kind: 'ClusterRole',
        metadata: { name: 'evidence-secrets', labels: { 'aks-evidence/aggregate': 'true' } },
        rules: [
          { apiGroups: [''], resources: ['secrets'], verbs: ['list'] },
          { nonResourceURLs: ['/metrics'], verbs: ['get'] },
        ],
      },
      {
        apiVersion: rbac,
        kind: 'ClusterRoleBinding',
        metadata: { name: 'collector-evidence' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'evidence-reader' },
        subjects: [{ kind: 'User', name: SA }],
      },
    ],
    containers: { 'a/p/c': { binaries: ['/bin/sh'] }, 'b/p/c': { binaries: ['/bin/sh'] } },
    logs: { 'a/p/c': { current: [{ time: '2026-03-01T10:00:00Z', message: 'hello a' }] }, 'b/p/c': { current: [{ time: '2026-03-01T10:00:00Z', message: 'hello b' }] } },
  };
}

async function status(p: Promise<unknown>): Promise<{ code: number; message?: string }> {
  try {
    await p;
    return { code: 200 };
  } catch (e) {
    if (!(e instanceof ApiException)) throw e;
    const body = typeof e.body === 'string' ? (JSON.parse(e.body) as { message?: string }) : (e.body as { message?: string });
    return { code: e.code, message: body?.message };
  }
}

/** A raw GET through the client's own auth and TLS (client-node's Log drops the Status body). */
async function rawGet(kc: KubeConfig, path: string): Promise<{ status: number; body: { message?: string; reason?: string } }> {
  const url = `${kc.getCurrentCluster()!.server}${path}`;
  const ctx = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const res = await fetch(url, { headers: ctx.getHeaders(), dispatcher: ctx.getDispatcher() as never });
  return { status: res.status, body: (await res.json()) as { message?: string } };
}

async function readLog(kc: KubeConfig, ns: string): Promise<string> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const done = new Promise((r) => out.on('finish', r));
  await new Log(kc).log(ns, 'p', 'c', out, {});
  await done;
  return text;
}

async function execStatus(kc: KubeConfig, ns: string): Promise<string> {
  try {
    let status = '';
    const ws = await new Exec(kc).exec(ns, 'p', 'c', ['/bin/sh', '-c', 'true'], new PassThrough(), null, null, false, (s) => (status = s.status ?? ''));
    await new Promise((r) => ws.on('close', r));
    return status;
  } catch (e) {
    return String((e as Error).message ?? e);
  }
}

describe('RBAC evaluated like the API server', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;
  let core: CoreV1Api;
  beforeAll(async () => {
    cluster = await startFixtureCluster(partialAccessScenario());
    kc = fixtureKubeConfig(cluster);
    core = kc.makeApiClient(CoreV1Api);
  });
  afterAll(async () => cluster.stop());

  test('a namespace-scoped Role: list in its namespace only, with the real 403 text elsewhere', async () => {
    expect(await status(core.listNamespacedPod({ namespace: 'a' }))).toEqual({ code: 200 });
    expect(await status(core.listNamespacedPod({ namespace: 'b' }))).toEqual({
      code: 403,
      message: `pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" in the namespace "b"`,
    });
    expect(await status(core.listPodForAllNamespaces())).toEqual({
      code: 403,
      message: `pods is forbidden: User "${SA}" cannot list resource "pods" in API group "" at the cluster scope`,
    });
  });

  test('get allowed but list denied (a ClusterRole bound to a group)', async () => {
    expect(await status(core.readNamespacedPod({ namespace: 'b', name: 'p' }))).toEqual({ code: 200 });
    expect((await status(core.listNamespacedPod({ namespace: 'b' }))).code).toBe(403);
  });

  test('logs and exec allowed in one namespace only (subresources)', async () => {
    expect(await readLog(kc, 'a')).toBe('hello a\n');
    await expect(readLog(kc, 'b')).rejects.toMatchObject({ code: 403 });
    const denied = await rawGet(kc, '/api/v1/namespaces/b/pods/p/log?container=c');
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(`pods "p" is forbidden: User "${SA}" cannot get resource "pods/log" in API group "" in the namespace "b"`);
    expect(await execStatus(kc, 'a')).toBe('Success');
    expect(await execStatus(kc, 'b')).toContain('403');
  });

  test('resourceNames: one named ConfigMap readable, its neighbour and the list not', async () => {
    expect((await status(core.readNamespacedConfigMap({ namespace: 'a', name: 'cfg-1' }))).code).toBe(200);
    expect(await status(core.readNamespacedConfigMap({ namespace: 'a', name: 'cfg-2' }))).toEqual({
      code: 403,
      message: `configmaps "cfg-2" is forbidden: User "${SA}" cannot get resource "configmaps" in API group "" in the namespace "a"`,
    });
    expect((await status(core.listNamespacedConfigMap({ namespace: 'a' }))).code).toBe(403);
  });

  test('aggregated ClusterRole: rules of the roles its selector picks; nonResourceURLs', async () => {
    expect((await status(core.listSecretForAllNamespaces())).code).toBe(200);
    expect((await status(core.readNamespacedSecret({ namespace: 'a', name: 'x' }))).code).toBe(403);
    const review = kc.makeApiClient(AuthorizationV1Api);
    const nonResource = await review.createSelfSubjectAccessReview({ body: { spec: { nonResourceAttributes: { verb: 'get', path: '/metrics' } } } });
    expect(nonResource.status).toEqual({ allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "collector-evidence" of ClusterRole "evidence-reader" to User "${SA}"` });
    const other = await review.createSelfSubjectAccessReview({ body: { spec: { nonResourceAttributes: { verb: 'get', path: '/logs' } } } });
    expect(other.status?.allowed).toBe(false);
  });

  test('SelfSubjectAccessReview answers from the same evaluation, namespace and name included', async () => {
    const api = kc.makeApiClient(AuthorizationV1Api);
    const ask = async (attrs: NonNullable<V1SelfSubjectAccessReview['spec']>['resourceAttributes']): Promise<unknown> =>
      (await api.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes: attrs! } } })).status;
    expect(await ask({ verb: 'list', resource: 'pods', namespace: 'a' })).toEqual({
      allowed: true,
      reason: `RBAC: allowed by RoleBinding "collector-a/a" of Role "pod-reader" to ServiceAccount "collector/aks-evidence"`,
    });
    expect(await ask({ verb: 'list', resource: 'pods', namespace: 'b' })).toEqual({ allowed: false });
    expect(await ask({ verb: 'list', resource: 'pods' })).toEqual({ allowed: false });
    expect(await ask({ verb: 'get', resource: 'pods', namespace: 'b' })).toEqual({
      allowed: true,
      reason: 'RBAC: allowed by ClusterRoleBinding "collector-get" of ClusterRole "pod-getter" to Group "system:serviceaccounts:aks-evidence"',
    });
    expect(((await ask({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'a' })) as { allowed: boolean }).allowed).toBe(true);
    expect(((await ask({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'b' })) as { allowed: boolean }).allowed).toBe(false);
    expect(((await ask({ verb: 'get', resource: 'configmaps', namespace: 'a', name: 'cfg-1' })) as { allowed: boolean }).allowed).toBe(true);
    expect(((await ask({ verb: 'get', resource: 'configmaps', namespace: 'a', name: 'cfg-2' })) as { allowed: boolean }).allowed).toBe(false);
  });

  test('SelfSubjectRulesReview lists the rules of the namespace from RBAC, bootstrap policy included', async () => {
    const api = kc.makeApiClient(AuthorizationV1Api);
    const a = (await api.createSelfSubjectRulesReview({ body: { spec: { namespace: 'a' } } })).status!;
    expect(a.incomplete).toBe(false);
    expect(a.resourceRules).toEqual(
      expect.arrayContaining([
        { verbs: ['get'], apiGroups: [''], resources: ['pods'] },
        { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods'] },
        { verbs: ['get', 'create'], apiGroups: [''], resources: ['pods/log', 'pods/exec'] },
        { verbs: ['get'], apiGroups: [''], resources: ['configmaps'], resourceNames: ['cfg-1'] },
        { verbs: ['list'], apiGroups: [''], resources: ['secrets'] },
        { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
      ]),
    );
    const b = (await api.createSelfSubjectRulesReview({ body: { spec: { namespace: 'b' } } })).status!;
    expect(b.resourceRules.some((r) => r.verbs.includes('list') && r.resources?.includes('pods'))).toBe(false);
    expect(b.nonResourceRules).toEqual(expect.arrayContaining([{ verbs: ['get'], nonResourceURLs: ['/metrics'] }]));
  });

  test('the user without any binding gets nothing but the bootstrap policy', async () => {
    const other = fixtureKubeConfig({ kubeconfigYaml: await cluster.kubeconfigFor('alice@contoso.example', ['devs']) });
    const api = other.makeApiClient(CoreV1Api);
    expect(await status(api.readNamespacedPod({ namespace: 'a', name: 'p' }))).toEqual({
      code: 403,
      message: 'pods "p" is forbidden: User "alice@contoso.example" cannot get resource "pods" in API group "" in the namespace "a"',
    });
    expect((await status(api.getAPIResources())).code).toBe(200);
  });
});

describe('the default collector grant (scenarios without RBAC for the collector)', () => {
  test('everything the scenario does not forbid; rules review says it is incomplete, like an Azure RBAC webhook', async () => {
    const s = partialAccessScenario();
    delete s.collector;
    s.objects = s.objects.filter((o) => !o.apiVersion.startsWith('rbac.'));
    s.forbidden = ['secrets'];
    const cluster = await startFixtureCluster(s);
    try {
      const kc = fixtureKubeConfig(cluster);
      const core = kc.makeApiClient(CoreV1Api);
      expect((await status(core.listPodForAllNamespaces())).code).toBe(200);
      expect(await status(core.listSecretForAllNamespaces())).toEqual({
        code: 403,
        message: `secrets is forbidden: User "${SA}" cannot list resource "secrets" in API group "" at the cluster scope`,
      });
      const rules = (await kc.makeApiClient(AuthorizationV1Api).createSelfSubjectRulesReview({ body: { spec: { namespace: 'b' } } })).status!;
      expect(rules).toMatchObject({ incomplete: true, evaluationError: 'webhook authorizer does not support user rule resolution' });
    } finally {
      await cluster.stop();
    }
  });
});
