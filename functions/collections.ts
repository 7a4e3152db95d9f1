import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { requestDefaults, runtimeSettings } from '../shared/orchestration/environment.js';
import { collectionInstanceId } from '../shared/orchestration/instanceId.js';
import { newRunInput, startOrReuseRun } from '../shared/orchestration/startRun.js';
import { failureAnswer, jsonAnswer, MAX_COLLECTION_REQUEST_BYTES, problemAnswer, readJsonBody } from '../shared/request/http.js';
import { invalidRequestProblem } from '../shared/request/problem.js';
import { parseCollectionRequest } from '../shared/request/schema.js';
import { logRun, setRunAttributes } from './telemetry.js';

/**
 * POST /api/collections — start collecting evidence from one AKS cluster.
 *
 * 400 (problem+json listing every invalid field) and nothing starts; 202 with the run id and
 * our status URL when a run starts; 200 with the existing run when one for the same cluster and
 * case already exists (unless "force": true). GET /api/collections/{runId} is the only status
 * path: Durable's management URLs (its check-status response) carry the task hub's system key,
 * with which anyone can terminate, rewind or purge any run, so they are never built, returned
 * or logged.
 */
export async function startCollection(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const settings = runtimeSettings();
    const body = await readJsonBody(request, 'collection request', MAX_COLLECTION_REQUEST_BYTES);
    if (!body.ok) return body.answer;
    const receivedAt = new Date();
    const parsed = parseCollectionRequest(body.value, { defaults: requestDefaults(settings), now: receivedAt });
    if (!parsed.ok) {
      logRun(context, 'warn', `collections: rejected request, invalid fields: ${parsed.problems.map((p) => p.field || '(body)').join(', ')}`);
      return problemAnswer(invalidRequestProblem(parsed.problems));
    }
    const { cluster, record, force } = parsed.value;
    const client = df.getClient(context);
    const run = await startOrReuseRun(
      client,
      collectionInstanceId(cluster, record.caseId),
      (runId, previousAttempt) => newRunInput({ runId, cluster, request: record, trigger: { kind: 'http', receivedAt: receivedAt.toISOString() }, settings, previousAttempt }),
      { force },
    );
    setRunAttributes(context, { RunId: run.runId, CaseId: record.caseId, ClusterResourceId: cluster.resourceId });
    logRun(context, 'info', `collections: run ${run.started ? 'started' : 'exists'} (${run.runtimeStatus})`);

    const statusUrl = `${new URL(request.url).origin}/api/collections/${run.runId}`;
    return jsonAnswer(
      run.started ? 202 : 200,
      {
        runId: run.runId,
        started: run.started,
        runtimeStatus: run.runtimeStatus,
        ...(run.started ? {} : { note: 'a run for this cluster and case already exists; send "force": true to start another' }),
        caseId: record.caseId,
        cluster: cluster.resourceId,
        sources: record.sources,
        sinceSeconds: record.sinceSeconds,
        ...(record.preserveForSeconds ? { preserveForSeconds: record.preserveForSeconds, stopUrl: `${statusUrl}/preservation` } : {}),
        statusUrl,
      },
      { Location: statusUrl, 'Retry-After': '10' },
    );
  } catch (error) {
    logRun(context, 'error', `collections: failed: ${failureAnswer(error).body}`);
    return failureAnswer(error);
  }
}

app.http('collections', {
  methods: ['POST'],
  route: 'collections',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: startCollection,
});
