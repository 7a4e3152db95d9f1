import type { AccessToken, TokenCredential } from '@azure/core-auth';
import { load as parseYaml } from 'js-yaml';
import { KubeConfig, type KubeAuthenticator, type User } from './kubeConfig.js';
import type { ClusterRef } from './clusterRef.js';
import { AksEvidenceError } from '../util/errors.js';
import { systemClock, type Clock } from '../util/time.js';
import { armStatus, describeArmError, type ArmClients } from './arm.js';

/**
 * Credentials for one cluster, built inside the activity that needs them and kept in process
 * memory only: never returned through orchestration history, never logged.
 *
 *  - Entra clusters (AKS-managed Entra ID): server and CA come from listClusterUserCredential's
 *    kubeconfig (its exec/kubelogin user is ignored: a Function has no kubelogin); requests
 *    carry a token for the AKS Entra server application, requested from the app's
 *    TokenCredential by an authenticator on every request, so a long activity refreshes it
 *    before it expires instead of failing halfway.
 *  - Local-accounts clusters: the user (or, when configured, admin) kubeconfig as AKS issues it.
 */

/** The AKS Entra server application (the same in every cloud). */
export const AKS_ENTRA_SERVER_APP_ID = '6dae42f8-4368-4678-94ff-3960e28e3630';
export const AKS_ENTRA_SCOPE = `${AKS_ENTRA_SERVER_APP_ID}/.default`;

const ENTRA_USER = 'aks-evidence-entra';

export interface ClusterCredentialOptions {
  arm: ArmClients;
  cluster: ClusterRef;
  credential: TokenCredential;
  authMode: 'entra' | 'local-accounts';
  /** Local-accounts clusters: use listClusterAdminCredential (cluster-admin) instead of the user credential. */
  useAdmin?: boolean;
  /** Refresh the Entra token when it expires within this many ms (default 5 minutes). */
  refreshMarginInMs?: number;
  clock?: Clock;
  abortSignal?: AbortSignal;
}

export interface ClusterKubeConfig {
  kubeConfig: KubeConfig;
  /** API server URL (no credentials). */
  server: string;
  /** How requests authenticate: safe to record. */
  auth: 'entra-token' | 'local-user' | 'local-admin';
}

/** Server and CA of the kubeconfig AKS issued; anything else in it stays untouched. */
interface KubeconfigDoc {
  clusters?: { name?: string; cluster?: { server?: string; 'certificate-authority-data'?: string } }[];
}

function decode(value: Uint8Array | undefined): string {
  if (!value) return '';
  return Buffer.from(value).toString('utf8');
}

/** Adds the Entra token to every request for the ENTRA_USER user; caches it until shortly before it expires. */
export class EntraTokenAuthenticator implements KubeAuthenticator {
  private token: AccessToken | undefined;
  private pending: Promise<AccessToken> | undefined;

  constructor(
    private readonly credential: TokenCredential,
    private readonly options: { refreshMarginInMs?: number; clock?: Clock; abortSignal?: AbortSignal } = {},
  ) {}

  isAuthProvider(user: User): boolean {
    return user.name === ENTRA_USER;
  }

  async applyAuthentication(_user: User, opts: { headers?: Record<string, unknown> }): Promise<void> {
    const token = await this.getToken();
    const headers = opts.headers ?? {};
    headers.Authorization = `Bearer ${token.token}`;
    opts.headers = headers;
  }

  /** A token valid for at least the refresh margin. */
  async getToken(): Promise<AccessToken> {
    const now = (this.options.clock ?? systemClock)().getTime();
    const margin = this.options.refreshMarginInMs ?? 5 * 60_000;
    if (this.token && this.token.expiresOnTimestamp - margin > now) return this.token;
    this.pending ??= this.fetchToken().finally(() => {
      this.pending = undefined;
    });
    this.token = await this.pending;
    return this.token;
  }

