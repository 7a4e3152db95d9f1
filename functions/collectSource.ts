import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type CollectSourceInput } from '../shared/orchestration/types.js';
import { shardLabel } from '../shared/pipeline/plan.js';
import type { CollectTaskResult } from '../shared/pipeline/types.js';

/** Activity: one collect task (a source, or one pod shard of it) streamed into write-once evidence. */
export async function collectSourceActivity(input: CollectSourceInput, context: InvocationContext): Promise<CollectTaskResult> {
  const label = `${input.task.source}${shardLabel(input.task) ? ` ${shardLabel(input.task)}` : ''}`;
  context.log(`collectSource run=${input.runId} task=${label}`);
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { collectSourceStep } = await import('../shared/orchestration/activities.js');
  const result = await collectSourceStep(input, await activityEnvironment());
  context.log(`collectSource run=${input.runId} task=${label} status=${result.status} records=${result.records} gaps=${result.gapCount}`);
  return result;
}

df.app.activity(FUNCTION_NAMES.collectSource, { handler: collectSourceActivity });
