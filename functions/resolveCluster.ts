import * as df from 'durable-functions';
import { resolveClusterStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type ResolveClusterInput } from '../shared/orchestration/types.js';
import type { ClusterFacts } from '../shared/cluster/facts.js';

/** Activity: ARM + Kubernetes access review → cluster facts (no credential leaves the activity). Start and end are logged by the invocation hooks (telemetry.ts). */
export async function resolveClusterActivity(input: ResolveClusterInput): Promise<ClusterFacts> {
  return resolveClusterStep(input, activityEnvironment());
}

df.app.activity(FUNCTION_NAMES.resolveCluster, { handler: resolveClusterActivity });
