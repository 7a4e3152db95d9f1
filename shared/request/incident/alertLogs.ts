import type { TokenCredential } from '@azure/core-auth';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions, type LogsTable } from '@azure/monitor-query-logs';
import type { Json } from './entities.js';

/**
 * What the incident's workspace knows about its alerts, through the Log Analytics query API
 * (the real LogsQueryClient):
 * - SecurityAlert rows: the alert's own entity JSON (`Entities`, with $id/$ref: where Defender
 *   for Containers names the cluster, namespace and pod), `ExtendedProperties` (a scheduled
 *   rule's query and window) and `ResourceId`;
 * - the rows behind a scheduled-rule alert: its query re-run for its window, with the rows'
 *   `_ResourceId` (the cluster, for rules over AKSAudit / AKSAuditAdmin / AzureDiagnostics).
 * The caller needs read access to the workspace (Microsoft Sentinel Reader includes it).
 */

export interface AlertLogsTarget {
  /** Workspace GUID (queried as /workspaces/{id}) or the workspace ARM id (queried in resource context). */
  workspace: string;
}

export interface IncidentLogsReader {
  /** The latest SecurityAlert row of each alert: by SystemAlertId, or (none known) the incident's AlertIds in SecurityIncident. */
  securityAlerts(
    target: AlertLogsTarget & { systemAlertIds: readonly string[]; incidentName: string; start: Date; end: Date },
    options: { abortSignal: AbortSignal },
  ): Promise<Json[]>;
  /** A scheduled rule's query re-run over its window; at most MAX_ALERT_ROWS rows, each with AksEvidenceResourceId (the row's _ResourceId). */
  alertQueryRows(target: AlertLogsTarget & { query: string; start: Date; end: Date }, options: { abortSignal: AbortSignal }): Promise<Json[]>;
}

/** Rows taken from a re-run alert query: enough to name every cluster a rule fired on, small enough to stay fast. */
export const MAX_ALERT_ROWS = 200;
/** Column the re-run adds: the row's _ResourceId (hidden columns are not returned unless projected). */
export const RESOURCE_ID_COLUMN = 'AksEvidenceResourceId';

const kqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const ALERT_COLUMNS = 'SystemAlertId, DisplayName, AlertName, ProductName, ProviderName, ResourceId, Entities, ExtendedProperties, StartTime, EndTime';

/** KQL for the SecurityAlert rows of an incident's alerts. */
export function securityAlertsQuery(systemAlertIds: readonly string[], incidentName: string): string {
  if (systemAlertIds.length) {
    return [
      'SecurityAlert',
      `| where SystemAlertId in (${systemAlertIds.map(kqlString).join(', ')})`,
      '| summarize arg_max(TimeGenerated, *) by SystemAlertId',
      `| project ${ALERT_COLUMNS}`,
    ].join('\n');
  }
  return [
    'SecurityIncident',
    `| where IncidentName == ${kqlString(incidentName)}`,
    '| summarize arg_max(TimeGenerated, AlertIds) by IncidentName',
    '| mv-expand AlertId = AlertIds to typeof(string)',
    '| join kind=inner (SecurityAlert | summarize arg_max(TimeGenerated, *) by SystemAlertId) on $left.AlertId == $right.SystemAlertId',
    `| project ${ALERT_COLUMNS}`,
  ].join('\n');
}

/**
 * A rule's query with the rows' _ResourceId made visible and the answer bounded. Sentinel's
 * stored query may end in a comment line or a ";": the appended operators go on a new line
 * after trailing semicolons are removed.
 */
export function alertRowsQuery(query: string): string {
  const body = query.replace(/[\s;]+$/, '');
  return `${body}\n| extend ${RESOURCE_ID_COLUMN} = tostring(column_ifexists('_ResourceId', ''))\n| take ${MAX_ALERT_ROWS}`;
}

function rowsOf(tables: LogsTable[]): Json[] {
  const out: Json[] = [];
  for (const t of tables) {
    const names = t.columnDescriptors.map((c) => c.name ?? '');
    for (const row of t.rows) {
      const o: Json = {};
      names.forEach((n, i) => (o[n] = row[i]));
      out.push(o);
    }
  }
  return out;
}

export interface IncidentLogsReaderOptions {
  /** Query API base URL including the version, default https://api.loganalytics.io/v1 (sovereign clouds differ). */
  endpoint?: string;
  /** Extra client options (tests: trust a loopback stub's CA). */
  clientOptions?: LogsQueryClientOptions;
  /** Server-side timeout of one query in seconds (default 30: the HTTP trigger must answer the playbook in time). */
  serverTimeoutInSeconds?: number;
}

export function createIncidentLogsReader(credential: TokenCredential, options: IncidentLogsReaderOptions = {}): IncidentLogsReader {
  const endpoint = options.endpoint ? new URL(options.endpoint) : undefined;
  if (endpoint && (endpoint.pathname === '/' || endpoint.pathname === '')) endpoint.pathname = '/v1';
  const client = new LogsQueryClient(credential, {
    retryOptions: { maxRetries: 1 },
    ...options.clientOptions,
    ...(endpoint ? { endpoint: endpoint.toString().replace(/\/$/, '') } : {}),
    ...(endpoint && !options.clientOptions?.credentials ? { credentials: { scopes: [`${endpoint.origin}/.default`] } } : {}),
  });
  const serverTimeoutInSeconds = options.serverTimeoutInSeconds ?? 30;

  const run = async (workspace: string, query: string, start: Date, end: Date, abortSignal: AbortSignal): Promise<Json[]> => {
    const timespan = { startTime: start, endTime: end };
    const queryOptions = { abortSignal, serverTimeoutInSeconds };
    const result = workspace.startsWith('/')
      ? await client.queryResource(workspace, query, timespan, queryOptions)
      : await client.queryWorkspace(workspace, query, timespan, queryOptions);
    if (result.status === LogsQueryResultStatus.Success) return rowsOf(result.tables);
    // A cut answer still names clusters: use what arrived.
    return rowsOf(result.partialTables);
  };

  return {
    securityAlerts: (t, { abortSignal }) => run(t.workspace, securityAlertsQuery(t.systemAlertIds, t.incidentName), t.start, t.end, abortSignal),
    alertQueryRows: (t, { abortSignal }) => run(t.workspace, alertRowsQuery(t.query), t.start, t.end, abortSignal),
  };
}
