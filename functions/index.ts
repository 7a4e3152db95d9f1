/**
 * The Functions app entry point (package.json "main": dist/functions/index.js): importing a
 * module registers its function. One file per function, named after it.
 */
import { AppSettingsError, getAppSettings } from '../shared/config/appSettings.js';
import { app } from '@azure/functions';
import { postInvocationTelemetry, preInvocationTelemetry, startTelemetry } from './telemetry.js';
import './collections.js';
import './collectionStatus.js';
import './sentinelIncident.js';
import './collectEvidence.js';
import './resolveCluster.js';
import './collectSource.js';
import './sealEvidence.js';
import './ingestEvidence.js';
import './stopPreservation.js';
import './openPreservation.js';
import './preserveStretch.js';
import './closePreservation.js';

// One log shape for every invocation, with the run's attributes (telemetry.ts); exported to
// Application Insights as structured records when the app has a connection string.
app.hook.preInvocation(preInvocationTelemetry);
app.hook.postInvocation(postInvocationTelemetry);
await startTelemetry(process.env);

// Read and validate the app settings once, at start-up, so a misconfiguration shows in the host
// log immediately (each HTTP call also answers 500 naming the settings). Messages name settings,
// never their secret values.
try {
  getAppSettings();
} catch (error) {
  if (!(error instanceof AppSettingsError)) throw error;
  console.error(`[aks-evidence] ${error.message}`);
}
