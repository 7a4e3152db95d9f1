import { getAppSettings, type AppSettings } from '../config/appSettings.js';
import { createArmClients } from '../cluster/arm.js';
import { createNodeResourceGroupResolver } from '../cluster/nodeResourceGroup.js';
import { parseManagedClusterId, type ClusterRef } from '../cluster/clusterRef.js';
import { createIncidentLogsReader } from '../request/incident/alertLogs.js';
import type { IncidentReaders } from '../request/incident/resolve.js';
import { createSentinelIncidentReader } from '../request/incident/sentinelApi.js';
import type { RequestDefaults } from '../request/schema.js';
import { functionsActivityEnvironment, type ActivityEnvironment } from './activities.js';

/**
 * What the registered functions run with: the app settings (read once from the process
 * environment) and the activity environment built from them (managed identity). A host that
 * embeds the functions differently (the in-process test host, another runtime) configures
 * both explicitly instead.
 */
let settingsOverride: AppSettings | undefined;
let environmentOverride: ActivityEnvironment | undefined;
let environment: ActivityEnvironment | undefined;
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

export function activityEnvironment(): ActivityEnvironment {
  if (environmentOverride) return environmentOverride;
  environment ??= functionsActivityEnvironment(runtimeSettings());
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
export function incidentReaders(): IncidentReaders {
  if (readersOverride) return readersOverride;
  if (readers) return readers;
  const env = activityEnvironment();
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
