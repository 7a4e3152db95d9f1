/**
 * Ingest a sealed evidence bundle into Log Analytics through the DCE: read the rows artifacts
 * the manifest lists, map each row (link columns, types, size limits), send what an earlier
 * attempt has not had acknowledged, re-send what the service did not acknowledge, and write
 * a receipt. Every row ends up acknowledged, or recorded as not delivered with the reason.
 *
 * One attempt = one call of ingestBundle (all tables, the CLI) or ingestTable (one table, the
 * ingestEvidence activity). Attempts may run in parallel on one bundle: each claims its number
 * by writing ingestion/attempt-<n>.json once.
 */
import type { TokenCredential } from '@azure/identity';
import { LogsIngestionClient, type LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import type { ArtifactRef, EvidenceStore, Manifest } from '../evidence/types.js';
import { AksEvidenceError, ArtifactConflictError, describeError, InputError } from '../util/errors.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import { AckLog, INGESTION_PREFIX, readAcknowledged } from './ackLog.js';
import { printableEndpoint, type IngestionTarget, type RetryBudget } from './config.js';
import { readArtifactLines, type ReadStats } from './readLines.js';
import {
  addCounts,
  attemptPath,
  delivered,
  emptyCounts,
  FAILURE_SAMPLE,
  RECEIPT_SCHEMA_VERSION,
  receiptPath,
  undelivered,
  type FailureGroup,
  type IngestionReceipt,
  type TableIngestionReport,
} from './receipt.js';
import { mapRow, type RowMappingOptions, UnknownColumnError } from './rowMapping.js';
import type { TableRegistry } from '../tables/registry.js';
import { GZIP_OVERHEAD_BYTES, MAX_REQUEST_BYTES, RequestPacker, sendRequest, type FailedRows, type UploadRequest } from './upload.js';
import { stripUndefined } from '../util/objects.js';

export interface IngestProgress {
  table: string;
  rowsRead: number;
  rowsAcknowledged: number;
  rowsSkipped: number;
  rowsFailed: number;
  requests: number;
}

export interface IngestBundleOptions {
  store: EvidenceStore;
  /** The sealed manifest of the bundle in `store`. */
  manifest: Manifest;
  config: IngestionTarget;
  /** The tables rows can go to (the source registry's tables). */
  tables: TableRegistry;
  /** Needs Monitoring Metrics Publisher on the DCR(s); token scope `<audience>/.default`. */
  credential: TokenCredential;
  /** Tables to ingest (default: every table with rows artifacts in the manifest). */
  only?: string[];
  /**
   * Only these rows artifacts (paths from the manifest), e.g. one shard's: lets an orchestrator
   * fan a large table out over several activities. Default: all of the tables' artifacts.
   */
  artifactPaths?: string[];
  /** Requests in flight per table. Default config.maxConcurrency. */
  concurrency?: number;
  /** Overrides config.retry. */
  retryBudget?: Partial<RetryBudget>;
  abortSignal?: AbortSignal;
  clock?: Clock;
  progress?: (event: IngestProgress) => void;
  /** Row mapping. Default: unknown columns dropped and counted; 32 KB fields; 900 KB rows. */
  mapping?: RowMappingOptions;
  /** Request size limit in bytes (compressed and uncompressed). Default 1,000,000. */
  maxRequestBytes?: number;
  /** LogsIngestionClient options (e.g. tlsOptions, retryOptions, httpClient in tests). */
  clientOptions?: LogsIngestionClientOptions;
  /** Shorthand for clientOptions.httpClient. */
  httpClient?: LogsIngestionClientOptions['httpClient'];
  /**
   * The run's custody log: each attempt's receipt is recorded in it (path and SHA-256), so
   * verify can tell a receipt the run wrote from a forged one. Absent: no custody record.
   */
  custody?: { record(step: string, details: object): Promise<unknown> };
  /**
   * Which part of the run the artifacts are (the CollectionPhase column): 'initial' (default,
   * the sealed manifest's) or 'increment' (a preservation segment's, passed as `manifest` with
   * the segment's artifacts).
   */
  phase?: 'initial' | 'increment';
}

export interface IngestTableOptions extends Omit<IngestBundleOptions, 'only'> {
  table: string;
}

/** Ingest one table: what the ingestEvidence activity calls. The receipt covers that table only. */
export function ingestTable(options: IngestTableOptions): Promise<IngestionReceipt> {
  const { table, ...rest } = options;
  return ingestBundle({ ...rest, only: [table] });
}

/** Rows artifacts of the manifest, by table. */
export function rowsArtifactsByTable(manifest: Manifest): Map<string, ArtifactRef[]> {
  const byTable = new Map<string, ArtifactRef[]>();
  for (const a of manifest.artifacts) {
    if (a.kind !== 'rows' || !a.table) continue;
    const list = byTable.get(a.table) ?? [];
    list.push(a);
    byTable.set(a.table, list);
  }
  return byTable;
}

/** Tables to ingest: the requested ones, or those with rows, in registry order. */
function selectTables(manifest: Manifest, requested: string[] | undefined, tables: TableRegistry): string[] {
  const present = rowsArtifactsByTable(manifest);
  const registryOrder = tables.names();
  if (requested) {
    const unknown = requested.filter((t) => !registryOrder.includes(t) && !present.has(t));
    if (unknown.length) throw new InputError('tables', `unknown table(s) ${unknown.join(', ')}; known: ${registryOrder.join(', ')}`);
    return [...new Set(requested)];
  }
  const names = [...present.keys()];
  return names.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  function rank(n: string): number {
    const i = registryOrder.indexOf(n);
    return i === -1 ? registryOrder.length : i;
  }
}

/** Claim the next attempt number by writing its start record once. */
async function claimAttempt(store: EvidenceStore, start: (attempt: number) => object): Promise<number> {
  let highest = 0;
  for await (const info of store.list(INGESTION_PREFIX)) {
    const m = /^ingestion\/(?:attempt|receipt|acked)-(\d+)/.exec(info.path);
    if (m) highest = Math.max(highest, Number(m[1]));
  }
  for (let attempt = highest + 1; attempt <= highest + 100; attempt++) {
    try {
      const written = await store.writeArtifact(attemptPath(attempt), JSON.stringify(start(attempt), null, 2) + '\n', {
        contentType: 'application/json',
        metadata: { artifactkind: 'ingestion-attempt', attempt: String(attempt) },
      });
      if (!written.alreadyExisted) {
        await store.protect?.(attemptPath(attempt));
        return attempt;
      }
    } catch (error) {
      if (!(error instanceof ArtifactConflictError) && (error as { code?: string }).code !== 'ERR_ARTIFACT_CONFLICT') throw error;
    }
  }
  throw new AksEvidenceError('ERR_INGEST_ATTEMPT', `could not claim an ingestion attempt number in ${store.location} (100 concurrent attempts?)`);
}

/**
 * Ingest the bundle's rows into Log Analytics. Returns the receipt (also written to the
 * bundle). Service and network failures are data in the receipt; an unexpected error (store
 * failure, UnknownColumnError with mapping.unknownColumns 'error') is recorded in the receipt
 * and rethrown.
 */
export async function ingestBundle(options: IngestBundleOptions): Promise<IngestionReceipt> {
  const { store, manifest, config } = options;
  const clock = options.clock ?? systemClock;
  let tables = selectTables(manifest, options.only, options.tables);
  const byTable = rowsArtifactsByTable(manifest);
  if (options.artifactPaths) {
    const wanted = new Set(options.artifactPaths);
    const known = new Set([...byTable.values()].flat().map((a) => a.path));
    const missing = [...wanted].filter((p) => !known.has(p));
    if (missing.length) throw new InputError('artifactPaths', `not rows artifacts of this manifest: ${missing.slice(0, 5).join(', ')}`);
    for (const [t, refs] of byTable)
      byTable.set(
        t,
        refs.filter((a) => wanted.has(a.path)),
      );
  }
  if (options.artifactPaths && !options.only) tables = tables.filter((t) => (byTable.get(t) ?? []).length > 0);
  const startedAt = toRfc3339(clock());
  const endpoint = printableEndpoint(config);
  const attempt = await claimAttempt(store, (n) => ({
    schemaVersion: RECEIPT_SCHEMA_VERSION,
    kind: 'ingestion-attempt',
    attempt: n,
    runId: manifest.runId,
    caseId: manifest.caseId,
    endpoint,
    tables,
    startedAt,
    receipt: receiptPath(n),
  }));

  const clientOptions: LogsIngestionClientOptions = {
    audience: config.audience,
    ...options.clientOptions,
    // One retry loop: ours (sendRequest, bounded by the retry budget, Retry-After honoured, only
    // unacknowledged rows re-sent). The client's own retries would stack under it.
    retryOptions: { ...options.clientOptions?.retryOptions, maxRetries: 0 },
    ...(options.httpClient ? { httpClient: options.httpClient } : {}),
  };
  const client = new LogsIngestionClient(config.endpoint, options.credential, clientOptions);
  const budget: RetryBudget = { ...config.retry, ...stripUndefined(options.retryBudget ?? {}) };
  const concurrency = Math.max(1, options.concurrency ?? config.maxConcurrency);
  const reports: Record<string, TableIngestionReport> = {};
  let failure: unknown;
  for (const table of tables) {
    const artifacts = byTable.get(table) ?? [];
    if (failure !== undefined || options.abortSignal?.aborted) {
      reports[table] = notSentReport(
        table,
        artifacts,
        failure !== undefined ? 'error' : 'aborted',
        failure !== undefined ? `not attempted: the attempt ended early (${describeError(failure)})` : 'not attempted: aborted',
      );
      continue;
    }
    try {
      reports[table] = await ingestOneTable({ options, client, table, artifacts, attempt, budget, concurrency });
    } catch (error) {
      failure = error;
      const partial = (error as { report?: TableIngestionReport }).report;
      reports[table] = partial ?? notSentReport(table, artifacts, 'error', describeError(error));
    }
  }

  const totals = emptyCounts();
  let requests = 0;
  let resends = 0;
  let bytesSent = 0;
  for (const r of Object.values(reports)) {
    addCounts(totals, r);
    requests += r.requests;
    resends += r.resends;
    bytesSent += r.bytesSent;
  }
  const status: IngestionReceipt['status'] =
    failure !== undefined ? 'failed' : options.abortSignal?.aborted ? 'aborted' : undelivered(totals) === 0 ? 'complete' : delivered(totals) === 0 ? 'failed' : 'partial';
  const receipt: IngestionReceipt = {
    schemaVersion: RECEIPT_SCHEMA_VERSION,
    kind: 'ingestion-receipt',
    attempt,
    path: receiptPath(attempt),
    runId: manifest.runId,
    caseId: manifest.caseId,
    location: store.location,
    endpoint,
    startedAt,
    endedAt: toRfc3339(clock()),
    status,
    ...totals,
    requests,
    resends,
    bytesSent,
    tables: reports,
    ...(failure !== undefined ? { error: describeError(failure) } : {}),
  };
  const writtenReceipt = await store.writeArtifact(receipt.path, JSON.stringify(receipt, null, 2) + '\n', {
    contentType: 'application/json',
    metadata: { artifactkind: 'ingestion-receipt', attempt: String(attempt), status },
  });
  // Same protection as the evidence itself (legal hold / retention when the run asked for it).
  await store.protect?.(receipt.path);
  await options.custody?.record('ingestion-attempt', {
    attempt,
    receiptPath: receipt.path,
    receiptSha256: writtenReceipt.sha256,
    status,
    tables: Object.keys(reports),
    rowsAcknowledged: totals.rowsAcknowledged,
    rowsSkipped: totals.rowsSkipped,
  });
  if (failure !== undefined) throw failure;
  return receipt;
}

function newReport(table: string, artifacts: ArtifactRef[]): TableIngestionReport {
  return {
    table,
    status: 'empty',
    ...emptyCounts(),
    artifacts: artifacts.map((a) => ({ path: a.path, sha256: a.sha256, records: a.records, rowsRead: 0 })),
    failures: [],
    droppedColumns: {},
    invalidValues: {},
    requests: 0,
    resends: 0,
    bytesSent: 0,
    previousAttempts: [],
    acknowledgements: [],
  };
}

function notSentReport(table: string, artifacts: ArtifactRef[], reason: FailureGroup['reason'], message: string): TableIngestionReport {
  const report = newReport(table, artifacts);
  const rows = artifacts.reduce((n, a) => n + a.records, 0);
  report.rowsExpected = rows;
  report.rowsNotSent = rows;
  if (rows) report.failures.push({ reason, message, rows, recordIds: [] });
  report.status = rows ? 'failed' : 'empty';
  return report;
}

class FailureLog {
  private readonly groups = new Map<string, FailureGroup>();

  add(group: Omit<FailureGroup, 'rows' | 'recordIds'>, ids: readonly string[], rows = ids.length): void {
    const key = `${group.reason}|${group.status ?? ''}|${group.code ?? ''}|${group.status === undefined ? group.message : ''}`;
    let g = this.groups.get(key);
    if (!g) {
      g = { ...group, rows: 0, recordIds: [] };
      this.groups.set(key, g);
    }
    g.rows += rows;
    for (const id of ids) {
      if (g.recordIds.length >= FAILURE_SAMPLE) break;
      g.recordIds.push(id);
    }
  }

  list(): FailureGroup[] {
    return [...this.groups.values()].sort((a, b) => b.rows - a.rows);
  }
}

/** Statuses that more requests will not cure, and what to fix before re-ingesting. */
const STOP_STATUS: Record<number, string> = {
  401: 'the token was refused: check the credential and the audience in the ingestion target, then re-ingest',
  403: 'the identity needs Monitoring Metrics Publisher on the DCR (a new role assignment can take up to 30 minutes to apply); re-ingest afterwards',
  404: 'the DCR immutable id or stream does not exist at this endpoint: check the ingestion target document against the deployment',
};

interface TableRun {
  options: IngestBundleOptions;
  client: LogsIngestionClient;
  table: string;
  artifacts: ArtifactRef[];
  attempt: number;
  budget: RetryBudget;
  concurrency: number;
}

async function ingestOneTable(run: TableRun): Promise<TableIngestionReport> {
  const { options, table, artifacts } = run;
  const { store, manifest } = options;
  const report = newReport(table, artifacts);
  const target = options.config.tables[table];
  const definition = options.tables.has(table) ? options.tables.get(table) : undefined;
  if (!target || !definition) {
    const why = !definition
      ? `table ${table} is not in this version's table registry; ingest it with the version that collected it`
      : `no DCR stream configured for ${table}: add it to the ingestion target document (redeploy infra/ to create its stream)`;
    const r = notSentReport(table, artifacts, 'not-configured', why);
    r.status = r.rowsExpected ? 'not-configured' : 'empty';
    return r;
  }
  report.dcrImmutableId = target.dcrImmutableId;
  report.streamName = target.streamName;

  const previous = await readAcknowledged(store, table, options.abortSignal);
  report.previousAttempts = previous.attempts;
  // Durable per accepted request: a request's slot is freed only once its part is written.
  const acks = new AckLog(store, run.attempt, table);
  const failures = new FailureLog();
  const packer = new RequestPacker((options.maxRequestBytes ?? MAX_REQUEST_BYTES) - GZIP_OVERHEAD_BYTES);
  const mapping: RowMappingOptions = {
    ...options.mapping,
    maxRowBytes: Math.min(options.mapping?.maxRowBytes ?? 900_000, (options.maxRequestBytes ?? MAX_REQUEST_BYTES) - GZIP_OVERHEAD_BYTES - 2),
  };
  const inflight = new Set<Promise<void>>();
  let asyncError: unknown;
  let readNotSent = 0;
  /** A failure that will not go away by sending more (401/403/404): stop the table, keep the rest for a re-ingest. */
  let stopped: FailedRows | undefined;
  const emit = (): void =>
    options.progress?.({
      table,
      rowsRead: report.rowsRead,
      rowsAcknowledged: report.rowsAcknowledged,
      rowsSkipped: report.rowsSkipped,
      rowsFailed: report.rowsFailed,
      requests: report.requests,
    });

  const record = async (outcome: { acknowledged: string[]; failed: FailedRows[]; requests: number; resends: number; bytesSent: number }): Promise<void> => {
    report.rowsAcknowledged += outcome.acknowledged.length;
    report.requests += outcome.requests;
    report.resends += outcome.resends;
    report.bytesSent += outcome.bytesSent;
    for (const f of outcome.failed) {
      if (f.status !== undefined && STOP_STATUS[f.status]) stopped ??= f;
      report.rowsFailed += f.recordIds.length;
      failures.add(
        { reason: f.reason, ...(f.status !== undefined ? { status: f.status } : {}), ...(f.code !== undefined ? { code: f.code } : {}), message: f.message },
        f.recordIds,
      );
    }
    emit();
    await acks.add(outcome.acknowledged);
  };

  const dispatch = async (request: UploadRequest): Promise<void> => {
    while (inflight.size >= run.concurrency) await Promise.race(inflight);
    if (asyncError !== undefined || stopped) {
      readNotSent += request.rows.length;
      if (asyncError !== undefined) throw asyncError;
      return;
    }
    const tracked: Promise<void> = sendRequest(request, {
      client: run.client,
      target,
      budget: run.budget,
      ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
    })
      .then(record)
      .catch((error: unknown) => {
        asyncError ??= error;
      })
      .finally(() => inflight.delete(tracked));
    inflight.add(tracked);
  };

  try {
    for (const [index, ref] of artifacts.entries()) {
      const artifactReport = report.artifacts[index];
      if (!artifactReport) continue;
      if (options.abortSignal?.aborted || asyncError !== undefined || stopped) break;
      const stats: ReadStats = { storedBytes: 0, lines: 0 };
      for await (const line of readArtifactLines(store, ref, stats, options.abortSignal)) {
        if (options.abortSignal?.aborted || asyncError !== undefined || stopped) break;
        report.rowsRead++;
        artifactReport.rowsRead++;
        let source: unknown;
        try {
          source = JSON.parse(line.text);
        } catch {
          source = undefined;
        }
        if (source === null || typeof source !== 'object' || Array.isArray(source)) {
          report.rowsInvalid++;
          failures.add({ reason: 'invalid-json', message: 'line is not a JSON object; it stays in the artifact' }, [`${ref.path}#${line.lineNumber}`]);
          continue;
        }
        let mapped;
        try {
          mapped = mapRow(
            definition,
            source as Record<string, unknown>,
            {
              runId: manifest.runId,
              caseId: manifest.caseId,
              clusterResourceId: manifest.cluster.resourceId ?? manifest.cluster.server,
              evidenceLocation: store.location,
              artifactPath: ref.path,
              artifactSha256: ref.sha256,
              lineNumber: line.lineNumber,
              fallbackTime: manifest.startedAt,
              ...(options.phase ? { phase: options.phase } : {}),
            },
            mapping,
          );
        } catch (error) {
          if (error instanceof UnknownColumnError) throw error;
          report.rowsFailed++;
          failures.add({ reason: 'mapping', code: (error as { code?: string }).code ?? 'ERR_MAPPING', message: describeError(error) }, [`${ref.path}#${line.lineNumber}`]);
          continue;
        }
        for (const col of mapped.droppedColumns) report.droppedColumns[col] = (report.droppedColumns[col] ?? 0) + 1;
        for (const col of mapped.invalidColumns) report.invalidValues[col] = (report.invalidValues[col] ?? 0) + 1;
        if (previous.ids.has(mapped.recordId)) {
          report.rowsSkipped++;
          continue;
        }
        if (mapped.truncatedColumns.length) report.truncatedRows++;
        const full = packer.add(mapped.row, mapped.bytes);
        if (full) await dispatch(full);
      }
      if (stats.sha256 !== undefined) {
        artifactReport.sha256Read = stats.sha256;
        artifactReport.sha256Matches = stats.sha256 === ref.sha256;
      }
    }
    const last = packer.flush();
    if (last && !options.abortSignal?.aborted && asyncError === undefined) await dispatch(last);
    else if (last) readNotSent += last.rows.length;
    await Promise.all(inflight);
    if (asyncError !== undefined) throw asyncError;
  } catch (error) {
    // Rows read but never handed to the service: those still being packed, and the row that failed mapping.
    readNotSent += (packer.flush()?.rows.length ?? 0) + (error instanceof UnknownColumnError ? 1 : 0);
    await Promise.all(inflight);
    await acks.flush().catch(() => undefined);
    finish();
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { report });
  }
  await acks.flush();
  finish();
  emit();
  return report;

  function finish(): void {
    // Rows of artifacts not read to the end count as not sent (manifest figure); fully read ones count as read.
    let expected = 0;
    for (const a of report.artifacts) {
      const fullyRead = a.sha256Read !== undefined;
      expected += fullyRead ? a.rowsRead : Math.max(a.records, a.rowsRead);
    }
    report.rowsExpected = expected;
    report.rowsNotSent = expected - report.rowsRead + readNotSent;
    if (report.rowsNotSent > 0) {
      const group: Omit<FailureGroup, 'rows' | 'recordIds'> = stopped
        ? {
            reason: 'not-sent',
            ...(stopped.status !== undefined ? { status: stopped.status } : {}),
            message: `not sent: the table stopped after HTTP ${stopped.status} on an earlier request; ${STOP_STATUS[stopped.status ?? 0] ?? ''}`,
          }
        : { reason: 'not-sent', message: options.abortSignal?.aborted ? 'not sent: the attempt was aborted first' : 'not sent: the attempt ended early (see error)' };
      failures.add(group, [], report.rowsNotSent);
    }
    report.failures = failures.list();
    report.acknowledgements = acks.written;
    report.status = expected === 0 ? 'empty' : undelivered(report) === 0 ? 'complete' : delivered(report) === 0 ? 'failed' : 'partial';
  }
}
