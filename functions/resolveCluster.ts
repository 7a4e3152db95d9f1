import type { InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { resolveClusterStep } from '../shared/orchestration/activities.js';
import { activityEnvironment } from '../shared/orchestration/environment.js';
import { FUNCTION_NAMES, type ResolveClusterInput } from '../shared/orchestration/types.js';
import type { ClusterFacts } from '../shared/cluster/facts.js';

/** Activity: ARM + Kubernetes access review → cluster facts (no credential leaves the activity). */
export async function resolveClusterActivity(input: ResolveClusterInput, context: InvocationContext): Promise<ClusterFacts> {
  context.log(`resolveCluster run=${input.runId} cluster=${input.cluster.resourceId}`);
  const facts = await resolveClusterStep(input, activityEnvironment());
  context.log(`resolveCluster run=${input.runId} auth=${facts.authMode} pods=${facts.podCount ?? 'unknown'} gaps=${facts.gaps.length}`);
  return facts;
}

df.app.activity(FUNCTION_NAMES.resolveCluster, { handler: resolveClusterActivity });
