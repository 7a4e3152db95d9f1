/**
 * Authentication like AKS: client-certificate users (local accounts: CN = user, O = groups)
 * beside bearer tokens, on the list, log and exec paths — through client-node and through the
 * collector's own undici/ws clients.
 */
import { AuthenticationV1Api, CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { commandHistorySource } from '../../shared/sources/commandhistory/source.js';
import { containerLogsSource } from '../../shared/sources/containerlogs/source.js';
import { eventsSource } from '../../shared/sources/events/source.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { generateTestCa, issueClientCert } from '../../shared/simulator/tls.js';
import { collect, context } from '../sources/helpers.js';

const NOW = new Date('2024-06-01T12:00:00Z');

describe('client certificates and tokens', () => {
  test('a certificate kubeconfig (CN = user, O = groups) works on list, log and exec through the collector', async () => {
    const scenario = await loadScenario('compromise', { now: NOW });
    const cluster = await startFixtureCluster(scenario, { now: () => NOW, credential: 'certificate' });
    try {
      expect(cluster.credential).toBe('certificate');
      const user = (parseYaml(cluster.kubeconfigYaml) as { users: { user: Record<string, string> }[] }).users[0]!.user;
      expect(Object.keys(user).sort()).toEqual(['client-certificate-data', 'client-key-data']);
      const kc = fixtureKubeConfig(cluster);
      const who = await kc.makeApiClient(AuthenticationV1Api).createSelfSubjectReview({ body: {} });
      expect(who.status?.userInfo).toEqual({
        username: 'system:serviceaccount:aks-evidence:collector',
        groups: ['system:serviceaccounts', 'system:serviceaccounts:aks-evidence', 'system:authenticated'],
      });
      const ctx = context(kc, { clock: () => NOW, sinceSeconds: 0 });
      const logs = await collect(containerLogsSource, ctx);
      expect(logs.rows.length).toBeGreaterThan(20);
      expect(logs.gaps.filter((g) => g.reason === 'unauthorized')).toEqual([]);
      const history = await collect(commandHistorySource, ctx);
      expect(history.rows.some((r) => r['command'] === 'nsenter -t 1 -m -u -i -n sh')).toBe(true);
      const events = await collect(eventsSource, ctx);
      expect(events.rows.length).toBe(scenario.objects.filter((o) => o.kind === 'Event').length);
      // Every request was authenticated by the certificate.
      expect(cluster.requestLog.filter((r) => r.status === 401)).toEqual([]);
    } finally {
      await cluster.stop();
    }
  });

  test('an AKS local admin account (O=system:masters) may do anything, whatever RBAC says', async () => {
    const scenario = await loadScenario('compromise', { now: NOW });
    scenario.collector = { access: 'rbac' };
    const cluster = await startFixtureCluster(scenario, { now: () => NOW });
    try {
      const collector = fixtureKubeConfig(cluster).makeApiClient(CoreV1Api);
      await expect(collector.listSecretForAllNamespaces()).rejects.toMatchObject({ code: 403 });
      const admin = fixtureKubeConfig({ kubeconfigYaml: await cluster.kubeconfigFor('masterclient', ['system:masters'], 'certificate') }).makeApiClient(CoreV1Api);
      expect((await admin.listSecretForAllNamespaces()).items.length).toBeGreaterThan(3);
    } finally {
      await cluster.stop();
    }
  });

  test('a certificate from another CA, an unknown token, and no credentials are 401; anonymous auth hands anonymous to RBAC', async () => {
    const scenario = await loadScenario('compromise', { now: NOW });
    const cluster = await startFixtureCluster(scenario, { now: () => NOW });
    const open = await startFixtureCluster(await loadScenario('compromise', { now: NOW }), { now: () => NOW, anonymousAuth: true });
    try {
      const foreign = await issueClientCert(await generateTestCa('someone else'), 'masterclient', ['system:masters']);
      const kc = new KubeConfig();
      const base = parseYaml(cluster.kubeconfigYaml) as { users: { user: Record<string, string> }[] };
      base.users[0]!.user = { 'client-certificate-data': Buffer.from(foreign.certPem).toString('base64'), 'client-key-data': Buffer.from(foreign.keyPem).toString('base64') };
      kc.loadFromString(JSON.stringify(base));
      await expect(kc.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
      const wrong = fixtureKubeConfig({ kubeconfigYaml: cluster.kubeconfigYaml.replace(cluster.token, 'not-the-token') });
      await expect(wrong.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
      const none = parseYaml(cluster.kubeconfigYaml) as { users: { user: Record<string, string> }[]; clusters: unknown };
      none.users[0]!.user = {};
      const anon = new KubeConfig();
      anon.loadFromString(JSON.stringify(none));
      await expect(anon.makeApiClient(CoreV1Api).listNamespace()).rejects.toMatchObject({ code: 401 });
      // With anonymous auth on, the compromise's "anonymous-admin" ClusterRoleBinding gives system:anonymous cluster-admin.
      none.users[0]!.user = {};
      none.clusters = (parseYaml(open.kubeconfigYaml) as { clusters: unknown }).clusters;
      const anonOpen = new KubeConfig();
      anonOpen.loadFromString(JSON.stringify(none));
      expect((await anonOpen.makeApiClient(CoreV1Api).listSecretForAllNamespaces()).items.length).toBeGreaterThan(3);
    } finally {
      await cluster.stop();
      await open.stop();
    }
  });
});
