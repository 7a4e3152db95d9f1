import { z } from 'zod';
import { DEFAULT_CLUSTER_REQUEST_BUDGET } from '../cluster/requestBudget.js';
import { parseIngestionTargetJson, type IngestionTarget } from '../ingestion/config.js';
import { SOURCES } from '../sources/registry.js';
import { AksEvidenceError, describeError } from '../util/errors.js';
import { parseDurationSeconds } from '../util/time.js';
import { parseManagedClusterId } from '../cluster/clusterRef.js';
import { preserveForProblem } from '../preservation/resources.js';

/**
 * The Functions app's configuration: app settings, read once at start-up, validated,
 * frozen, then passed in. This is the only module that reads process.env.
 *
 * Secrets among them (the storage connection string) are kept as non-enumerable
 * properties, so serializing or logging the settings object never prints them.
 */

/** Where evidence goes. */
export interface EvidenceStoreSettings {
  /** Blob container URL (no SAS, no key), e.g. https://acct.blob.core.windows.net/evidence. */
  readonly containerUrl: string;
  readonly containerName: string;
  /** Storage connection string (Azurite, local runs). Non-enumerable; managed identity is used when absent. */
  readonly connectionString?: string;
}

export interface AppSettings {
  readonly evidence: EvidenceStoreSettings;
  /** Logs Ingestion target; absent = evidence is sealed in Blob Storage only. */
  readonly ingestion?: IngestionTarget;
  /** Sources collected when a request names none. */
  readonly defaultSources: readonly string[];
  /** Container logs look-back when a request gives none, in seconds. */
  readonly defaultSinceSeconds: number;
  /**
   * The cluster's load budget: Kubernetes API requests in flight at once across every activity
   * of a run, on every instance (default 32; shared/pipeline/loadBudget.ts).
   */
  readonly concurrency: number;
  /** Pods per shard for pod-sharded sources (container logs, command history). */
  readonly podsPerShard: number;
  /** Apply a legal hold to every artifact unless the request says otherwise. */
  readonly legalHoldDefault: boolean;
  /** Per-blob retention (days) unless the request says otherwise. */
  readonly retentionDaysDefault?: number;
  /** Client id of the user-assigned managed identity; absent = system-assigned / developer credential. */
  readonly managedIdentityClientId?: string;
  /** For clusters with local accounts: use cluster-admin credentials (listClusterAdminCredential) instead of user ones. */
  readonly useAdminCredentials: boolean;
  /** Azure Resource Manager endpoint (sovereign clouds). */
  readonly armEndpoint: string;
  /** Time budget of one collect activity in seconds; keep it under functionTimeout. */
  readonly taskTimeoutSeconds: number;
  /** The site's host name, for the collector identity (WEBSITE_HOSTNAME), when running in Azure. */
  readonly hostName?: string;
  /** RFC 3161 Time-Stamping Authority URL: every seal's manifest hash is timestamped (manifest.json.tsr). Absent = no timestamp. */
  readonly tsaUrl?: string;
  /** AKS cluster resource ids collected when a Sentinel incident leads to no cluster (empty: answer 422). */
  readonly defaultClusters: readonly string[];
  /** Length of one preservation activity in seconds (default 240; keep it well under functionTimeout). */
  readonly preserveStretchSeconds: number;
  /** Preservation activities per orchestration generation before continue-as-new (default 12). */
  readonly preserveStretchesPerGeneration: number;
  /**
   * The preservation window of every run a Sentinel incident starts, in seconds (absent: none,
   * unless the incident body asks with "preserveFor"). The incident's closing stops it early.
   */
  readonly sentinelPreserveForSeconds?: number;
}

/** One problem per setting, naming it and the fix. */
export class AppSettingsError extends AksEvidenceError {
  override name = 'AppSettingsError';
  readonly problems: readonly { setting: string; message: string }[];
  constructor(problems: { setting: string; message: string }[]) {
    super(
      'ERR_APP_SETTINGS',
      `invalid app settings (fix them in the Function App's configuration or local.settings.json):\n` + problems.map((p) => `  ${p.setting}: ${p.message}`).join('\n'),
    );
    this.problems = problems;
  }
}

