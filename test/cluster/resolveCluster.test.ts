import { AKS_ENTRA_SCOPE } from '../../shared/cluster/credentials.js';
import { resolveCluster } from '../../shared/cluster/resolveCluster.js';
import { buildClusterRef } from '../../shared/cluster/clusterRef.js';
import { entraCluster, localAccountsCluster, SUBSCRIPTION } from '../fixtures/arm/clusters.js';
import { ARM_SCOPE, ARM_TOKEN, startArmStub, testCredential, type ArmStub } from '../fixtures/arm/server.js';
import { generateCluster } from '../../shared/simulator/kube/generate.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { SOURCES } from '../../shared/sources/registry.js';

/** The error a promise rejects with (the test fails if it resolves). */
async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { code?: string };
  }
  throw new Error('expected a failure, but it succeeded');
}

const REVIEWED = ['containerlogs', 'events', 'commandhistory', 'rbacbindings', 'snapshot'];
const SOURCES_ACCESS = SOURCES.kubernetesAccess(REVIEWED);

describe('resolveCluster against a loopback ARM stub and the Kubernetes fixture', () => {
  let fixture: FixtureCluster;
  let restricted: FixtureCluster;
  let arm: ArmStub;

  beforeAll(async () => {
    fixture = await startFixtureCluster(generateCluster({ pods: 120, namespaces: 4, linesPerContainer: 2 }));
    const scenario = generateCluster({ pods: 10, namespaces: 2, linesPerContainer: 1 });
    scenario.forbidden = ['pods/exec', 'secrets', 'rbac.authorization.k8s.io/clusterrolebindings'];
    restricted = await startFixtureCluster(scenario);
    arm = await startArmStub({
      clusters: [entraCluster(fixture), localAccountsCluster(fixture), entraCluster(restricted, 'aks-restricted', { diagnosticSettings: 403 })],
    });
  });
  afterAll(async () => {
    await Promise.all([fixture?.stop(), restricted?.stop(), arm?.stop()]);
  });

  const armOptions = () => ({ endpoint: arm.endpoint, caPem: arm.caPem, audience: 'https://management.azure.com' });
  const credentialFor = (f: FixtureCluster) => testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: f.token });

  it('Entra cluster: facts from ARM and the API server, audit-off gap first, no secret in the facts', async () => {
    const credential = credentialFor(fixture);
    const facts = await resolveCluster({
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
      access: SOURCES_ACCESS,
      credential,
      arm: armOptions(),
    });
    expect(facts.cluster).toEqual({
      server: fixture.server,
      name: 'aks-prod',
      resourceId: `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod`,
      kubernetesVersion: '1.30.4',
    });
    expect(facts).toMatchObject({ authMode: 'entra', localAccountsDisabled: true, privateCluster: false, addons: { omsagent: true, azurepolicy: false }, podCount: 120 });
    expect(facts.audit).toEqual({ enabled: false, categories: [], destinations: [] });
    expect(facts.gaps[0]).toMatchObject({ source: 'audit', reason: 'not-enabled' });
    expect(facts.gaps[0]?.detail).toContain('kube-audit');
    for (const s of REVIEWED) expect(facts.access?.[s]).toEqual({ allowed: true, missing: [] });
    expect(facts.gaps).toHaveLength(1);

    // The AKS token was asked for the AKS Entra server app; ARM calls carried the ARM token.
    expect(credential.requests.map((r) => r.scope)).toEqual(expect.arrayContaining([ARM_SCOPE, AKS_ENTRA_SCOPE]));
    expect(arm.requests.every((r) => r.authorized)).toBe(true);
    // The monitor client lists diagnostic settings on the cluster id itself (one slash).
    expect(
      arm.requests.some(
        (r) => r.method === 'GET' && /^\/subscriptions\/[^/]+\/resourceGroups\/rg-prod\/.*\/aks-prod\/providers\/Microsoft.Insights\/diagnosticSettings$/i.test(r.path),
      ),
    ).toBe(true);

    const text = JSON.stringify(facts);
    for (const secret of [fixture.token, ARM_TOKEN, 'BEGIN CERTIFICATE', 'certificate-authority-data', 'Bearer', Buffer.from(fixture.caPem).toString('base64').slice(0, 40)]) {
      expect(text).not.toContain(secret);
    }
  });

  it('local-accounts private cluster: the user kubeconfig is used, audit destinations read, no AKS token requested', async () => {
    const credential = credentialFor(fixture);
    const facts = await resolveCluster({
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-legacy', 'aks-legacy'),
      access: SOURCES.kubernetesAccess(['events', 'containerlogs']),
      credential,
      arm: armOptions(),
    });
    expect(facts).toMatchObject({ authMode: 'local-accounts', localAccountsDisabled: false, privateCluster: true, podCount: 120 });
    expect(facts.audit).toEqual({
      enabled: true,
      categories: ['kube-audit', 'kube-audit-admin'],
      destinations: [
        { workspaceId: '/subscriptions/x/resourceGroups/rg-soc/providers/Microsoft.OperationalInsights/workspaces/law-soc' },
        { storageAccountId: '/subscriptions/x/resourceGroups/rg-soc/providers/Microsoft.Storage/storageAccounts/auditarchive' },
      ],
    });
    expect(facts.gaps).toEqual([]);
    expect(credential.requests.some((r) => r.scope === AKS_ENTRA_SCOPE)).toBe(false);
    expect(arm.requests.some((r) => r.path.endsWith('/listClusterUserCredential'))).toBe(true);
    expect(JSON.stringify(facts)).not.toContain(fixture.token);
  });

  it('missing permissions become named gaps per source; unreadable diagnostic settings too', async () => {
    const facts = await resolveCluster({
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-restricted'),
      access: SOURCES_ACCESS,
      credential: credentialFor(restricted),
      arm: armOptions(),
    });
    expect(facts.audit).toBeUndefined();
    expect(facts.gaps[0]).toMatchObject({ source: 'audit', reason: 'forbidden' });
    expect(facts.access?.commandhistory).toEqual({ allowed: false, missing: ['get pods/exec', 'create pods/exec'] });
    expect(facts.access?.snapshot).toEqual({ allowed: false, missing: ['list secrets'] });
    expect(facts.access?.rbacbindings).toEqual({ allowed: false, missing: ['list clusterrolebindings.rbac.authorization.k8s.io'] });
    expect(facts.access?.containerlogs).toEqual({ allowed: true, missing: [] });
    const forbidden = facts.gaps.filter((g) => g.reason === 'forbidden' && g.source !== 'audit').map((g) => g.source);
    expect(forbidden.sort()).toEqual(['commandhistory', 'rbacbindings', 'snapshot']);
    expect(facts.gaps.find((g) => g.source === 'commandhistory')?.detail).toContain('may not get pods/exec, create pods/exec');
    expect(facts.podCount).toBe(10);
  });

  it('an unknown cluster fails with what to check, and no token in the message', async () => {
    const error = await failure(
      resolveCluster({
        cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-missing'),
        access: SOURCES_ACCESS,
        credential: credentialFor(fixture),
        arm: armOptions(),
      }),
    );
    expect(error).toBeInstanceOf(Error);
    expect(error.code).toBe('ERR_CLUSTER_NOT_FOUND');
    expect(error.message).toContain('managedClusters/aks-missing was not found');
    expect(error.message).not.toContain(ARM_TOKEN);
  });

  it('an identity ARM refuses: 403 names the role to assign', async () => {
    arm.faults.push({ match: 'GET /subscriptions', status: 403, times: 1 });
    const error = await failure(
      resolveCluster({
        cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
        access: SOURCES_ACCESS,
        credential: credentialFor(fixture),
        arm: armOptions(),
      }),
    );
    expect(error.code).toBe('ERR_ARM_FORBIDDEN');
    expect(error.message).toContain('Azure Kubernetes Service Cluster User Role');
  });

  it('an API server that refuses the token: resolution still returns facts, with the failure as gaps', async () => {
    const wrongToken = testCredential({ [ARM_SCOPE]: ARM_TOKEN, [AKS_ENTRA_SCOPE]: 'not-the-fixture-token' });
    const facts = await resolveCluster({
      cluster: buildClusterRef(SUBSCRIPTION, 'rg-prod', 'aks-prod'),
      access: SOURCES.kubernetesAccess(['events']),
      credential: wrongToken,
      arm: armOptions(),
    });
    expect(facts.access?.events?.allowed).toBe(false);
    expect(facts.gaps.map((g) => g.reason)).toEqual(['not-enabled', 'unauthorized', 'error']);
    expect(facts.podCount).toBeUndefined();
    expect(JSON.stringify(facts)).not.toContain('not-the-fixture-token');
  });
});
