import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type ResolveClusterInput } from '../shared/orchestration/types.js';
import type { ClusterFacts } from '../shared/cluster/facts.js';

/** Activity: ARM + Kubernetes access review → cluster facts (no credential leaves the activity). */
export async function resolveClusterActivity(input: ResolveClusterInput, context: InvocationContext): Promise<ClusterFacts> {
  context.log(`resolveCluster run=${input.runId} cluster=${input.cluster.resourceId}`);
  // The activity's code (and the Azure SDKs it uses) loads with its first invocation, not with the app.
  const { resolveClusterStep } = await import('../shared/orchestration/activities.js');
  const facts = await resolveClusterStep(input, await activityEnvironment());
  context.log(`resolveCluster run=${input.runId} auth=${facts.authMode} pods=${facts.podCount ?? 'unknown'} gaps=${facts.gaps.length}`);
  return facts;
}

df.app.activity(FUNCTION_NAMES.resolveCluster, { handler: resolveClusterActivity });
