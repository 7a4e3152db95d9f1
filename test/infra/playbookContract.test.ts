/**
 * The playbook's conversation with the Function App, played against the real HTTP handlers
 * (real DurableClient, in-process Durable host) configured with the app settings the template
 * deploys: what Start_collection posts, the runs it reads back, the status URL Get_run_status
 * polls and the fields the Until loop and the comments read.
 */
import functions, { type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { collectEvidenceOrchestrator } from '../../functions/collectEvidence.js';
import { getCollectionStatus } from '../../functions/collectionStatus.js';
import { startFromSentinelIncident } from '../../functions/sentinelIncident.js';
import { PLAYBOOK_CONTRACT, SENTINEL_ROUTE } from '../../infra/playbook.js';
import { loadAppSettings } from '../../shared/config/appSettings.js';
import { configureFunctionsRuntime } from '../../shared/orchestration/environment.js';
import { startDurableHost, type DurableHost } from '../functions/durableHost.js';
import { accountOnlyIncident, CLUSTER_ID, defenderContainersIncident } from '../request/sentinelPayloads.js';
import { evaluateValue, type Value } from './armExpression.js';
import { committedTemplate, contextFor, only, resourcesOfType } from './templateModel.js';

const template = committedTemplate();
const ctx = contextFor(template);
const workflow = only(resourcesOfType(template, 'Microsoft.Logic/workflows'), 'playbook');
const site = only(resourcesOfType(template, 'Microsoft.Web/sites'), 'site');
/** functionBaseUrl as the deployment sets it on the playbook. */
const baseUrl = String((evaluateValue((workflow.properties as { parameters: unknown }).parameters, ctx) as Record<string, { value: Value }>).functionBaseUrl?.value);

const asJson = (res: HttpResponseInit): Record<string, unknown> => JSON.parse(String(res.body)) as Record<string, unknown>;
const pick = (value: unknown, path: readonly string[]): unknown => path.reduce<unknown>((x, k) => (x as Record<string, unknown> | undefined)?.[k], value);

describe('the playbook against the Function App it calls', () => {
  let host: DurableHost;

  beforeAll(async () => {
    host = await startDurableHost({ orchestrators: { collectEvidence: collectEvidenceOrchestrator }, activities: {}, execute: false });
    const list = evaluateValue((site.properties?.siteConfig as { appSettings: unknown }).appSettings, ctx) as { name: string; value: Value }[];
    configureFunctionsRuntime({
      settings: loadAppSettings(Object.fromEntries(list.map((s) => [s.name, String(s.value)]))),
      // Resolution from the trigger body only: no Sentinel, Log Analytics or ARM reads (test/functions/sentinelIncident.test.ts has those on loopback stubs).
      incidentReaders: {},
    });
  });
  afterAll(async () => {
    configureFunctionsRuntime({});
    await host?.stop();
  });

  it('Start_collection → runs with a status URL on the same Function App; Get_run_status → still running, so the Until loop waits', async () => {
    // Start_collection: POST <functionBaseUrl>/api/incidents/sentinel with the trigger body as is.
    const request: HttpRequest = new functions.HttpRequest({
      method: 'POST',
      url: `${baseUrl}${SENTINEL_ROUTE}`,
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify(defenderContainersIncident()) },
    });
    const started = await startFromSentinelIncident(request, host.clientContext('sentinelIncident'));
    expect(started.status).toBe(202);
    const runs = pick(asJson(started), [PLAYBOOK_CONTRACT.runsField]) as Record<string, unknown>[];
    expect(runs).toHaveLength(1);
    const run = runs[0] as Record<string, unknown>;
    expect(run[PLAYBOOK_CONTRACT.clusterField]).toBe(CLUSTER_ID);
    // What the comment says about how the cluster was found and what came first.
    expect(run[PLAYBOOK_CONTRACT.foundInField]).toEqual(expect.arrayContaining([expect.stringContaining('(azure-resource-entities)')]));
    expect(run[PLAYBOOK_CONTRACT.priorityPodsField]).toEqual(['payments/checkout-7d9f8b6c5-x2l4p']);
    const runId = String(run[PLAYBOOK_CONTRACT.runIdField]);
    const statusUrl = new URL(String(run[PLAYBOOK_CONTRACT.statusUrlField]));
    // The key the playbook sends with the poll is only valid on that same app.
    expect(statusUrl.origin).toBe(new URL(baseUrl).origin);
    expect(statusUrl.pathname).toBe(`/api/collections/${runId}`);

    // Get_run_status: GET statusUrl.
    const statusRequest: HttpRequest = new functions.HttpRequest({ method: 'GET', url: statusUrl.href, params: { runId } });
    const status = await getCollectionStatus(statusRequest, host.clientContext('collectionStatus'));
    expect(status.status).toBe(200);
    const runtimeStatus = pick(asJson(status), [PLAYBOOK_CONTRACT.runtimeStatusField]);
    expect(PLAYBOOK_CONTRACT.runningStatuses).toContain(runtimeStatus);
    // Not sealed yet: the comment paths are absent, and the comment falls back to 'not sealed'.
    expect(pick(asJson(status), PLAYBOOK_CONTRACT.status.manifestSha256)).toBeUndefined();
  });

  it('an incident without a cluster answers an error the not-started comment can quote (title/detail)', async () => {
    const request: HttpRequest = new functions.HttpRequest({
      method: 'POST',
      url: `${baseUrl}${SENTINEL_ROUTE}`,
      headers: { 'content-type': 'application/json' },
      body: { string: JSON.stringify(accountOnlyIncident()) },
    });
    const res = await startFromSentinelIncident(request, host.clientContext('sentinelIncident'));
    expect(res.status).toBe(422);
    const problem = asJson(res);
    expect(typeof problem.title).toBe('string');
    expect(typeof problem.detail).toBe('string');
    const notStarted = JSON.stringify((workflow.properties as { definition: { actions: Record<string, unknown> } }).definition.actions.Comment_not_started);
    expect(notStarted).toContain("body('Start_collection')?['detail']");
    expect(notStarted).toContain("body('Start_collection')?['title']");
  });
});
