import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type IngestEvidenceInput, type IngestTableOutcome } from '../shared/orchestration/types.js';

/** Activity: one table of the sealed bundle into Log Analytics (Logs Ingestion API). */
export async function ingestEvidenceActivity(input: IngestEvidenceInput, context: InvocationContext): Promise<IngestTableOutcome> {
  context.log(`ingestEvidence run=${input.runId} table=${input.table}`);
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { ingestEvidenceStep } = await import('../shared/orchestration/activities.js');
  const outcome = await ingestEvidenceStep(input, await activityEnvironment());
  context.log(`ingestEvidence run=${input.runId} table=${input.table} status=${outcome.status} sent=${outcome.rowsSent} failed=${outcome.rowsFailed}`);
  return outcome;
}

df.app.activity(FUNCTION_NAMES.ingestEvidence, { handler: ingestEvidenceActivity });
