import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type SealEvidenceInput } from '../shared/orchestration/types.js';
import type { SealResult } from '../shared/pipeline/types.js';

/** Activity: write the manifest once, after every collect task finished. */
export async function sealEvidenceActivity(input: SealEvidenceInput, context: InvocationContext): Promise<SealResult> {
  context.log(`sealEvidence run=${input.runId} tasks=${input.results.length}`);
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { sealEvidenceStep } = await import('../shared/orchestration/activities.js');
  const sealed = await sealEvidenceStep(input, await activityEnvironment());
  context.log(`sealEvidence run=${input.runId} manifest sha256=${sealed.manifestSha256} artifacts=${sealed.artifactCount}`);
  return sealed;
}

df.app.activity(FUNCTION_NAMES.sealEvidence, { handler: sealEvidenceActivity });
