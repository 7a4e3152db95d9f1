import * as df from 'durable-functions';
import { sealEvidenceStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type SealEvidenceInput } from '../shared/orchestration/types.js';
import type { SealResult } from '../shared/pipeline/types.js';

/** Activity: write the manifest once, after every collect task finished. Start and end are logged by the invocation hooks (telemetry.ts). */
export async function sealEvidenceActivity(input: SealEvidenceInput): Promise<SealResult> {
  return sealEvidenceStep(input, activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.sealEvidence, { handler: sealEvidenceActivity });
