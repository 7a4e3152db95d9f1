import { ContainerServiceClient, type ManagedCluster } from '@azure/arm-containerservice';
import { MonitorClient } from '@azure/arm-monitor';
import type { TokenCredential } from '@azure/core-auth';
import type { HttpClient } from '@azure/core-rest-pipeline';
import type { Gap } from '../evidence/types.js';
import type { ClusterFacts } from './facts.js';
import type { ClusterRef } from './clusterRef.js';
import { AksEvidenceError, describeError } from '../util/errors.js';

/**
 * Azure Resource Manager access for cluster resolution and credentials, through the real
 * @azure/arm-containerservice and @azure/arm-monitor clients.
 */

export interface ArmClientOptions {
  /** ARM endpoint (default https://management.azure.com; sovereign clouds differ). */
  endpoint?: string;
  /** Token audience; the scope is `<audience>/.default` (default: the endpoint, as in every Azure cloud). */
  audience?: string;
  /** Extra CA certificates (PEM) to trust, e.g. a loopback stub's test CA. Replaces the default trust store for ARM calls. */
  caPem?: string;
  /** Replace the HTTP client entirely (proxies, tests). */
  httpClient?: HttpClient;
  abortSignal?: AbortSignal;
}

export interface ArmClients {
  containerService: ContainerServiceClient;
  monitor: MonitorClient;
}

export function createArmClients(credential: TokenCredential, subscriptionId: string, options: ArmClientOptions = {}): ArmClients {
  const endpoint = (options.endpoint ?? 'https://management.azure.com').replace(/\/+$/, '');
  const common = {
    endpoint,
    credentials: { scopes: [`${(options.audience ?? endpoint).replace(/\/+$/, '')}/.default`] },
    ...(options.caPem ? { tlsOptions: { ca: options.caPem } } : {}),
    ...(options.httpClient ? { httpClient: options.httpClient } : {}),
  };
  return {
    containerService: new ContainerServiceClient(credential, subscriptionId, common),
    monitor: new MonitorClient(credential, subscriptionId, common),
  };
}

/** An ARM call failed: the message names the resource, the status, and what to check. Never carries tokens. */
export class ArmError extends AksEvidenceError {
  override name = 'ArmError';
  readonly statusCode?: number;
  constructor(code: string, message: string, statusCode: number | undefined, options?: { cause?: unknown }) {
    super(code, message, options);
    if (statusCode !== undefined) this.statusCode = statusCode;
  }
}

