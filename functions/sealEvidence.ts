import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { sealEvidenceStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type SealEvidenceInput } from '../shared/orchestration/types.js';
import type { SealResult } from '../shared/pipeline/types.js';

/** Activity: write the manifest once, after every collect task finished. */
export async function sealEvidenceActivity(input: SealEvidenceInput, context: InvocationContext): Promise<SealResult> {
  context.log(`sealEvidence run=${input.runId} tasks=${input.results.length}`);
  const sealed = await sealEvidenceStep(input, activityEnvironment());
  context.log(`sealEvidence run=${input.runId} manifest sha256=${sealed.manifestSha256} artifacts=${sealed.artifactCount}`);
  return sealed;
}

df.app.activity(FUNCTION_NAMES.sealEvidence, { handler: sealEvidenceActivity });
