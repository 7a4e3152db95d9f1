import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { incidentReaders, requestDefaults, runtimeSettings } from '../shared/orchestration/environment.js';
import { incidentInstanceId } from '../shared/orchestration/instanceId.js';
import { newRunInput, startOrReuseRun } from '../shared/orchestration/startRun.js';
import { failureAnswer, jsonAnswer, MAX_INCIDENT_BODY_BYTES, problemAnswer, readJsonBody } from '../shared/request/http.js';
import { noClusterProblem, resolveIncident } from '../shared/request/incident/resolve.js';
import { incidentRequestRecord, parseSentinelIncident, type SentinelIncidentInfo } from '../shared/request/sentinel.js';
import { stopIncidentWindows } from '../shared/orchestration/incidentRuns.js';
import { logRun } from './telemetry.js';

/**
 * POST /api/incidents/sentinel — the body a Sentinel incident-trigger playbook forwards.
 *
 * The incident is validated (400 naming each bad field, 415 for non-JSON, 413 over the size
 * limit), then Sentinel is asked about it with the app's identity and every way to the
 * cluster is tried (shared/request/incident/resolve.ts). One run per incident × AKS cluster
 * (instance id = hash of both): a repeated trigger returns the existing runs (unless
 * ?force=true or "force": true). 202 listing the runs with how each cluster was found and
 * what is collected first; 422 (problem+json) naming every way tried when none led to a cluster.
 * Each run keeps a preservation window after its seal when the body asks ("preserveFor": "24h")
 * or the deployment does (AKS_EVIDENCE_SENTINEL_PRESERVE_FOR). The same body with the incident's
 * status Closed (the automation rule on closing runs the same playbook) stops those windows.
 */
export async function startFromSentinelIncident(request: HttpRequest, context: InvocationContext): Promise<HttpResponseInit> {
  try {
    const settings = runtimeSettings();
    const body = await readJsonBody(request, 'Sentinel incident', MAX_INCIDENT_BODY_BYTES);
    if (!body.ok) return body.answer;
    const parsed = parseSentinelIncident(body.value, { concurrency: settings.concurrency });
    if (!parsed.ok) {
      logRun(
        context,
        'warn',
        `incidents/sentinel: ${parsed.problem.status} ${parsed.problem.title}: ${(parsed.problem.errors ?? [])
          .map((e) => e.field || '(body)')
          .slice(0, 10)
          .join(', ')}`,
      );
      return problemAnswer(parsed.problem);
    }
    const { incident } = parsed;
    if (incident.status === 'Closed') return await closeIncident(incident, df.getClient(context), new URL(request.url).origin, context);
    const resolution = await resolveIncident(parsed, { readers: await incidentReaders() });
    const tried = resolution.record.ways.map((w) => `${w.step}=${w.outcome}`).join(' ');
    if (!resolution.targets.length) {
      logRun(context, 'warn', `incidents/sentinel: incident ${incident.incidentNumber ?? incident.incidentName} no cluster; ${tried}`);
      return problemAnswer(noClusterProblem(parsed, resolution.record));
    }
    const force = /^(true|1|yes)$/i.test(request.query.get('force') ?? '') || parsed.force;
    const receivedAt = new Date().toISOString();
    const defaults = requestDefaults(settings);
    const client = df.getClient(context);
    const origin = new URL(request.url).origin;

    const runs = [];
    for (const target of resolution.targets) {
      // A preservation window: the body's "preserveFor", else the deployment's AKS_EVIDENCE_SENTINEL_PRESERVE_FOR.
      const preserveForSeconds = parsed.preserveForSeconds ?? settings.sentinelPreserveForSeconds;
      const record = { ...incidentRequestRecord(incident, target, defaults, resolution.record), ...(preserveForSeconds !== undefined ? { preserveForSeconds } : {}) };
      const run = await startOrReuseRun(
        client,
        incidentInstanceId(incident.incidentId, target.cluster),
        (runId, previousAttempt) =>
          newRunInput({
            runId,
            cluster: target.cluster,
            request: record,
            trigger: {
              kind: 'sentinel',
              receivedAt,
              incidentId: incident.incidentId,
              ...(incident.incidentNumber !== undefined ? { incidentNumber: incident.incidentNumber } : {}),
              ...(incident.title ? { incidentTitle: incident.title.slice(0, 256) } : {}),
            },
            settings,
            previousAttempt,
          }),
        { force },
      );
      logRun(
        context,
        'info',
        `incidents/sentinel: incident ${incident.incidentNumber ?? incident.incidentName} run ${run.started ? 'started' : 'exists'} (${run.runtimeStatus}); ${tried}`,
        {
          RunId: run.runId,
          CaseId: record.caseId,
          ClusterResourceId: target.cluster.resourceId,
        },
      );
      runs.push({
        runId: run.runId,
        started: run.started,
        runtimeStatus: run.runtimeStatus,
        cluster: target.cluster.resourceId,
        caseId: record.caseId,
        foundIn: target.foundIn,
        priorityPods: target.priorityPods,
        namespaces: target.namespaces,
        priorityNodes: target.priorityNodes,
        statusUrl: `${origin}/api/collections/${run.runId}`,
      });
    }
    return jsonAnswer(202, {
      incident: {
        id: incident.incidentId,
        ...(incident.incidentNumber !== undefined ? { number: incident.incidentNumber } : {}),
        ...(incident.title ? { title: incident.title.slice(0, 256) } : {}),
      },
      started: runs.filter((r) => r.started).length,
      existing: runs.filter((r) => !r.started).length,
      runs,
      resolution: resolution.record,
    });
  } catch (error) {
    logRun(context, 'error', `incidents/sentinel: failed: ${failureAnswer(error).body}`);
    return failureAnswer(error);
  }
}

/**
 * The incident is closed (an automation rule "incident updated, status changed to Closed" runs
 * the same playbook): the preservation windows of its runs are stopped, nothing is started and
 * Sentinel is not asked about it. 200 listing the runs asked to stop and those still collecting
 * (a run still collecting seals its collection and opens no window). "runs" is empty: the
 * playbook has no run to wait for.
 */
async function closeIncident(incident: SentinelIncidentInfo, client: df.DurableClient, origin: string, context: InvocationContext): Promise<HttpResponseInit> {
  const label = String(incident.incidentNumber ?? incident.incidentName);
  const closing = await stopIncidentWindows(
    client,
    { incidentId: incident.incidentId, label },
    { statusUrl: (runId) => `${origin}/api/collections/${runId}`, requestedAt: new Date().toISOString() },
  );
  for (const run of closing.stopping) logRun(context, 'info', `incidents/sentinel: incident ${label} closed: stop requested for run ${run.runId}`, { RunId: run.runId });
  for (const run of closing.notStopped) logRun(context, 'warn', `incidents/sentinel: incident ${label} closed: run ${run.runId} not stopped: ${run.error}`, { RunId: run.runId });
  return jsonAnswer(200, {
    incident: { id: incident.incidentId, ...(incident.incidentNumber !== undefined ? { number: incident.incidentNumber } : {}), status: 'Closed' },
    ...closing,
    runs: [],
    note:
      closing.stopping.length > 0
        ? 'each run\'s preservation activity in progress finishes and seals its segment, then the window is closed in the chain of custody; poll each statusUrl until preservation.state is "ended"'
        : 'no run of this incident keeps a preservation window: nothing to stop',
  });
}

app.http('sentinelIncident', {
  methods: ['POST'],
  route: 'incidents/sentinel',
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: startFromSentinelIncident,
});
