import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type IngestEvidenceInput, type IngestTableOutcome } from '../shared/orchestration/types.js';

/** Activity: one table of the sealed bundle into Log Analytics (Logs Ingestion API). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function ingestEvidenceActivity(input: IngestEvidenceInput): Promise<IngestTableOutcome> {
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { ingestEvidenceStep } = await import('../shared/orchestration/activities.js');
  return ingestEvidenceStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.ingestEvidence, { handler: ingestEvidenceActivity });
