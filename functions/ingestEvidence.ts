import * as df from 'durable-functions';
import { ingestEvidenceStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type IngestEvidenceInput, type IngestTableOutcome } from '../shared/orchestration/types.js';

/** Activity: one table of the sealed bundle into Log Analytics (Logs Ingestion API). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function ingestEvidenceActivity(input: IngestEvidenceInput): Promise<IngestTableOutcome> {
  return ingestEvidenceStep(input, activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.ingestEvidence, { handler: ingestEvidenceActivity });
