import type { TokenCredential } from '@azure/core-auth';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions, type LogsQueryResult, type LogsTable } from '@azure/monitor-query-logs';
import { BlobServiceClient, ContainerClient } from '@azure/storage-blob';
import type { Gap } from '../evidence/types.js';
import { describeError, InputError, redactUrl } from '../util/errors.js';
import { toRfc3339 } from '../util/time.js';
import { AuditParseError, normalizeAuditRecord, parseAuditInput, type AuditParseProblem } from './parse.js';
import type { AuditEvent } from './types.js';
import { eventTimeMs } from './types.js';

/** The Log Analytics tables AKS audit logs land in (resource-specific, or the legacy AzureDiagnostics). */
export type AuditLogTable = 'AKSAudit' | 'AKSAuditAdmin' | 'AzureDiagnostics';
export const AUDIT_LOG_TABLES: readonly AuditLogTable[] = ['AKSAudit', 'AKSAuditAdmin', 'AzureDiagnostics'];

const SOURCE = 'audit';
const CLUSTER_ID = /^\/subscriptions\/[^/'"\\\s]+\/resourcegroups\/[^/'"\\\s]+\/providers\/microsoft\.containerservice\/managedclusters\/[^/'"\\\s]+$/i;

function toDate(value: Date | string, field: string): Date {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) throw new InputError(field, `not a valid time: ${String(value)}`);
  return d;
}

/** Check the cluster id before it goes into KQL or a blob prefix. */
export function checkClusterResourceId(id: string): string {
  if (!CLUSTER_ID.test(id)) {
    throw new InputError(
      'clusterResourceId',
      `"${id}" is not an AKS cluster resource id (/subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<name>)`,
    );
  }
  return id;
}

const kqlString = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
const kqlTime = (d: Date) => `datetime(${d.toISOString()})`;

/**
 * The KQL for one window: every chosen table, filtered by cluster and [start, end), each leg
 * projected to its own columns (a union of the two shapes; SourceTable says which a row is).
 * `isfuzzy=true` lets a table the workspace does not have drop out instead of failing.
 */
export function buildAuditQuery(options: { tables: readonly AuditLogTable[]; clusterResourceId: string; start: Date; end: Date; count?: boolean }): string {
  const rid = kqlString(checkClusterResourceId(options.clusterResourceId));
  const window = `TimeGenerated >= ${kqlTime(options.start)} and TimeGenerated < ${kqlTime(options.end)}`;
  const legs = options.tables.map((t) =>
    t === 'AzureDiagnostics'
      ? `(AzureDiagnostics | where ${window} and Category in ('kube-audit', 'kube-audit-admin') and _ResourceId =~ ${rid}` +
        ` | project TimeGenerated, Category, log_s = column_ifexists('log_s', ''))`
      : `(${t} | where ${window} and _ResourceId =~ ${rid}` +
        ' | project TimeGenerated, Level, AuditId, Stage, RequestUri, Verb, User, SourceIps, UserAgent, ObjectRef, ResponseStatus,' +
        " RequestObject, ResponseObject, RequestReceivedTime, StageReceivedTime, Annotations, ImpersonatedUser = column_ifexists('ImpersonatedUser', dynamic(null)))",
  );
  const union = `union isfuzzy=true withsource=SourceTable\n  ${legs.join(',\n  ')}`;
  return options.count ? `${union}\n| count` : `${union}\n| order by TimeGenerated asc`;
}

export interface ExportAuditLogsOptions {
  /** Log Analytics workspace id (the GUID), or the workspace's ARM resource id (queried in resource context). */
  workspaceId: string;
  /** The AKS cluster resource id: only its events are returned. */
  clusterResourceId: string;
  /** Window start (inclusive) and end (exclusive), UTC. */
  start: Date | string;
  end: Date | string;
  credential: TokenCredential;
  /** Query API base URL including the version, default https://api.loganalytics.io/v1 (sovereign clouds: their own). */
  endpoint?: string;
  /** Tables to read (default all three; absent ones are skipped by the service). */
  tables?: AuditLogTable[];
  /** First slicing of the window, in ms (default 1 hour). */
  sliceMs?: number;
  /** Slices are split no finer than this, in ms (default 1 minute). */
  minSliceMs?: number;
  /**
   * Rows per query, at most (default 5,000). The query API caps an answer (500,000 rows,
   * ~64 MB); RequestResponse-level events can be tens of KB each, so stay far below.
   * A slice with more rows is split by its count; an answer cut by the service (a
   * PartialError) is split in halves and asked again.
   */
  maxRowsPerQuery?: number;
  /** Server-side query timeout in seconds (default 180, the service's maximum is 600). */
  serverTimeoutInSeconds?: number;
  abortSignal?: AbortSignal;
  /** Evidence that could not be read (a refused query, a slice still cut at the minimum size). */
  onGap?: (gap: Gap) => void;
  /** Records that could not be normalized (e.g. a truncated log_s). */
  onProblem?: (problem: AuditParseProblem) => void;
  /** Progress per query. */
  onQuery?: (info: { start: string; end: string; kind: 'count' | 'rows'; rows: number }) => void;
  /** A ready client (custom pipeline, tests); otherwise built from credential + endpoint. */
  client?: LogsQueryClient;
  clientOptions?: LogsQueryClientOptions;
}

