import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { isRunId } from '../shared/orchestration/instanceId.js';
import { findRun, runStatusView } from '../shared/orchestration/runStatus.js';
import { STOP_PRESERVATION_EVENT, type StopPreservationEvent } from '../shared/orchestration/types.js';
import { failureAnswer, jsonAnswer, problemAnswer } from '../shared/request/http.js';
import { noPreservationProblem, runNotFoundProblem } from '../shared/request/problem.js';
import { logRun, setRunAttributes } from './telemetry.js';

/**
 * DELETE /api/collections/{runId}/preservation — stop a run's preservation window (the incident
 * is closed). Raises the stop event on the run: the stretch in progress finishes and seals its
 * segment (within AKS_EVIDENCE_PRESERVE_STRETCH_SECONDS), then the window is closed in custody.
 * 202 with the status URL; 404 for an unknown run; 409 (problem+json) when the run asked for no
 * window or its window has already ended. No management URL is built or returned.
 */
export async function stopPreservation(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  const runId = request.params.runId ?? '';
  if (!isRunId(runId)) return problemAnswer(runNotFoundProblem(runId));
  try {
    const client = df.getClient(context);
    const status = await findRun(client, runId, { showInput: true });
    if (!status) return problemAnswer(runNotFoundProblem(runId));
    const view = runStatusView(status);
    setRunAttributes(context, { RunId: runId, CaseId: view.caseId, ClusterResourceId: view.clusterResourceId, Outcome: view.runtimeStatus });
    const running = view.runtimeStatus === 'Running' || view.runtimeStatus === 'Pending' || view.runtimeStatus === 'ContinuedAsNew';
    if (!view.preserveForSeconds) return problemAnswer(noPreservationProblem(runId, `run ${runId} asked for no preservation window (preserveFor); there is nothing to stop`));
    if (!running) {
      const ended = view.preservation?.endReason ? ` (it ended: ${view.preservation.endReason})` : '';
      return problemAnswer(noPreservationProblem(runId, `run ${runId} is ${view.runtimeStatus}: its preservation window is not running${ended}`));
    }
    const event: StopPreservationEvent = { requestedAt: new Date().toISOString() };
    await client.raiseEvent(runId, STOP_PRESERVATION_EVENT, event);
    logRun(context, 'info', `stopPreservation: stop requested for run ${runId}`);
    const statusUrl = `${new URL(request.url).origin}/api/collections/${runId}`;
    return jsonAnswer(
      202,
      {
        runId,
        stopping: true,
        requestedAt: event.requestedAt,
        note: 'the preservation activity in progress finishes and seals its segment, then the window is closed in the chain of custody; poll statusUrl until preservation.state is "ended"',
        statusUrl,
      },
      { Location: statusUrl, 'Retry-After': '10' },
    );
  } catch (error) {
    logRun(context, 'error', `stopPreservation: failed: ${failureAnswer(error).body}`, { RunId: runId });
    return failureAnswer(error);
  }
}

app.http('stopPreservation', {
  methods: ['DELETE'],
  route: 'collections/{runId}/preservation',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: stopPreservation,
});
