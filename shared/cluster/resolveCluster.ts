import type { TokenCredential } from '@azure/core-auth';
import type { Gap } from '../evidence/types.js';
import type { ClusterFacts } from './facts.js';
import type { ClusterRef } from './clusterRef.js';
import { describeError } from '../util/errors.js';
import { countPods, reviewSourceAccess, type AccessRequirements } from './accessReview.js';
import { clusterFactsFromArm, createArmClients, getAuditDiagnostics, getManagedCluster, type ArmClientOptions, type ArmClients } from './arm.js';
import { buildClusterKubeConfig } from './credentials.js';
import { KubeApi } from './kubeApi.js';
import { appendAll } from '../util/arrays.js';

export interface ResolveClusterOptions {
  cluster: ClusterRef;
  /** What the run's sources need from the Kubernetes API (their declarations): reviewed before collection. */
  access: AccessRequirements;
  credential: TokenCredential;
  /** ARM endpoint / trust / HTTP client (tests point this at a loopback stub). */
  arm?: ArmClientOptions;
  /** Pre-built clients (otherwise created from `credential` and `arm`). */
  armClients?: ArmClients;
  /** Local-accounts clusters: review access as cluster-admin (listClusterAdminCredential). */
  useAdminCredentials?: boolean;
  /** The cluster's load budget: Kubernetes requests in flight at once during the review (default 8, never more than this). */
  requestBudget?: number;
  abortSignal?: AbortSignal;
}

/**
 * Resolve a cluster into facts: ARM (auth mode, private cluster, addons, Kubernetes version,
 * audit diagnostic settings), then the Kubernetes API (what each source may read, pod count
 * for shard planning). Returns facts only: the credentials built for the review are dropped
 * here and never leave this function.
 *
 * Expected problems (audit logs off, a permission missing, the API server unreachable) are
 * gaps; only ARM failing to describe the cluster at all throws.
 */
export async function resolveCluster(options: ResolveClusterOptions): Promise<ClusterFacts> {
  const { cluster } = options;
  const arm = options.armClients ?? createArmClients(options.credential, cluster.subscriptionId, options.arm);
  const managed = await getManagedCluster(arm, cluster, options.abortSignal);
  const base = clusterFactsFromArm(managed, cluster);
  const { fqdn: _fqdn, privateFqdn: _privateFqdn, ...facts } = base;

  const gaps: Gap[] = [];
  const audit = await getAuditDiagnostics(arm, cluster, options.abortSignal);
  // Audit coverage first: it decides whether anything outside this bundle can be trusted later.
  if (audit.gap) gaps.push(audit.gap);

  const result: ClusterFacts = { ...facts, ...(audit.audit ? { audit: audit.audit } : {}), gaps };

  if (facts.authMode === 'local-accounts' && facts.localAccountsDisabled) {
    gaps.push({
      source: 'cluster',
      reason: 'unauthorized',
      detail: 'the cluster has neither AKS-managed Entra ID nor local accounts enabled: the collector has no way to authenticate',
    });
    return result;
  }

  let kube;
  try {
    kube = await buildClusterKubeConfig({
      arm,
      cluster,
      credential: options.credential,
      authMode: facts.authMode === 'local-accounts' ? 'local-accounts' : 'entra',
      ...(options.useAdminCredentials ? { useAdmin: true } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    });
  } catch (error) {
    gaps.push({ source: 'cluster', reason: 'unauthorized', detail: `no cluster credentials: ${describeError(error)}` });
    return result;
  }
  result.cluster = { ...result.cluster, server: kube.server };

  const budget = Math.max(1, Math.min(8, options.requestBudget ?? 8));
  KubeApi.for(kube.kubeConfig).budget.limit = budget;
  const review = await reviewSourceAccess(kube.kubeConfig, options.access, { concurrency: budget, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) });
  result.access = review.access;
  appendAll(gaps, review.gaps);

  try {
    result.podCount = await countPods(kube.kubeConfig, options.abortSignal ? { abortSignal: options.abortSignal } : {});
  } catch (error) {
    gaps.push({
      source: 'cluster',
      reason: 'error',
      detail:
        `pod count unknown, so pod-based sources are not sharded: ${describeError(error)}` +
        (facts.privateCluster ? '. This is a private cluster: the Function App must be integrated with (or peered to) its virtual network' : ''),
    });
  }
  return result;
}