function normalizeEndpoint(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1';
  return u.toString().replace(/\/$/, '');
}

function tablesToObjects(tables: LogsTable[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const t of tables) {
    const names = t.columnDescriptors.map((c) => c.name ?? '');
    for (const row of t.rows) out.push(Object.fromEntries(names.map((n, i) => [n, row[i]])));
  }
  return out;
}

/** A row of the union → event(s), by the table it came from (both shapes share the result). */
function rowToEvents(row: Record<string, unknown>, onProblem: ((p: AuditParseProblem) => void) | undefined, index: number): AuditEvent[] {
  const table = String(row.SourceTable ?? '');
  const options = { ...(onProblem ? { onProblem } : {}), at: { index } };
  if (table.startsWith('AzureDiagnostics')) return normalizeAuditRecord({ Category: row.Category, log_s: row.log_s, TimeGenerated: row.TimeGenerated }, options);
  const { SourceTable: _t, Category: _c, log_s: _l, ...rest } = row;
  return normalizeAuditRecord(rest, options);
}

function statusOf(error: unknown): number | undefined {
  const e = error as { statusCode?: unknown };
  return typeof e?.statusCode === 'number' ? e.statusCode : undefined;
}

class QueryRefused extends Error {
  override name = 'QueryRefused';
}

/**
 * Export the cluster's audit events of a window from Log Analytics, oldest first per slice.
 * Yields normalized, redacted events of every stage (dedupe and stage selection are the
 * caller's: see stages.ts). Refused queries and slices the service kept cutting are gaps.
 */
