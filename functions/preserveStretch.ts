import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type PreserveStretchInput, type PreserveStretchOutput } from '../shared/orchestration/types.js';

/** Activity: one bounded stretch of the preservation window (watch from the cursor, keep logs, events and changes, seal the segment, ingest it). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function preserveStretchActivity(input: PreserveStretchInput): Promise<PreserveStretchOutput> {
  // The preservation code loads with the first preservation activity, not with the app.
  const { preserveStretchStep } = await import('../shared/orchestration/preservationActivities.js');
  return preserveStretchStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.preserveStretch, { handler: preserveStretchActivity });
