import { getAppSettings, type AppSettings } from '../config/appSettings.js';
import { parseManagedClusterId, type ClusterRef } from '../cluster/clusterRef.js';
import type { IncidentReaders } from '../request/incident/resolve.js';
import type { RequestDefaults } from '../request/schema.js';
import type { ActivityEnvironment } from './activities.js';

/**
 * What the registered functions run with: the app settings (read once from the process
 * environment) and the activity environment built from them (managed identity). A host that
 * embeds the functions differently (the in-process test host, another runtime) configures
 * both explicitly instead.
 */
let settingsOverride: AppSettings | undefined;
let environmentOverride: ActivityEnvironment | undefined;
let environment: Promise<ActivityEnvironment> | undefined;
let readersOverride: IncidentReaders | undefined;
let readers: IncidentReaders | undefined;

export function configureFunctionsRuntime(options: { settings?: AppSettings; activityEnvironment?: ActivityEnvironment; incidentReaders?: IncidentReaders }): void {
  settingsOverride = options.settings;
  environmentOverride = options.activityEnvironment;
  readersOverride = options.incidentReaders;
  environment = undefined;
  readers = undefined;
}

export function runtimeSettings(): AppSettings {
  return settingsOverride ?? environmentOverride?.settings ?? getAppSettings();
}

/** The activities' environment; the activity code and the Azure identity SDK load with the first activity, not with the app. */
export async function activityEnvironment(): Promise<ActivityEnvironment> {
  if (environmentOverride) return environmentOverride;
  environment ??= import('./activities.js').then(({ functionsActivityEnvironment }) => functionsActivityEnvironment(runtimeSettings()));
  environment.catch(() => {
    environment = undefined;
  });
  return environment;
}

/** Request defaults from the settings. */
export function requestDefaults(settings: AppSettings): RequestDefaults {
  return {
    sources: settings.defaultSources,
    sinceSeconds: settings.defaultSinceSeconds,
    legalHold: settings.legalHoldDefault,
    concurrency: settings.concurrency,
    ...(settings.retentionDaysDefault !== undefined ? { retentionDays: settings.retentionDaysDefault } : {}),
  };
}

/**
 * How POST /api/incidents/sentinel asks Sentinel about an incident: with the app's identity,
 * the SecurityInsights API (ARM), Log Analytics (SecurityAlert rows, scheduled-rule rows),
 * ARM's cluster list (node resource groups), and the configured default clusters.
 */
export async function incidentReaders(): Promise<IncidentReaders> {
  if (readersOverride) return readersOverride;
  if (readers) return readers;
  // The ARM, SecurityInsights and Log Analytics clients load with the first incident, not with the app.
  const { createArmClients } = await import('../cluster/arm.js');
  const { createNodeResourceGroupResolver } = await import('../cluster/nodeResourceGroup.js');
  const { createIncidentLogsReader } = await import('../request/incident/alertLogs.js');
  const { createSentinelIncidentReader } = await import('../request/incident/sentinelApi.js');
  const env = await activityEnvironment();
  const arm = { endpoint: env.settings.armEndpoint, ...env.arm };
  const logs = env.azure?.logs;
  readers = {
    sentinel: createSentinelIncidentReader(env.credential, arm),
    logs: createIncidentLogsReader(env.credential, {
      ...(logs?.endpoint ? { endpoint: logs.endpoint } : {}),
      ...(logs?.clientOptions ? { clientOptions: logs.clientOptions } : {}),
    }),
    nodeResourceGroups: createNodeResourceGroupResolver((subscriptionId) => createArmClients(env.credential, subscriptionId, arm)),
    defaultClusters: env.settings.defaultClusters.flatMap((id): ClusterRef[] => {
      const parsed = parseManagedClusterId(id);
      return parsed.ok ? [parsed.ref] : [];
    }),
  };
  return readers;
}