export async function* exportAuditLogs(options: ExportAuditLogsOptions): AsyncGenerator<AuditEvent> {
  const start = toDate(options.start, 'start');
  const end = toDate(options.end, 'end');
  if (!(start < end)) throw new InputError('end', 'the window end must be after its start');
  checkClusterResourceId(options.clusterResourceId);
  const tables = options.tables?.length ? options.tables : AUDIT_LOG_TABLES;
  const sliceMs = options.sliceMs ?? 3_600_000;
  const minSliceMs = Math.min(options.minSliceMs ?? 60_000, sliceMs);
  const maxRows = options.maxRowsPerQuery ?? 5_000;
  const client =
    options.client ??
    new LogsQueryClient(options.credential, {
      ...options.clientOptions,
      ...(options.endpoint ? { endpoint: normalizeEndpoint(options.endpoint) } : {}),
      ...(options.endpoint && !options.clientOptions?.credentials ? { credentials: { scopes: [`${new URL(options.endpoint).origin}/.default`] } } : {}),
    });
  const byResource = options.workspaceId.startsWith('/');

  const run = async (s: Date, e: Date, count: boolean): Promise<LogsQueryResult> => {
    const query = buildAuditQuery({ tables, clusterResourceId: options.clusterResourceId, start: s, end: e, count });
    const queryOptions = {
      serverTimeoutInSeconds: options.serverTimeoutInSeconds ?? 180,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    };
    try {
      return byResource
        ? // The REST path is /v1/subscriptions/…/query: the SDK adds its own "/" before the id.
          await client.queryResource(options.workspaceId.replace(/^\/+/, ''), query, { startTime: s, endTime: e }, queryOptions)
        : await client.queryWorkspace(options.workspaceId, query, { startTime: s, endTime: e }, queryOptions);
    } catch (error) {
      const status = statusOf(error);
      if (status === 401 || status === 403 || status === 404) throw new QueryRefused(`${status}`, { cause: error });
      throw error;
    }
  };

  const gap = (reason: Gap['reason'], detail: string) => options.onGap?.({ source: SOURCE, reason, detail, resource: `Log Analytics ${tables.join(', ')}` });
  const windowText = (s: Date, e: Date) => `${toRfc3339(s)}–${toRfc3339(e)}`;

  const emitRows = function* (tablesOut: LogsTable[]): Generator<AuditEvent> {
    let index = 0;
    for (const row of tablesToObjects(tablesOut)) {
      index++;
      const table = String(row.SourceTable ?? 'row');
      const onProblem = options.onProblem ? (p: AuditParseProblem) => options.onProblem!({ ...p, message: `${table}: ${p.message}` }) : undefined;
      try {
        yield* rowToEvents(row, onProblem, index);
      } catch (error) {
        if (!(error instanceof AuditParseError)) throw error;
        onProblem?.({ kind: 'unreadable', index, message: error.message });
      }
    }
  };

  const slice = async function* (s: Date, e: Date): AsyncGenerator<AuditEvent> {
    const counted = await run(s, e, true);
    const n = Number(counted.status === LogsQueryResultStatus.Success ? (counted.tables[0]?.rows[0]?.[0] ?? 0) : Number.NaN);
    options.onQuery?.({ start: toRfc3339(s), end: toRfc3339(e), kind: 'count', rows: Number.isNaN(n) ? 0 : n });
    if (n === 0) return;
    const span = e.getTime() - s.getTime();
    if ((Number.isNaN(n) || n > maxRows) && span > minSliceMs) {
      // Split by the count (events are not uniform in time, so each part is counted again).
      const parts = Math.max(2, Math.min(Number.isNaN(n) ? 2 : Math.ceil(n / maxRows), Math.floor(span / minSliceMs)));
      const step = Math.ceil(span / parts);
      for (let t = s.getTime(); t < e.getTime(); t += step) yield* slice(new Date(t), new Date(Math.min(t + step, e.getTime())));
      return;
    }
    const result = await run(s, e, false);
    if (result.status === LogsQueryResultStatus.Success) {
      options.onQuery?.({ start: toRfc3339(s), end: toRfc3339(e), kind: 'rows', rows: result.tables.reduce((a, t) => a + t.rows.length, 0) });
      yield* emitRows(result.tables);
      return;
    }
    // Cut by the service (size or row limit): ask again in halves, down to the minimum slice.
    if (span > minSliceMs) {
      const mid = new Date(s.getTime() + Math.ceil(span / 2));
      yield* slice(s, mid);
      yield* slice(mid, e);
      return;
    }
    const kept = result.partialTables.reduce((a, t) => a + t.rows.length, 0);
    options.onQuery?.({ start: toRfc3339(s), end: toRfc3339(e), kind: 'rows', rows: kept });
    gap(
      'error',
      `audit window ${windowText(s, e)} was cut by the query service (${result.partialError.code ?? 'PartialError'}: ${result.partialError.message ?? ''}); ${kept} of ${Number.isNaN(n) ? 'unknown' : n} events kept`,
    );
    yield* emitRows(result.partialTables);
  };

  for (let t = start.getTime(); t < end.getTime(); t += sliceMs) {
    const s = new Date(t);
    const e = new Date(Math.min(t + sliceMs, end.getTime()));
    try {
      yield* slice(s, e);
    } catch (error) {
      if (options.abortSignal?.aborted) throw error;
      if (error instanceof QueryRefused) {
        const status = Number(error.message);
        gap(
          status === 404 ? 'not-found' : status === 401 ? 'unauthorized' : 'forbidden',
          `the audit log query was refused (HTTP ${status}) by workspace ${options.workspaceId}: ${describeError(error.cause)}. ` +
            'The collector identity needs Log Analytics Reader on the workspace (or Monitoring Reader on the cluster for resource-context queries).',
        );
        return;
      }
      gap('error', `audit window ${windowText(s, e)} could not be read: ${describeError(error)}`);
    }
  }
}

// ---------------------------------------------------------------------------------------
// Diagnostic settings → storage account

export interface ReadAuditFromStorageOptions {
  /** One container URL (SAS in the query, or use `credential`), e.g. https://acct.blob.core.windows.net/insights-logs-kube-audit. */
  containerUrl?: string;
  /** Or a connection string (Azurite, account key) … */
  connectionString?: string;
  /** … or the account's blob endpoint (https://acct.blob.core.windows.net) with `credential`. */
  serviceUrl?: string;
  credential?: TokenCredential;
  /** Containers to read with connectionString/serviceUrl (default both audit categories). */
  containers?: string[];
  clusterResourceId: string;
  start: Date | string;
  end: Date | string;
  abortSignal?: AbortSignal;
  onGap?: (gap: Gap) => void;
  onProblem?: (problem: AuditParseProblem & { blob?: string }) => void;
}

