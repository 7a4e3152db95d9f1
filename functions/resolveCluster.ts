import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type ResolveClusterInput } from '../shared/orchestration/types.js';
import type { ClusterFacts } from '../shared/cluster/facts.js';

/** Activity: ARM + Kubernetes access review → cluster facts (no credential leaves the activity). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function resolveClusterActivity(input: ResolveClusterInput): Promise<ClusterFacts> {
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { resolveClusterStep } = await import('../shared/orchestration/activities.js');
  return resolveClusterStep(input, await activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.resolveCluster, { handler: resolveClusterActivity });
