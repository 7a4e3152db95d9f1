import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type OpenPreservationInput } from '../shared/orchestration/types.js';
import type { PreservationCursor } from '../shared/preservation/window.js';

/** Activity: open the run's preservation window in its custody (preservation-started). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function openPreservationActivity(input: OpenPreservationInput): Promise<PreservationCursor> {
  // The preservation code loads with the first preservation activity, not with the app.
  const { openPreservationStep } = await import('../shared/orchestration/preservationActivities.js');
  return openPreservationStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.openPreservation, { handler: openPreservationActivity });