export const SETTING = {
  accountUrl: 'AKS_EVIDENCE_STORAGE_ACCOUNT_URL',
  connectionString: 'AKS_EVIDENCE_STORAGE_CONNECTION_STRING',
  container: 'AKS_EVIDENCE_CONTAINER',
  ingestion: 'AKS_EVIDENCE_INGESTION',
  defaultSources: 'AKS_EVIDENCE_DEFAULT_SOURCES',
  defaultSince: 'AKS_EVIDENCE_DEFAULT_SINCE',
  concurrency: 'AKS_EVIDENCE_CONCURRENCY',
  podsPerShard: 'AKS_EVIDENCE_PODS_PER_SHARD',
  legalHold: 'AKS_EVIDENCE_LEGAL_HOLD',
  retentionDays: 'AKS_EVIDENCE_RETENTION_DAYS',
  useAdminCredentials: 'AKS_EVIDENCE_USE_ADMIN_CREDENTIALS',
  armEndpoint: 'AKS_EVIDENCE_ARM_ENDPOINT',
  taskTimeout: 'AKS_EVIDENCE_TASK_TIMEOUT_SECONDS',
  defaultClusters: 'AKS_EVIDENCE_DEFAULT_CLUSTERS',
  clientId: 'AZURE_CLIENT_ID',
  hostName: 'WEBSITE_HOSTNAME',
  tsaUrl: 'AKS_EVIDENCE_TSA_URL',
  preserveStretch: 'AKS_EVIDENCE_PRESERVE_STRETCH_SECONDS',
  preserveGeneration: 'AKS_EVIDENCE_PRESERVE_STRETCHES_PER_GENERATION',
  sentinelPreserveFor: 'AKS_EVIDENCE_SENTINEL_PRESERVE_FOR',
} as const;

/** Azurite's well-known development account (public, documented; not a secret). */
export const AZURITE_BLOB_ENDPOINT = 'http://127.0.0.1:10000/devstoreaccount1';

const CONTAINER_NAME = /^(?=.{3,63}$)[a-z0-9](?:[a-z0-9]|-(?!-))*[a-z0-9]$/;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Env = Readonly<Record<string, string | undefined>>;

/** The blob endpoint a connection string names (BlobEndpoint=…, or the account's default, or Azurite's). */
export function blobEndpointOf(connectionString: string): string | undefined {
  const parts = new Map<string, string>();
  for (const piece of connectionString.split(';')) {
    const i = piece.indexOf('=');
    if (i > 0) parts.set(piece.slice(0, i).trim().toLowerCase(), piece.slice(i + 1).trim());
  }
  if (parts.get('usedevelopmentstorage')?.toLowerCase() === 'true') return AZURITE_BLOB_ENDPOINT;
  const explicit = parts.get('blobendpoint');
  if (explicit) return explicit.replace(/\/+$/, '');
  const account = parts.get('accountname');
  if (!account) return undefined;
  const protocol = parts.get('defaultendpointsprotocol') ?? 'https';
  const suffix = parts.get('endpointsuffix') ?? 'core.windows.net';
  return `${protocol}://${account}.blob.${suffix}`;
}

