import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type ClosePreservationInput } from '../shared/orchestration/types.js';

/** Activity: close the run's preservation window in its custody (preservation-ended). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function closePreservationActivity(input: ClosePreservationInput): Promise<{ alreadyEnded: boolean }> {
  // The preservation code loads with the first preservation activity, not with the app.
  const { closePreservationStep } = await import('../shared/orchestration/preservationActivities.js');
  return closePreservationStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.closePreservation, { handler: closePreservationActivity });