export function armStatus(error: unknown): number | undefined {
  const s = (error as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof s === 'number' ? s : undefined;
}

/** A safe one-line description of an ARM failure (the SDK's RestError keeps the request, with headers, on the object). */
export function describeArmError(error: unknown): string {
  const status = armStatus(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  const message = describeError(error).split('\n')[0]?.slice(0, 300) ?? '';
  return `${status !== undefined ? `HTTP ${status}` : 'no response'}${typeof code === 'string' ? ` ${code}` : ''}: ${message}`;
}

/** GET the managed cluster. 404/403 become errors that say what to fix. */
export async function getManagedCluster(clients: ArmClients, ref: ClusterRef, abortSignal?: AbortSignal): Promise<ManagedCluster> {
  try {
    return await clients.containerService.managedClusters.get(ref.resourceGroup, ref.name, abortSignal ? { abortSignal } : {});
  } catch (error) {
    const status = armStatus(error);
    if (status === 404) {
      throw new ArmError('ERR_CLUSTER_NOT_FOUND', `AKS cluster ${ref.resourceId} was not found (ARM 404): check the resource id`, status);
    }
    if (status === 401 || status === 403) {
      throw new ArmError(
        'ERR_ARM_FORBIDDEN',
        `the Function App's identity may not read ${ref.resourceId} (ARM ${status}): assign it the "Azure Kubernetes Service Cluster User Role" (and Reader) on the cluster`,
        status,
      );
    }
    throw new ArmError('ERR_ARM', `reading ${ref.resourceId} from Azure Resource Manager failed: ${describeArmError(error)}`, status);
  }
}

/** The facts ARM knows about a cluster (before the Kubernetes access review). */
export function clusterFactsFromArm(mc: ManagedCluster, ref: ClusterRef): Omit<ClusterFacts, 'gaps'> & { fqdn?: string; privateFqdn?: string } {
  const entra = Boolean(mc.aadProfile?.managed || mc.aadProfile?.enableAzureRbac);
  const addons: Record<string, boolean> = {};
  for (const [name, profile] of Object.entries(mc.addonProfiles ?? {})) addons[name] = Boolean(profile?.enabled);
  const privateCluster = Boolean(mc.apiServerAccessProfile?.enablePrivateCluster);
  const host = privateCluster ? (mc.privateFqdn ?? mc.fqdn) : (mc.fqdn ?? mc.privateFqdn);
  const version = mc.currentKubernetesVersion ?? mc.kubernetesVersion;
  return {
    cluster: {
      server: host ? `https://${host}:443` : '',
      name: ref.name,
      resourceId: ref.resourceId,
      ...(version ? { kubernetesVersion: version } : {}),
    },
    // A cluster without AKS-managed Entra ID authenticates with local accounts only.
    authMode: entra ? 'entra' : 'local-accounts',
    localAccountsDisabled: Boolean(mc.disableLocalAccounts),
    privateCluster,
    addons,
    ...(mc.fqdn ? { fqdn: mc.fqdn } : {}),
    ...(mc.privateFqdn ? { privateFqdn: mc.privateFqdn } : {}),
  };
}

export const AUDIT_CATEGORIES = ['kube-audit', 'kube-audit-admin'] as const;
/** Category groups that include the audit categories on AKS. */
const AUDIT_GROUPS = new Set(['audit', 'alllogs']);

/**
 * kube-audit / kube-audit-admin diagnostic settings and their destinations. Audit logs are
 * not enabled by default, and without them nobody can tell later who did what through the
 * API server: when they are off, that is the run's first gap.
 */
export async function getAuditDiagnostics(clients: ArmClients, ref: ClusterRef, abortSignal?: AbortSignal): Promise<{ audit?: NonNullable<ClusterFacts['audit']>; gap?: Gap }> {
  const categories = new Set<string>();
  const destinations: { workspaceId?: string; storageAccountId?: string }[] = [];
  try {
    // The SDK expands {+resourceUri} after a "/": give the id without its leading slash.
    const iter = clients.monitor.diagnosticSettings.list(ref.resourceId.replace(/^\/+/, ''), abortSignal ? { abortSignal } : {});
    for await (const setting of iter) {
      const enabled = new Set<string>();
      for (const log of setting.logs ?? []) {
        if (!log.enabled) continue;
        const cat = log.category?.toLowerCase();
        const group = log.categoryGroup?.toLowerCase();
        if (cat && (AUDIT_CATEGORIES as readonly string[]).includes(cat)) enabled.add(cat);
        if (group && AUDIT_GROUPS.has(group)) AUDIT_CATEGORIES.forEach((c) => enabled.add(c));
      }
      if (enabled.size === 0) continue;
      enabled.forEach((c) => categories.add(c));
      const dest: { workspaceId?: string; storageAccountId?: string } = {};
      if (setting.workspaceId) dest.workspaceId = setting.workspaceId;
      if (setting.storageAccountId) dest.storageAccountId = setting.storageAccountId;
      if (dest.workspaceId || dest.storageAccountId) destinations.push(dest);
    }
  } catch (error) {
    const status = armStatus(error);
    return {
      gap: {
        source: 'audit',
        reason: status === 403 || status === 401 ? 'forbidden' : 'error',
        resource: `${ref.resourceId}/providers/Microsoft.Insights/diagnosticSettings`,
        detail:
          `audit log coverage unknown: the diagnostic settings could not be read (${describeArmError(error)}). ` +
          'Give the identity Monitoring Reader on the cluster, or check kube-audit / kube-audit-admin in the portal.',
      },
    };
  }
  const list = [...categories].sort();
  const audit = { enabled: list.length > 0, categories: list, destinations };
  if (!audit.enabled) {
    return {
      audit,
      gap: {
        source: 'audit',
        reason: 'not-enabled',
        resource: `${ref.resourceId}/providers/Microsoft.Insights/diagnosticSettings`,
        detail:
          'Kubernetes audit logs are not enabled (no diagnostic setting sends kube-audit or kube-audit-admin): API server activity ' +
          'before and during this collection is not recorded anywhere. Enable a diagnostic setting with kube-audit-admin (or kube-audit) to a Log Analytics workspace now.',
      },
    };
  }
  return { audit };
}
