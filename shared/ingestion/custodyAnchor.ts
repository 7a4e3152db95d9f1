/**
 * The Log Analytics custody anchor: after every seal the run sends one evidencecustody_CL row
 * (manifest SHA-256, chain head, seal record hash, seal time) through the same DCE/DCR as the
 * evidence; `verify --workspace` reads it back with LogsQueryClient and compares it with the
 * bundle. The row lives where the bundle's writers cannot reach, which is the point.
 */
import type { TokenCredential } from '@azure/core-auth';
import { LogsIngestionClient, type LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import { LogsQueryClient, LogsQueryResultStatus, type LogsQueryClientOptions } from '@azure/monitor-query-logs';
import type { AnchorContext, AnchorResult, ExternalAnchor } from '../evidence/verify.js';
import type { Manifest } from '../evidence/types.js';
import { describeError } from '../util/errors.js';
import { stripUndefined } from '../util/objects.js';
import type { IngestionTarget } from './config.js';
import { CUSTODY_TABLE } from './custodyTable.js';
import { mapRow, type WireRow } from './rowMapping.js';
import { sendRequest } from './upload.js';

/** What a seal gives the anchor (SealResult carries all of it). */
export interface SealFacts {
  runId: string;
  caseId: string;
  location: string;
  manifestPath: string;
  manifestSha256: string;
  chainHead: string;
  sealRecordSha256: string;
  sealedAt: string;
  artifactCount: number;
  interrupted?: boolean;
}

export interface CustodyRowOutcome {
  status: 'sent' | 'failed' | 'not-configured';
  detail: string;
}

/** The evidencecustody_CL row of a seal, mapped like every evidence row (link columns, types). */
export function custodyRow(seal: SealFacts, manifest: Pick<Manifest, 'cluster' | 'custody' | 'previousAttempt'>): WireRow {
  const source = {
    TimeGenerated: seal.sealedAt,
    manifest_sha256: seal.manifestSha256,
    chain_head: seal.chainHead,
    chain_head_seq: manifest.custody?.chainHead.seq,
    seal_record_sha256: seal.sealRecordSha256,
    sealed_at: seal.sealedAt,
    seal_kind: seal.interrupted ? 'interrupted' : 'complete',
    bundle_location: seal.location,
    artifact_count: seal.artifactCount,
    previous_run_id: manifest.previousAttempt?.runId,
    seal_summary: `evidence bundle sealed${seal.interrupted ? ' (interrupted run)' : ''}: manifest sha256 ${seal.manifestSha256}, ${seal.artifactCount} artifacts`,
  };
  return mapRow(CUSTODY_TABLE, stripUndefined(source), {
    runId: seal.runId,
    caseId: seal.caseId,
    clusterResourceId: manifest.cluster.resourceId ?? manifest.cluster.server,
    evidenceLocation: seal.location,
    artifactPath: seal.manifestPath,
    artifactSha256: seal.manifestSha256,
    lineNumber: 1,
    fallbackTime: seal.sealedAt,
  }).row;
}

export interface SendCustodyRowOptions {
  target: IngestionTarget;
  credential: TokenCredential;
  clientOptions?: LogsIngestionClientOptions;
  abortSignal?: AbortSignal;
}

/**
 * Send a seal's custody row. Failures are data (the seal stands; the outcome says why the
 * anchor is missing), so a workspace that refuses for a while never costs the evidence.
 */
export async function sendCustodyRow(
  seal: SealFacts,
  manifest: Pick<Manifest, 'cluster' | 'custody' | 'previousAttempt'>,
  options: SendCustodyRowOptions,
): Promise<CustodyRowOutcome> {
  const target = options.target.tables[CUSTODY_TABLE.name];
  if (!target) {
    return {
      status: 'not-configured',
      detail: `the ingestion target has no DCR stream for ${CUSTODY_TABLE.name}: redeploy infra/ (it declares the table and its stream) and add it to the target document`,
    };
  }
  const row = custodyRow(seal, manifest);
  const client = new LogsIngestionClient(options.target.endpoint, options.credential, {
    audience: options.target.audience,
    ...options.clientOptions,
    retryOptions: { ...options.clientOptions?.retryOptions, maxRetries: 0 },
  });
  try {
    const outcome = await sendRequest(
      { rows: [row], bytes: Buffer.byteLength(JSON.stringify([row])) },
      { client, target, budget: options.target.retry, ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}) },
    );
    if (outcome.acknowledged.length === 1) return { status: 'sent', detail: `custody row sent to ${CUSTODY_TABLE.name} (${target.streamName})` };
    const f = outcome.failed[0];
    return { status: 'failed', detail: `the custody row was not accepted: ${f ? `${f.status ?? f.reason} ${f.message}` : 'no acknowledgement'}` };
  } catch (error) {
    return { status: 'failed', detail: `the custody row could not be sent: ${describeError(error)}` };
  }
}