export const AUDIT_STORAGE_CONTAINERS = ['insights-logs-kube-audit', 'insights-logs-kube-audit-admin'] as const;

const pad = (n: number) => String(n).padStart(2, '0');

/** The blob prefix of one hour: resourceId=/SUBSCRIPTIONS/…/y=YYYY/m=MM/d=DD/h=HH/ (upper-case id, as Azure Monitor writes it). */
export function storageHourPrefix(clusterResourceId: string, hour: Date): string {
  const id = checkClusterResourceId(clusterResourceId).toUpperCase();
  return `resourceId=${id}/y=${hour.getUTCFullYear()}/m=${pad(hour.getUTCMonth() + 1)}/d=${pad(hour.getUTCDate())}/h=${pad(hour.getUTCHours())}/`;
}

function containerClients(options: ReadAuditFromStorageOptions): ContainerClient[] {
  const names = options.containers?.length ? options.containers : [...AUDIT_STORAGE_CONTAINERS];
  if (options.containerUrl) return [options.credential ? new ContainerClient(options.containerUrl, options.credential) : new ContainerClient(options.containerUrl)];
  if (options.connectionString) {
    const svc = BlobServiceClient.fromConnectionString(options.connectionString);
    return names.map((n) => svc.getContainerClient(n));
  }
  if (options.serviceUrl) {
    const svc = options.credential ? new BlobServiceClient(options.serviceUrl, options.credential) : new BlobServiceClient(options.serviceUrl);
    return names.map((n) => svc.getContainerClient(n));
  }
  throw new InputError('storage', 'give a containerUrl, a connectionString, or a serviceUrl with a credential');
}

/**
 * Read the cluster's audit events of a window from the diagnostic-settings storage account:
 * <container>/resourceId=/SUBSCRIPTIONS/…/y=YYYY/m=MM/d=DD/h=HH/m=00/PT1H.json, one
 * diagnostic record per line (older blobs: one {"records": [...]} document). Hour by hour,
 * both categories per hour; events outside [start, end) are dropped.
 */
export async function* readAuditFromStorage(options: ReadAuditFromStorageOptions): AsyncGenerator<AuditEvent> {
  const start = toDate(options.start, 'start');
  const end = toDate(options.end, 'end');
  if (!(start < end)) throw new InputError('end', 'the window end must be after its start');
  const clients = containerClients(options);
  const dead = new Set<ContainerClient>();
  const startMs = start.getTime();
  const endMs = end.getTime();
  const firstHour = Math.floor(startMs / 3_600_000) * 3_600_000;

  for (let h = firstHour; h < endMs; h += 3_600_000) {
    const prefix = storageHourPrefix(options.clusterResourceId, new Date(h));
    for (const container of clients) {
      if (dead.has(container)) continue;
      try {
        for await (const blob of container.listBlobsFlat({ prefix, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) })) {
          if (!blob.name.endsWith('.json')) continue;
          const download = await container.getBlobClient(blob.name).download(0, undefined, options.abortSignal ? { abortSignal: options.abortSignal } : {});
          if (!download.readableStreamBody) continue;
          for await (const event of parseAuditInput(download.readableStreamBody, {
            onProblem: (p) => options.onProblem?.({ ...p, blob: blob.name }),
          })) {
            const t = eventTimeMs(event);
            // An event without a time of its own (a cut or hand-made record) belongs to the hour
            // blob it was found in: kept, not dropped as outside the window.
            if (Number.isNaN(t) || (t >= startMs && t < endMs)) yield event;
          }
        }
      } catch (error) {
        if (options.abortSignal?.aborted) throw error;
        const status = statusOf(error);
        const where = redactUrl(container.url);
        if (status === 404) {
          options.onGap?.({
            source: SOURCE,
            reason: 'not-found',
            detail: `audit container ${where} does not exist (no events of this category were ever exported there)`,
            resource: where,
          });
        } else if (status === 401 || status === 403) {
          options.onGap?.({
            source: SOURCE,
            reason: 'forbidden',
            detail: `reading ${where} was refused (HTTP ${status}); the collector needs Storage Blob Data Reader on the account`,
            resource: where,
          });
        } else {
          options.onGap?.({ source: SOURCE, reason: 'error', detail: `reading ${where} (${prefix}) failed: ${describeError(error)}`, resource: where });
          continue;
        }
        dead.add(container);
      }
    }
  }
}
