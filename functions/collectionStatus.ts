import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isRunId } from '../shared/orchestration/instanceId.js';
import { findRun, runStatusView } from '../shared/orchestration/runStatus.js';
import { failureAnswer, jsonAnswer, problemAnswer } from '../shared/request/http.js';
import { runNotFoundProblem } from '../shared/request/problem.js';
import { logRun, setRunAttributes } from './telemetry.js';

/**
 * GET /api/collections/{runId} — a run's status: runtime status, per-source progress
 * (custom status), run-level gaps, and once sealed the evidence location and manifest
 * SHA-256. 404 (problem+json) for a run id the task hub does not know.
 */
export async function getCollectionStatus(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const runId = request.params.runId ?? '';
  if (!isRunId(runId)) return problemAnswer(runNotFoundProblem(runId));
  try {
    const status = await findRun(df.getClient(context), runId, { showInput: true });
    if (!status) return problemAnswer(runNotFoundProblem(runId));
    const view = runStatusView(status);
    setRunAttributes(context, { RunId: view.runId, CaseId: view.caseId, ClusterResourceId: view.clusterResourceId, Outcome: view.runtimeStatus });
    const running = view.runtimeStatus === 'Running' || view.runtimeStatus === 'Pending';
    return jsonAnswer(200, view, running ? { 'Retry-After': '10' } : {});
  } catch (error) {
    logRun(context, 'error', `collectionStatus: failed: ${failureAnswer(error).body}`, { RunId: runId });
    return failureAnswer(error);
  }
}

app.http('collectionStatus', {
  methods: ['GET'],
  route: 'collections/{runId}',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: getCollectionStatus,
});
