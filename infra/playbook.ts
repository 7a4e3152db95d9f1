/**
 * The Microsoft Sentinel playbook (a Consumption Logic App with the incident trigger):
 *   1. read the Function key from Key Vault with the playbook's managed identity;
 *   2. POST the incident (the trigger body as is) to /api/incidents/sentinel; the Function asks
 *      Sentinel itself for the alerts' entities and the rows behind scheduled alerts;
 *   3. per run (one per AKS cluster in the incident): poll GET /api/collections/{runId} until the
 *      orchestration is no longer running, bounded by a timeout;
 *   4. comment on the incident with the evidence location, the manifest SHA-256, the custody
 *      chain head (anchors outside the bundle: `verify --expect-sha256`) and a link to the report
 *      sealed in the bundle (or why nothing was collected).
 * The automation rule on closing runs the same playbook with the closed incident: the Function
 * stops its runs' preservation windows and answers with no run to wait for (runs: []).
 *
 * Why a Function key from Key Vault, not Entra ID: the HTTP functions use authLevel 'function',
 * and App Service authentication would need an Entra app registration, which an ARM template
 * cannot create. The key is generated at deployment time, stored only in Key Vault (the Functions
 * host is configured to keep its keys there, AzureWebJobsSecretStorageType=keyvault), and the
 * playbook may read that one secret and nothing else. Run history never shows it (secureData).
 */
import type { JsonObject } from './arm.js';

/** The route the playbook calls (registered by functions/ with authLevel 'function'). */
export const SENTINEL_ROUTE = '/api/incidents/sentinel';

/** Host function key name: letters only, so the host's Key Vault secret name needs no escaping. */
export const FUNCTION_KEY_NAME = 'sentinelPlaybook';
/** The Key Vault secret the Functions host reads that key from (its naming convention). */
export const FUNCTION_KEY_SECRET_NAME = `host--functionKey--${FUNCTION_KEY_NAME}`;

/**
 * What the playbook reads from the Function's answers (functions/sentinelIncident.ts,
 * functions/collectionStatus.ts → shared/orchestration/runStatus.ts RunStatusView):
 *   POST  → 202 { runs: [{ runId, cluster, statusUrl, ... }] }
 *   GET statusUrl → 200 { runtimeStatus, evidence?: { location, manifestPath, manifestSha256, reportUrl? }, result?: { outcome }, error? }
 */
export const PLAYBOOK_CONTRACT = {
  runsField: 'runs',
  runIdField: 'runId',
  clusterField: 'cluster',
  /** How the cluster was found (payload paths or reads, each with its way) and the pods collected first. */
  foundInField: 'foundIn',
  priorityPodsField: 'priorityPods',
  statusUrlField: 'statusUrl',
  runtimeStatusField: 'runtimeStatus',
  /** Durable runtime statuses that mean "not finished yet". */
  runningStatuses: ['Pending', 'Running', 'ContinuedAsNew', 'Suspended'],
  /** Paths in the status answer. */
  status: {
    outcome: ['result', 'outcome'],
    location: ['evidence', 'location'],
    manifestPath: ['evidence', 'manifestPath'],
    manifestSha256: ['evidence', 'manifestSha256'],
    reportUrl: ['evidence', 'reportUrl'],
    chainHead: ['evidence', 'chainHead'],
    error: ['error'],
  },
} as const;

const SENTINEL_CONNECTION = "@parameters('$connections')['azuresentinel']['connectionId']";
const INCIDENT_ARM_ID = "@triggerBody()?['object']?['id']";
const FUNCTION_KEY = "@{body('Get_function_key')?['value']}";
const STATUS = "body('Get_run_status')";
const item = (field: string): string => `items('For_each_run')?['${field}']`;
const statusPath = (path: readonly string[]): string => `${STATUS}${path.map((s) => `?['${s}']`).join('')}`;
/** A status field in the comment, or `fallback` when the run has none. */
const statusOr = (path: readonly string[], fallback: string): string => `@{coalesce(${statusPath(path)}, '${fallback}')}`;

function comment(message: string, runAfter: JsonObject): JsonObject {
  return {
    type: 'ApiConnection',
    runAfter,
    inputs: {
      host: { connection: { name: SENTINEL_CONNECTION } },
      method: 'post',
      path: '/Incidents/Comment',
      body: { incidentArmId: INCIDENT_ARM_ID, message },
    },
  };
}

