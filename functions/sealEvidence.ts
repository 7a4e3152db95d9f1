import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type SealEvidenceInput } from '../shared/orchestration/types.js';
import type { SealResult } from '../shared/pipeline/types.js';

/** Activity: write the manifest once, after every collect task finished. Start and end are logged by the invocation hooks (telemetry.ts). */
export async function sealEvidenceActivity(input: SealEvidenceInput): Promise<SealResult> {
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { sealEvidenceStep } = await import('../shared/orchestration/activities.js');
  return sealEvidenceStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.sealEvidence, { handler: sealEvidenceActivity });
