import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type CollectSourceInput } from '../shared/orchestration/types.js';
import type { CollectTaskResult } from '../shared/pipeline/types.js';

/** Activity: one collect task (a source, or one pod shard of it) streamed into write-once evidence. Start and end are logged by the invocation hooks (telemetry.ts). */
export async function collectSourceActivity(input: CollectSourceInput): Promise<CollectTaskResult> {
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { collectSourceStep } = await import('../shared/orchestration/activities.js');
  return collectSourceStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.collectSource, { handler: collectSourceActivity });