export interface LogAnalyticsAnchorOptions {
  /** Log Analytics workspace id (GUID). */
  workspaceId: string;
  credential: TokenCredential;
  /** Query endpoint (default the public cloud's; a loopback stub in tests). */
  endpoint?: string;
  clientOptions?: LogsQueryClientOptions;
  /** Now, for the query window. */
  now?: () => Date;
}

/**
 * The Log Analytics anchor for verify: the custody rows of the run, compared with the bundle.
 * passed: a row records this manifest's SHA-256 (and chain head); failed: no row, or rows
 * that record another manifest.
 */
export function logAnalyticsAnchor(options: LogAnalyticsAnchorOptions): ExternalAnchor {
  return {
    anchor: 'log-analytics',
    async check(ctx: AnchorContext): Promise<AnchorResult> {
      const endpoint = options.endpoint ? normalizeEndpoint(options.endpoint) : undefined;
      const client = new LogsQueryClient(options.credential, {
        ...options.clientOptions,
        ...(endpoint ? { endpoint } : {}),
        ...(endpoint && !options.clientOptions?.credentials ? { credentials: { scopes: [`${new URL(endpoint).origin}/.default`] } } : {}),
      });
      const runId = ctx.runId.replace(/[^A-Za-z0-9._-]/g, '');
      const query = `${CUSTODY_TABLE.name} | where RunId == '${runId}' | project TimeGenerated, RunId, manifest_sha256, chain_head, seal_record_sha256, seal_kind | order by TimeGenerated asc`;
      const start = new Date(Date.parse(ctx.manifest.startedAt) - 86_400_000);
      const end = new Date((options.now?.() ?? new Date()).getTime() + 3_600_000);
      let result;
      try {
        result = await client.queryWorkspace(options.workspaceId, query, { startTime: start, endTime: end });
      } catch (error) {
        return { anchor: 'log-analytics', status: 'failed', detail: `workspace ${options.workspaceId} could not be queried: ${describeError(error).split('\n')[0]}` };
      }
      if (result.status !== LogsQueryResultStatus.Success) {
        return { anchor: 'log-analytics', status: 'failed', detail: `the query of ${CUSTODY_TABLE.name} came back incomplete (${result.status})` };
      }
      const table = result.tables[0];
      const col = (name: string) => table?.columnDescriptors.findIndex((c) => c.name === name) ?? -1;
      const [iSha, iHead, iSeal] = [col('manifest_sha256'), col('chain_head'), col('seal_record_sha256')];
      const rows = (table?.rows ?? []).map((r) => ({ sha: String(r[iSha] ?? ''), head: String(r[iHead] ?? ''), seal: String(r[iSeal] ?? '') }));
      if (rows.length === 0) {
        return {
          anchor: 'log-analytics',
          status: 'failed',
          detail: `workspace ${options.workspaceId} has no ${CUSTODY_TABLE.name} row for run ${ctx.runId} (never sent, or sent minutes ago: a new table can take up to 15 minutes)`,
        };
      }
      const match = rows.find((r) => r.sha === ctx.manifestSha256);
      if (!match) {
        return {
          anchor: 'log-analytics',
          status: 'failed',
          detail: `Log Analytics recorded manifest sha256 ${rows.map((r) => r.sha).join(', ')} for run ${ctx.runId} at sealing; the bundle's manifest hashes to ${ctx.manifestSha256}`,
        };
      }
      if (ctx.chainHead && match.head !== ctx.chainHead) {
        return { anchor: 'log-analytics', status: 'failed', detail: `Log Analytics recorded custody chain head ${match.head}; the manifest records ${ctx.chainHead}` };
      }
      if (ctx.sealRecordSha256 && match.seal && match.seal !== ctx.sealRecordSha256) {
        return {
          anchor: 'log-analytics',
          status: 'failed',
          detail: `Log Analytics recorded seal record sha256 ${match.seal}; the bundle's manifest-sealed record hashes to ${ctx.sealRecordSha256} (edited?)`,
        };
      }
      return { anchor: 'log-analytics', status: 'passed', detail: `workspace ${options.workspaceId} recorded this manifest sha256 and chain head at sealing` };
    },
  };
}

function normalizeEndpoint(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1';
  return u.toString().replace(/\/$/, '');
}
