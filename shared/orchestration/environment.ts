import { getAppSettings, type AppSettings } from '../config/appSettings.js';
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

export function configureFunctionsRuntime(options: { settings?: AppSettings; activityEnvironment?: ActivityEnvironment }): void {
  settingsOverride = options.settings;
  environmentOverride = options.activityEnvironment;
  environment = undefined;
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
