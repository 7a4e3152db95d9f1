import { createArmClients } from '../../shared/cluster/arm.js';
import { KubeApi } from '../../shared/cluster/kubeApi.js';
import { AKS_ENTRA_SCOPE, buildClusterKubeConfig } from '../../shared/cluster/credentials.js';
import { buildClusterRef } from '../../shared/cluster/clusterRef.js';
import { entraCluster, localAccountsCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a failure, but it succeeded');
}

describe('AKS credentials built in memory', () => {
  let fixture: FixtureCluster;
  let arm: ArmStub;

  beforeAll(async () => {
    fixture = await startFixtureCluster(generateCluster({ pods: 6, namespaces: 2, linesPerContainer: 1 }));
    arm = await startArmStub({
      clusters: [
        entraCluster(fixture),
        localAccountsCluster(fixture),
        // Entra cluster whose user credential the identity may not list.
        { ...entraCluster(fixture, 'aks-denied'), userKubeconfig: '' },
      ],
    });
    arm.faults.push({ match: 'aks-denied/listClusterUserCredential', status: 403 });
  });
  afterAll(async () => {
    await Promise.all([fixture?.stop(), arm?.stop()]);
  });

  const clients = (credential: ReturnType<typeof testCredential>) =>
    createArmClients(credential, SUBSCRIPTION, { endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' });

  it('Entra cluster: server and CA from the AKS kubeconfig, the AKS token added per request and never stored in the KubeConfig', async () => {
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token });
    const built = await buildClusterKubeConfig({
      arm: clients(credential),
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
      credential,
      authMode: 'entra',
    });
    expect(built.server).toBe(fixture.server);
    expect(built.auth).toBe('entra-token');
    // The exec (kubelogin) user AKS returned is not used: a Function has no kubelogin.
    expect(built.kubeConfig.getCurrentUser()?.exec).toBeUndefined();
    const namespaces = await KubeApi.for(built.kubeConfig).getJson<{ items: unknown[] }>('/api/v1/namespaces');
    expect(namespaces.items.length).toBeGreaterThan(0);
    expect(credential.requests.filter((r) => r.scope === AKS_ENTRA_SCOPE)).toHaveLength(1);
    // Nothing in the KubeConfig object holds the token.
    const serialized = JSON.stringify({ users: built.kubeConfig.users, clusters: built.kubeConfig.clusters, contexts: built.kubeConfig.contexts });
    expect(serialized).not.toContain(fixture.token);
  });

  it('refreshes the token before it expires: a long activity keeps working without rebuilding', async () => {
    let now = Date.parse('2026-11-22T10:00:00Z');
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token }, { lifetimeInMs: 10 * 60_000, now: () => now });
    const built = await buildClusterKubeConfig({
      arm: clients(credential),
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
      credential,
      authMode: 'entra',
      refreshMarginInMs: 5 * 60_000,
      clock: () => new Date(now),
    });
    const api = KubeApi.for(built.kubeConfig);
    const listNamespace = () => api.getJson('/api/v1/namespaces');
    const aksTokens = () => credential.requests.filter((r) => r.scope === AKS_ENTRA_SCOPE).length;
    await listNamespace();
    await listNamespace();
    expect(aksTokens()).toBe(1); // cached
    now += 4 * 60_000; // 6 minutes left: still outside the 5-minute margin
    await listNamespace();
    expect(aksTokens()).toBe(1);
    now += 2 * 60_000; // 4 minutes left: refresh
    await listNamespace();
    expect(aksTokens()).toBe(2);
  });

  it('local-accounts cluster: the user kubeconfig as AKS issued it; admin only when asked', async () => {
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN });
    const ref = buildClusterRef(SUBSCRIPTION, 'rg-legacy', 'aks-legacy');
    const user = await buildClusterKubeConfig({ arm: clients(credential), cluster: ref, credential, authMode: 'local-accounts' });
    expect(user.auth).toBe('local-user');
    expect(user.kubeConfig.getCurrentUser()?.name).toBe('clusterUser_rg_aks-legacy');
    expect((await KubeApi.for(user.kubeConfig).getJson<{ items: unknown[] }>('/api/v1/namespaces')).items.length).toBeGreaterThan(0);
    const admin = await buildClusterKubeConfig({ arm: clients(credential), cluster: ref, credential, authMode: 'local-accounts', useAdmin: true });
    expect(admin.auth).toBe('local-admin');
    expect(admin.kubeConfig.getCurrentUser()?.name).toBe('clusterAdmin_rg_aks-legacy');
    expect(arm.requests.filter((r) => r.path.endsWith('/listClusterAdminCredential'))).toHaveLength(1);
    expect(credential.requests.some((r) => r.scope === AKS_ENTRA_SCOPE)).toBe(false);
  });

  it('admin credentials on a cluster with local accounts disabled: the error says what to change', async () => {
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN });
    const error = await failure(
      buildClusterKubeConfig({
        arm: clients(credential),
        cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
        credential,
        authMode: 'local-accounts',
        useAdmin: true,
      }),
    );
    expect(error.code).toBe('ERR_CLUSTER_CREDENTIALS');
    expect(error.message).toContain('HTTP 400');
    expect(error.message).toContain('local accounts disabled');
  });

  it('403 on listClusterUserCredential names the role; no token or kubeconfig in the error', async () => {
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: fixture.token });
    const error = await failure(
      buildClusterKubeConfig({
        arm: clients(credential),
        cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-denied'),
        credential,
        authMode: 'entra',
      }),
    );
    expect(error.code).toBe('ERR_CLUSTER_CREDENTIALS');
    expect(error.message).toContain('Azure Kubernetes Service Cluster User Role');
    for (const s of [ARM_TOKEN, fixture.token, 'Bearer', 'certificate-authority-data']) expect(error.message).not.toContain(s);
  });

  it('an AKS token the credential cannot get fails on first use with a clear error', async () => {
    const credential = testCredential({ [ARM_SCOPE]: ARM_TOKEN });
    const built = await buildClusterKubeConfig({
      arm: clients(credential),
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
      credential,
      authMode: 'entra',
    });
    const error = await failure(KubeApi.for(built.kubeConfig).getJson('/api/v1/namespaces'));
    expect(error.code).toBe('ERR_AKS_TOKEN');
    expect(error.message).toContain('6dae42f8-4368-4678-94ff-3960e28e3630/.default');
  });
});
