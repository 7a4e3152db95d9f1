import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { ingestEvidenceStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type IngestEvidenceInput, type IngestTableOutcome } from '../shared/orchestration/types.js';

/** Activity: one table of the sealed bundle into Log Analytics (Logs Ingestion API). */
export async function ingestEvidenceActivity(input: IngestEvidenceInput, context: InvocationContext): Promise<IngestTableOutcome> {
  context.log(`ingestEvidence run=${input.runId} table=${input.table}`);
  const outcome = await ingestEvidenceStep(input, activityEnvironment());
  context.log(`ingestEvidence run=${input.runId} table=${input.table} status=${outcome.status} sent=${outcome.rowsSent} failed=${outcome.rowsFailed}`);
  return outcome;
}

df.app.activity(FUNCTION_NAMES.ingestEvidence, { handler: ingestEvidenceActivity });