/** The workflow definition (Logic Apps workflow definition language). */
export function buildPlaybookDefinition(): JsonObject {
  const c = PLAYBOOK_CONTRACT;
  const running = `createArray(${c.runningStatuses.map((s) => `'${s}'`).join(', ')})`;
  const runtimeStatus = `${STATUS}?['${c.runtimeStatusField}']`;
  const resultMessage = [
    '<p><b>aks-evidence</b>: collection run @{',
    item(c.runIdField),
    '} for cluster @{',
    item(c.clusterField),
    '} ',
    'had status @{coalesce(',
    runtimeStatus,
    ", 'Unknown')} when the playbook stopped waiting",
    ` (outcome: ${statusOr(c.status.outcome, 'n/a')}).</p>`,
    '<p>Cluster found through: @{join(',
    item(c.foundInField),
    ", '; ')}<br/>",
    'Collected first (named by the incident): @{if(empty(',
    item(c.priorityPodsField),
    "), 'no pod named', join(",
    item(c.priorityPodsField),
    ", ', '))}</p>",
    `<p>Evidence location: ${statusOr(c.status.location, 'not sealed')}<br/>`,
    `Manifest: ${statusOr(c.status.manifestPath, 'n/a')}<br/>`,
    `Manifest SHA-256: ${statusOr(c.status.manifestSha256, 'n/a')}<br/>`,
    `Custody chain head: ${statusOr(c.status.chainHead, 'n/a')}<br/>`,
    // The report sealed in the bundle: a private blob, opened by someone with read access to the evidence container.
    'Report: @{if(empty(',
    statusPath(c.status.reportUrl),
    "), 'not written', concat('<a href=\"', ",
    statusPath(c.status.reportUrl),
    ", '\">', ",
    statusPath(c.status.reportUrl),
    ", '</a> (sealed in the bundle; open with Storage Blob Data Reader on the evidence container)'))}</p>",
    '@{if(empty(',
    statusPath(c.status.error),
    "), '', concat('<p>Error: ', ",
    statusPath(c.status.error),
    ", '</p>'))}",
    '<p>Verify: <code>aks-evidence verify &lt;evidence location&gt; --expect-sha256 &lt;manifest SHA-256&gt;</code> (this comment is an anchor outside the bundle). ',
    'Timeline: <code>AksEvidenceTimeline(runId="@{',
    item(c.runIdField),
    '}")</code>.</p>',
  ].join('');
  const notStartedMessage = [
    '<p><b>aks-evidence</b>: no collection started for this incident. ',
    "The function answered HTTP @{outputs('Start_collection')?['statusCode']}: ",
    "@{coalesce(body('Start_collection')?['detail'], body('Start_collection')?['title'], string(body('Start_collection')))}</p>",
  ].join('');

  const keyUnavailableMessage = [
    '<p><b>aks-evidence</b>: no collection started for this incident: the playbook could not read the Function key ',
    "from Key Vault (HTTP @{outputs('Get_function_key')?['statusCode']}). Check that the playbook's managed identity ",
    `has Key Vault Secrets User on the secret ${FUNCTION_KEY_SECRET_NAME}.</p>`,
  ].join('');

  return {
    $schema: 'https://schema.management.azure.com/providers/Microsoft.Logic/schemas/2016-06-01/workflowdefinition.json#',
    contentVersion: '1.0.0.0',
    parameters: {
      $connections: { type: 'Object', defaultValue: {} },
      functionBaseUrl: { type: 'String' },
      functionKeySecretUri: { type: 'String' },
      pollIntervalSeconds: { type: 'Int', defaultValue: 60 },
      collectionTimeout: { type: 'String', defaultValue: 'PT2H' },
    },
    triggers: {
      Microsoft_Sentinel_incident: {
        type: 'ApiConnectionWebhook',
        inputs: {
          body: { callback_url: '@{listCallbackUrl()}' },
          host: { connection: { name: SENTINEL_CONNECTION } },
          path: '/incident-creation',
        },
      },
    },
    actions: {
      Get_function_key: {
        type: 'Http',
        runAfter: {},
        inputs: {
          method: 'GET',
          uri: "@{parameters('functionKeySecretUri')}?api-version=7.4",
          authentication: { type: 'ManagedServiceIdentity', audience: 'https://vault.azure.net' },
        },
        runtimeConfiguration: { secureData: { properties: ['outputs'] } },
      },
      Start_collection: {
        type: 'Http',
        runAfter: { Get_function_key: ['Succeeded'] },
        inputs: {
          method: 'POST',
          uri: `@{parameters('functionBaseUrl')}${SENTINEL_ROUTE}`,
          headers: { 'Content-Type': 'application/json', 'x-functions-key': FUNCTION_KEY },
          body: '@triggerBody()',
          retryPolicy: { type: 'exponential', count: 4, interval: 'PT15S' },
        },
        // 202 + Location would otherwise make Logic Apps poll the status URL itself, for one run only.
        operationOptions: 'DisableAsyncPattern',
        runtimeConfiguration: { secureData: { properties: ['inputs'] } },
      },
      Comment_key_unavailable: comment(keyUnavailableMessage, { Get_function_key: ['Failed', 'TimedOut'] }),
      Comment_not_started: comment(notStartedMessage, { Start_collection: ['Failed', 'TimedOut'] }),
      For_each_run: {
        type: 'Foreach',
        runAfter: { Start_collection: ['Succeeded'] },
        foreach: `@body('Start_collection')?['${c.runsField}']`,
        actions: {
          Wait_for_run: {
            type: 'Until',
            runAfter: {},
            expression: `@not(contains(${running}, coalesce(${runtimeStatus}, 'Running')))`,
            limit: { count: 1000, timeout: "@{parameters('collectionTimeout')}" },
            actions: {
              Delay: {
                type: 'Wait',
                runAfter: {},
                inputs: { interval: { count: "@parameters('pollIntervalSeconds')", unit: 'Second' } },
              },
              Get_run_status: {
                type: 'Http',
                runAfter: { Delay: ['Succeeded'] },
                inputs: {
                  method: 'GET',
                  uri: `@{${item(c.statusUrlField)}}`,
                  headers: { 'x-functions-key': FUNCTION_KEY },
                  retryPolicy: { type: 'exponential', count: 4, interval: 'PT10S' },
                },
                operationOptions: 'DisableAsyncPattern',
                // The status URL carries a system key.
                runtimeConfiguration: { secureData: { properties: ['inputs'] } },
              },
            },
          },
          Comment_result: comment(resultMessage, { Wait_for_run: ['Succeeded', 'Failed', 'TimedOut'] }),
        },
      },
    },
    outputs: {},
  };
}
