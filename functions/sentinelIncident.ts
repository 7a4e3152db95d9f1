import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { requestDefaults, runtimeSettings } from '../shared/orchestration/environment.js';
import { incidentInstanceId } from '../shared/orchestration/instanceId.js';
import { startOrReuseRun } from '../shared/orchestration/startRun.js';
import type { CollectionRunInput } from '../shared/orchestration/types.js';
import { failureAnswer, jsonAnswer, parseJsonBody, problemAnswer } from '../shared/request/http.js';
import { incidentRequestRecord, parseSentinelIncident } from '../shared/request/sentinel.js';
import { logRun } from './telemetry.js';

/**
 * POST /api/incidents/sentinel — the body a Sentinel incident-trigger playbook forwards.
 * One run per incident × AKS cluster named in it (instance id = hash of both): a repeated
 * trigger returns the existing runs (unless ?force=true or "force": true in the body).
 * 202 listing the runs; 422 (problem+json) when the incident names no cluster; 400 when the
 * body is not an incident.
 */
export async function startFromSentinelIncident(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const settings = runtimeSettings();
    const body = parseJsonBody(await request.text(), 'Sentinel incident');
    if (!body.ok) return body.answer;
    const parsed = parseSentinelIncident(body.value);
    if (!parsed.ok) {
      logRun(context, 'warn', `incidents/sentinel: ${parsed.problem.status} ${parsed.problem.title}`);
      return problemAnswer(parsed.problem);
    }
    const force = /^(true|1|yes)$/i.test(request.query.get('force') ?? '') || (body.value as { force?: unknown }).force === true;
    const { incident, targets } = parsed;
    const receivedAt = new Date().toISOString();
    const defaults = requestDefaults(settings);
    const client = df.getClient(context);
    const origin = new URL(request.url).origin;

    const runs = [];
    for (const target of targets) {
      const record = incidentRequestRecord(incident, target, defaults);
      const run = await startOrReuseRun(
        client,
        incidentInstanceId(incident.incidentId, target.cluster),
        (runId): CollectionRunInput => ({
          schemaVersion: 1,
          runId,
          cluster: target.cluster,
          request: record,
          trigger: {
            kind: 'sentinel',
            receivedAt,
            incidentId: incident.incidentId,
            ...(incident.incidentNumber !== undefined ? { incidentNumber: incident.incidentNumber } : {}),
            ...(incident.title ? { incidentTitle: incident.title } : {}),
          },
          podsPerShard: settings.podsPerShard,
          ingest: settings.ingestion !== undefined,
        }),
        { force },
      );
      logRun(context, 'info', `incidents/sentinel: incident ${incident.incidentNumber ?? '?'} run ${run.started ? 'started' : 'exists'} (${run.runtimeStatus})`, {
        RunId: run.runId,
        CaseId: record.caseId,
        ClusterResourceId: target.cluster.resourceId,
      });
      runs.push({
        runId: run.runId,
        started: run.started,
        runtimeStatus: run.runtimeStatus,
        cluster: target.cluster.resourceId,
        caseId: record.caseId,
        foundIn: target.foundIn,
        priorityPods: target.priorityPods,
        namespaces: target.namespaces,
        statusUrl: `${origin}/api/collections/${run.runId}`,
      });
    }
    return jsonAnswer(202, {
      incident: {
        id: incident.incidentId,
        ...(incident.incidentNumber !== undefined ? { number: incident.incidentNumber } : {}),
        ...(incident.title ? { title: incident.title } : {}),
      },
      started: runs.filter((r) => r.started).length,
      existing: runs.filter((r) => !r.started).length,
      runs,
    });
  } catch (error) {
    logRun(context, 'error', `incidents/sentinel: failed: ${failureAnswer(error).body}`);
    return failureAnswer(error);
  }
}

app.http('sentinelIncident', {
  methods: ['POST'],
  route: 'incidents/sentinel',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: startFromSentinelIncident,
});