  private async fetchToken(): Promise<AccessToken> {
    let token: AccessToken | null;
    try {
      token = await this.credential.getToken(AKS_ENTRA_SCOPE, this.options.abortSignal ? { abortSignal: this.options.abortSignal } : {});
    } catch (error) {
      throw new AksEvidenceError(
        'ERR_AKS_TOKEN',
        `could not get an Entra token for the AKS server application (${AKS_ENTRA_SCOPE}): ${(error as Error)?.message?.split('\n')[0] ?? 'unknown error'}`,
        { cause: error },
      );
    }
    if (!token) throw new AksEvidenceError('ERR_AKS_TOKEN', `the credential returned no token for ${AKS_ENTRA_SCOPE}`);
    return token;
  }
}

async function fetchKubeconfig(options: ClusterCredentialOptions, admin: boolean): Promise<string> {
  const { arm, cluster } = options;
  const request = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  try {
    const result = admin
      ? await arm.containerService.managedClusters.listClusterAdminCredentials(cluster.resourceGroup, cluster.name, request)
      : await arm.containerService.managedClusters.listClusterUserCredentials(cluster.resourceGroup, cluster.name, request);
    const text = decode(result.kubeconfigs?.[0]?.value);
    if (!text) throw new AksEvidenceError('ERR_KUBECONFIG', `AKS returned no kubeconfig for ${cluster.resourceId}`);
    return text;
  } catch (error) {
    if (error instanceof AksEvidenceError) throw error;
    const status = armStatus(error);
    const which = admin ? 'listClusterAdminCredential' : 'listClusterUserCredential';
    const hint =
      status === 403
        ? `; assign the Function App's identity the "Azure Kubernetes Service Cluster ${admin ? 'Admin' : 'User'} Role" on the cluster`
        : status === 400 && admin
          ? '; the cluster may have local accounts disabled: use its Entra integration instead (unset AKS_EVIDENCE_USE_ADMIN_CREDENTIALS)'
          : '';
    throw new AksEvidenceError('ERR_CLUSTER_CREDENTIALS', `${which} for ${cluster.resourceId} failed (${describeArmError(error)})${hint}`);
  }
}

/**
 * Build an in-memory KubeConfig for the cluster. The result holds credentials: keep it in the
 * activity, pass it only to the Kubernetes client.
 */
export async function buildClusterKubeConfig(options: ClusterCredentialOptions): Promise<ClusterKubeConfig> {
  if (options.authMode === 'local-accounts') {
    const admin = options.useAdmin ?? false;
    const text = await fetchKubeconfig(options, admin);
    const kubeConfig = new KubeConfig();
    try {
      kubeConfig.loadFromString(text);
    } catch {
      // The parser's message may quote the document: say only what failed.
      throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig AKS returned for ${options.cluster.resourceId} could not be parsed`);
    }
    const server = kubeConfig.getCurrentCluster()?.server;
    if (!server) throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig AKS returned for ${options.cluster.resourceId} has no current cluster`);
    return { kubeConfig, server, auth: admin ? 'local-admin' : 'local-user' };
  }

  const text = await fetchKubeconfig(options, false);
  let doc: KubeconfigDoc;
  try {
    doc = parseYaml(text) as KubeconfigDoc;
  } catch {
    throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig AKS returned for ${options.cluster.resourceId} could not be parsed`);
  }
  const entry = doc?.clusters?.[0]?.cluster;
  const server = entry?.server;
  if (!server) throw new AksEvidenceError('ERR_KUBECONFIG', `the kubeconfig AKS returned for ${options.cluster.resourceId} names no API server`);
  const caData = entry['certificate-authority-data'];
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromClusterAndUser({ name: options.cluster.name, server, skipTLSVerify: false, ...(caData ? { caData } : {}) }, { name: ENTRA_USER });
  kubeConfig.addAuthenticator(
    new EntraTokenAuthenticator(options.credential, {
      ...(options.refreshMarginInMs !== undefined ? { refreshMarginInMs: options.refreshMarginInMs } : {}),
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    }),
  );
  return { kubeConfig, server, auth: 'entra-token' };
}