const bool = (setting: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((v) => ['true', 'false', '1', '0', 'yes', 'no'].includes(v), { error: `${setting} must be true or false` })
    .transform((v) => v === 'true' || v === '1' || v === 'yes');

const int = (setting: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, { error: `must be a whole number from ${min} to ${max}` })
    .transform(Number)
    .refine((n) => n >= min && n <= max, { error: `must be a whole number from ${min} to ${max}` });

/** Validate the settings; every problem is reported at once. */
export function loadAppSettings(env: Env, options: { knownSources?: readonly string[] } = {}): AppSettings {
  const knownSources = options.knownSources ?? SOURCES.names();
  const problems: { setting: string; message: string }[] = [];
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? undefined : v;
  };
  const check = <T>(name: string, schema: z.ZodType<T, string>, fallback: T): T => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const r = schema.safeParse(raw);
    if (r.success) return r.data;
    problems.push({ setting: name, message: `${r.error.issues.map((i) => i.message).join('; ')} (got "${raw}")` });
    return fallback;
  };

  // Evidence store.
  const accountUrl = get(SETTING.accountUrl);
  const connectionString = get(SETTING.connectionString);
  const containerName = get(SETTING.container);
  let endpoint: string | undefined;
  if (accountUrl && connectionString) {
    problems.push({
      setting: SETTING.connectionString,
      message: `set either ${SETTING.accountUrl} (managed identity, production) or ${SETTING.connectionString} (Azurite, local runs), not both`,
    });
  } else if (accountUrl) {
    try {
      const u = new URL(accountUrl);
      if (u.search || u.username || u.password) {
        problems.push({ setting: SETTING.accountUrl, message: 'give the bare account URL, without a SAS token or credentials, e.g. https://myevidence.blob.core.windows.net' });
      } else if (u.protocol !== 'https:' && u.hostname !== '127.0.0.1' && u.hostname !== 'localhost') {
        problems.push({ setting: SETTING.accountUrl, message: 'must use https, e.g. https://myevidence.blob.core.windows.net' });
      } else {
        endpoint = `${u.protocol}//${u.host}${u.pathname.replace(/\/+$/, '')}`;
      }
    } catch {
      problems.push({ setting: SETTING.accountUrl, message: 'not a URL; expected the blob endpoint of the evidence account, e.g. https://myevidence.blob.core.windows.net' });
    }
  } else if (connectionString) {
    endpoint = blobEndpointOf(connectionString);
    if (!endpoint) {
      problems.push({
        setting: SETTING.connectionString,
        message: 'cannot find the blob endpoint in it: give AccountName=…;AccountKey=…;BlobEndpoint=… (Azurite: "UseDevelopmentStorage=true")',
      });
    }
  } else {
    problems.push({
      setting: SETTING.accountUrl,
      message: `required: the evidence storage account's blob endpoint, e.g. https://myevidence.blob.core.windows.net (or ${SETTING.connectionString} for Azurite)`,
    });
  }
  if (!containerName) {
    problems.push({ setting: SETTING.container, message: 'required: the blob container holding evidence bundles (with version-level immutability), e.g. "evidence"' });
  } else if (!CONTAINER_NAME.test(containerName)) {
    problems.push({ setting: SETTING.container, message: `"${containerName}" is not a container name: 3-63 lower-case letters, digits and single hyphens` });
  }

  // Ingestion target.
  let ingestion: IngestionTarget | undefined;
  const ingestionText = get(SETTING.ingestion);
  if (ingestionText) {
    try {
      ingestion = parseIngestionTargetJson(ingestionText, SETTING.ingestion);
    } catch (error) {
      problems.push({ setting: SETTING.ingestion, message: describeError(error) });
    }
  }

  // Defaults.
  let defaultSources: string[] = [...knownSources];
  const sourcesText = get(SETTING.defaultSources);
  if (sourcesText) {
    const names = [
      ...new Set(
        sourcesText
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      ),
    ];
    const unknown = names.filter((n) => !knownSources.includes(n));
    if (unknown.length || names.length === 0) {
      problems.push({
        setting: SETTING.defaultSources,
        message: `unknown source(s) ${unknown.join(', ') || '(none given)'}; use a comma-separated list of ${knownSources.join(', ')}`,
      });
    } else {
      defaultSources = names;
    }
  }
  let defaultSinceSeconds = 86400;
  const sinceText = get(SETTING.defaultSince);
  if (sinceText) {
    try {
      defaultSinceSeconds = parseDurationSeconds(sinceText);
      if (defaultSinceSeconds < 1 || defaultSinceSeconds > 30 * 86400) throw new RangeError('must be from 1s to 30d');
    } catch (error) {
      problems.push({ setting: SETTING.defaultSince, message: `${describeError(error)}; e.g. "24h"` });
      defaultSinceSeconds = 86400;
    }
  }

  const concurrency = check(SETTING.concurrency, int(SETTING.concurrency, 1, 256), DEFAULT_CLUSTER_REQUEST_BUDGET);
  const podsPerShard = check(SETTING.podsPerShard, int(SETTING.podsPerShard, 10, 100_000), 250);
  const legalHoldDefault = check(SETTING.legalHold, bool(SETTING.legalHold), false);
  const retentionDaysDefault = check<number | undefined>(SETTING.retentionDays, int(SETTING.retentionDays, 1, 36500), undefined);
  const useAdminCredentials = check(SETTING.useAdminCredentials, bool(SETTING.useAdminCredentials), false);
  const taskTimeoutSeconds = check(SETTING.taskTimeout, int(SETTING.taskTimeout, 30, 24 * 3600), 25 * 60);
  const preserveStretchSeconds = check(SETTING.preserveStretch, int(SETTING.preserveStretch, 1, 1800), 240);
  const preserveStretchesPerGeneration = check(SETTING.preserveGeneration, int(SETTING.preserveGeneration, 1, 100), 12);

  let sentinelPreserveForSeconds: number | undefined;
  const sentinelPreserveText = get(SETTING.sentinelPreserveFor);
  if (sentinelPreserveText) {
    try {
      sentinelPreserveForSeconds = parseDurationSeconds(sentinelPreserveText);
      const problem = preserveForProblem(sentinelPreserveForSeconds, concurrency, SETTING.concurrency);
      if (problem) throw new RangeError(problem);
    } catch (error) {
      problems.push({ setting: SETTING.sentinelPreserveFor, message: `${describeError(error)}; leave it empty for no window` });
      sentinelPreserveForSeconds = undefined;
    }
  }

  const clientId = get(SETTING.clientId);
  if (clientId && !GUID.test(clientId)) {
    problems.push({ setting: SETTING.clientId, message: 'must be the client id (a GUID) of the user-assigned managed identity; leave it unset for the system-assigned identity' });
  }
  let armEndpoint = 'https://management.azure.com';
  const armText = get(SETTING.armEndpoint);
  if (armText) {
    try {
      const u = new URL(armText);
      if (u.protocol !== 'https:') throw new Error('not https');
      armEndpoint = `${u.protocol}//${u.host}`;
    } catch {
      problems.push({ setting: SETTING.armEndpoint, message: 'must be an https URL, e.g. https://management.usgovcloudapi.net' });
    }
  }

  let tsaUrl: string | undefined;
  const tsaText = get(SETTING.tsaUrl);
  if (tsaText) {
    try {
      const u = new URL(tsaText);
      if ((u.protocol !== 'https:' && u.protocol !== 'http:') || u.username || u.password) throw new Error('bad');
      tsaUrl = u.toString();
    } catch {
      problems.push({ setting: SETTING.tsaUrl, message: "must be the time-stamping authority's RFC 3161 http(s) URL without credentials, e.g. http://timestamp.digicert.com" });
    }
  }

  const defaultClusters: string[] = [];
  const clustersText = get(SETTING.defaultClusters);
  if (clustersText) {
    const ids = clustersText.split(/[\s,;]+/).filter(Boolean);
    if (ids.length > 20) problems.push({ setting: SETTING.defaultClusters, message: `lists ${ids.length} clusters; at most 20` });
    for (const id of ids.slice(0, 20)) {
      const parsed = parseManagedClusterId(id);
      if (parsed.ok) defaultClusters.push(parsed.ref.resourceId);
      else problems.push({ setting: SETTING.defaultClusters, message: `"${id.slice(0, 200)}": ${parsed.reason}; give comma-separated AKS cluster resource ids` });
    }
  }

  if (problems.length) throw new AppSettingsError(problems);

  const evidence: EvidenceStoreSettings = { containerUrl: `${endpoint}/${containerName}`, containerName: containerName as string };
  if (connectionString) Object.defineProperty(evidence, 'connectionString', { value: connectionString, enumerable: false });
  const hostName = get(SETTING.hostName);
  return deepFreeze({
    evidence,
    ...(ingestion ? { ingestion } : {}),
    defaultSources,
    defaultSinceSeconds,
    concurrency,
    podsPerShard,
    legalHoldDefault,
    ...(retentionDaysDefault !== undefined ? { retentionDaysDefault } : {}),
    ...(clientId ? { managedIdentityClientId: clientId } : {}),
    useAdminCredentials,
    armEndpoint,
    taskTimeoutSeconds,
    ...(tsaUrl ? { tsaUrl } : {}),
    ...(hostName ? { hostName } : {}),
    defaultClusters,
    preserveStretchSeconds,
    preserveStretchesPerGeneration,
    ...(sentinelPreserveForSeconds !== undefined ? { sentinelPreserveForSeconds } : {}),
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

let cached: AppSettings | undefined;

/** The process's settings: read from process.env on first use, then the same frozen object. */
export function getAppSettings(): AppSettings {
  cached ??= loadAppSettings(process.env);
  return cached;
}
