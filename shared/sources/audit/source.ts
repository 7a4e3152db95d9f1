import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClient, LogsQueryClientOptions } from '@azure/monitor-query-logs';
import { writeAuditEventRows } from '../../audit/eventRows.js';
import { AUDIT_EVENTS_TABLE, AUDIT_FINDINGS_TABLE } from '../../audit/tables.js';
import type { AuditLogCoverage } from '../../cluster/facts.js';
import type { ArtifactRef, Gap } from '../../evidence/types.js';
import { toRfc3339 } from '../../util/time.js';
import type { SourceContext, SourceDefinition, SourceItem } from '../types.js';
import type { AuditLabeler, AuditLabelerOptions } from '../../audit/label.js';
import type { AuditParseProblem } from '../../audit/parse.js';
import type { AuditLogTable } from '../../audit/query.js';
import type { AuditRule } from '../../audit/rules.js';
import type { CompiledSigmaRule } from '../../audit/sigma.js';
import { AuditDeduper, FinalStageSelector } from '../../audit/stages.js';
import { auditLabelRow } from '../../audit/tables.js';
import type { AuditEvent, AuditLabel } from '../../audit/types.js';

/** The audit source's name: its rows go to auditfindings_CL, its raw stream 'audit' holds the events. */
export const AUDIT_SOURCE = 'audit';
/** The raw stream (artifact sources/audit/<shard>.audit.ndjson.gz) holding every distinct audit event. */
export const AUDIT_STREAM = 'audit';

export interface CollectAuditOptions {
  /** Audit coverage from cluster resolution (ClusterFacts.audit); undefined = unknown. */
  audit: AuditLogCoverage | undefined;
  /** The AKS cluster resource id (required to read Log Analytics or storage). */
  clusterResourceId?: string;
  /** Incident window [start, end), UTC. */
  start: Date | string;
  end: Date | string;
  /** Azure credential for Log Analytics (and storage when no connection string is given). */
  credential?: TokenCredential;
  logs?: {
    endpoint?: string;
    client?: LogsQueryClient;
    clientOptions?: LogsQueryClientOptions;
    tables?: AuditLogTable[];
    maxRowsPerQuery?: number;
    sliceMs?: number;
    minSliceMs?: number;
  };
  storage?: {
    /** Overrides the blob endpoint derived from the storage account id (public cloud: https://<account>.blob.core.windows.net). */
    serviceUrl?: string;
    connectionString?: string;
    containerUrl?: string;
    containers?: string[];
  };
  /** Rules to label with (default: the built-in rules). */
  rules?: readonly AuditRule[];
  /** Sigma rules evaluated over the same events (see shared/audit/sigma.ts) … */
  sigmaRules?: readonly CompiledSigmaRule[];
  /** … or directories to load them from (Kubernetes audit rules only; a refused rule fails the task before reading anything). */
  sigmaDirs?: string[];
  labeler?: AuditLabelerOptions;
  abortSignal?: AbortSignal;
}

function notEnabledGap(detail: string): Gap {
  return { source: AUDIT_SOURCE, reason: 'not-enabled', detail, resource: 'diagnostic settings kube-audit / kube-audit-admin' };
}

function accountNameOf(storageAccountId: string): string | undefined {
  return /\/storageAccounts\/([^/]+)$/i.exec(storageAccountId)?.[1];
}

/**
 * Collect the cluster's audit log as evidence: every distinct audit event of the window as a
 * raw object (stream 'audit', Secret values redacted), one row per label (auditfindings_CL),
 * and gaps. Audit logging off is the first gap, stated plainly: the Kubernetes audit log is
 * the most valuable artifact after a compromise, and AKS does not keep it unless a diagnostic
 * setting sends kube-audit somewhere.
 */
export async function* collectAudit(options: CollectAuditOptions): AsyncGenerator<SourceItem> {
  const audit = options.audit;
  const window = { start: toRfc3339(options.start), end: toRfc3339(options.end) };
  if (!audit || !audit.enabled || audit.categories.length === 0) {
    yield {
      kind: 'gap',
      gap: notEnabledGap(
        audit
          ? "Kubernetes audit logging is not enabled: no diagnostic setting sends kube-audit or kube-audit-admin anywhere, so who read Secrets, exec'd into pods or changed RBAC cannot be shown. Enable a diagnostic setting for kube-audit (Log Analytics or a storage account) now; events before that are lost."
          : 'Kubernetes audit log coverage is unknown (cluster diagnostic settings were not read); no audit events were collected.',
      ),
    };
    yield { kind: 'coverage', coverage: { audit: { enabled: audit?.enabled ?? 'unknown', categories: audit?.categories ?? [], window, events: 0 } } };
    return;
  }
  if (!audit.categories.includes('kube-audit')) {
    yield {
      kind: 'gap',
      gap: notEnabledGap('only kube-audit-admin is enabled: it leaves out get, list and watch, so Secret reads and other reads are not in the audit log.'),
    };
  }

  const gaps: Gap[] = [];
  const problems: AuditParseProblem[] = [];
  let problemCount = 0;
  const onGap = (g: Gap) => gaps.push(g);
  let incomplete = 0;
  const onProblem = (p: AuditParseProblem) => {
    if (p.kind === 'incomplete') {
      incomplete++;
      return;
    }
    problemCount++;
    if (problems.length < 20) problems.push(p);
  };

  // Loaded here, not with the source registry: the rule schema (zod) and the Azure Monitor and
  // Blob SDKs cost every kubeconfig collection ~0.1 s and tens of MB at start-up (docs/performance.md).
  const { loadAuditRules } = await import('../../audit/rules.js');
  const { createAuditLabeler } = await import('../../audit/label.js');
  const { exportAuditLogs, readAuditFromStorage } = await import('../../audit/query.js');
  const rules = options.rules ?? (await loadAuditRules());
  const sigmaRules = options.sigmaRules ?? (options.sigmaDirs?.length ? (await (await import('../../audit/sigma.js')).loadSigmaRules(options.sigmaDirs)).rules : []);
  const labeler = createAuditLabeler(rules, { ...options.labeler, ...(sigmaRules.length ? { sigmaRules } : {}) });
  const destinations: string[] = [];

  const streams: { name: string; events: () => AsyncIterable<AuditEvent> }[] = [];
  for (const dest of audit.destinations) {
    if (dest.workspaceId) {
      const workspaceId = dest.workspaceId;
      if (!options.clusterResourceId || !options.credential) {
        gaps.push({
          source: AUDIT_SOURCE,
          reason: 'unsupported',
          detail: `audit logs go to workspace ${workspaceId}, but ${!options.clusterResourceId ? 'the cluster resource id' : 'an Azure credential'} is missing to query them`,
        });
        continue;
      }
      const clusterResourceId = options.clusterResourceId;
      const credential = options.credential;
      destinations.push(`log-analytics:${workspaceId}`);
      streams.push({
        name: workspaceId,
        events: () =>
          exportAuditLogs({
            workspaceId,
            clusterResourceId,
            start: options.start,
            end: options.end,
            credential,
            ...(options.logs?.endpoint ? { endpoint: options.logs.endpoint } : {}),
            ...(options.logs?.client ? { client: options.logs.client } : {}),
            ...(options.logs?.clientOptions ? { clientOptions: options.logs.clientOptions } : {}),
            ...(options.logs?.tables ? { tables: options.logs.tables } : {}),
            ...(options.logs?.maxRowsPerQuery ? { maxRowsPerQuery: options.logs.maxRowsPerQuery } : {}),
            ...(options.logs?.sliceMs ? { sliceMs: options.logs.sliceMs } : {}),
            ...(options.logs?.minSliceMs ? { minSliceMs: options.logs.minSliceMs } : {}),
            ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
            onGap,
            onProblem,
          }),
      });
    }
    if (dest.storageAccountId) {
      const account = accountNameOf(dest.storageAccountId);
      const st = options.storage ?? {};
      const serviceUrl = st.serviceUrl ?? (account ? `https://${account}.blob.core.windows.net` : undefined);
      if (!options.clusterResourceId || (!st.connectionString && !st.containerUrl && !(serviceUrl && options.credential))) {
        gaps.push({
          source: AUDIT_SOURCE,
          reason: 'unsupported',
          detail: `audit logs go to storage account ${dest.storageAccountId}, but the cluster resource id or a way to reach the account is missing`,
        });
        continue;
      }
      const clusterResourceId = options.clusterResourceId;
      destinations.push(`storage:${account ?? dest.storageAccountId}`);
      streams.push({
        name: dest.storageAccountId,
        events: () =>
          readAuditFromStorage({
            clusterResourceId,
            start: options.start,
            end: options.end,
            ...(st.connectionString ? { connectionString: st.connectionString } : st.containerUrl ? { containerUrl: st.containerUrl } : { serviceUrl: serviceUrl! }),
            ...(options.credential ? { credential: options.credential } : {}),
            ...(st.containers ? { containers: st.containers } : {}),
            ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
            onGap,
            onProblem,
          }),
      });
    }
  }
  if (streams.length === 0 && audit.destinations.every((d) => !d.workspaceId && !d.storageAccountId)) {
    gaps.push({
      source: AUDIT_SOURCE,
      reason: 'unsupported',
      detail: 'kube-audit is enabled but goes only to an Event Hub or a partner destination, which the collector cannot read back',
    });
  }

  // Several destinations hold the same events: one pass over all of them, so evidence holds each once.
  const stats: AuditItemStats = { events: 0, finalEvents: 0, labels: {} };
  const all = async function* (): AsyncGenerator<AuditEvent> {
    for (const stream of streams) yield* stream.events();
  };
  yield* auditItems(all(), labeler, stats);

  for (const gap of gaps) yield { kind: 'gap', gap };
  if (problemCount > 0) {
    // Records kept without some fields lost nothing: they are counted in coverage, not a gap.
    const lost = problems.filter((p) => p.kind !== 'incomplete');
    yield {
      kind: 'gap',
      gap: {
        source: AUDIT_SOURCE,
        reason: 'error',
        detail: `${problemCount} audit record(s) could not be read whole (e.g. ${lost[0]?.message ?? 'unknown'}); unreadable ones are missing from the evidence, cut ones are kept with the fields before the cut`,
      },
    };
  }
  yield {
    kind: 'coverage',
    coverage: {
      audit: {
        enabled: true,
        categories: audit.categories,
        destinations,
        window,
        events: stats.events,
        finalEvents: stats.finalEvents,
        ...(incomplete ? { recordsWithoutSomeFields: incomplete } : {}),
        labels: stats.labels,
        rules: labeler.active.map((r) => r.id),
        ...(labeler.sigma.length ? { sigmaRules: labeler.sigma.map((r) => r.meta.id) } : {}),
        inactiveRules: labeler.inactive,
      },
    },
  };
}

export interface AuditItemStats {
  /** Distinct (auditID, stage) events kept as evidence. */
  events: number;
  /** Requests labelled (one final-stage event each). */
  finalEvents: number;
  /** Labels per rule id. */
  labels: Record<string, number>;
}

/**
 * Audit events → source items: every distinct event as a raw object (stream 'audit'), and
 * one auditfindings_CL row per label of its request's final-stage event. Feed events in
 * time order for the threshold and correlate rules.
 */
export async function* auditItems(
  events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>,
  labeler: AuditLabeler,
  stats: AuditItemStats = { events: 0, finalEvents: 0, labels: {} },
): AsyncGenerator<SourceItem> {
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  const labelRows = function* (labels: AuditLabel[]): Generator<SourceItem> {
    for (const label of labels) {
      stats.labels[label.ruleId] = (stats.labels[label.ruleId] ?? 0) + 1;
      yield { kind: 'row', row: auditLabelRow(label) };
    }
  };
  for await (const event of events) {
    if (!dedupe.isNew(event)) continue;
    stats.events++;
    yield { kind: 'raw', object: event, stream: AUDIT_STREAM };
    for (const e of select.push(event)) {
      stats.finalEvents++;
      yield* labelRows(labeler.push(e));
    }
  }
  for (const e of select.flushStarted()) {
    stats.finalEvents++;
    yield* labelRows(labeler.push(e));
  }
}

/** Options of the audit source beyond what the host provides per run (rules, labeller, query tuning). */
export interface AuditSourceOptions {
  rules?: readonly AuditRule[];
  labeler?: AuditLabelerOptions;
  /** Sigma rules evaluated over the same events (as `aks-evidence audit --sigma`), compiled … */
  sigmaRules?: readonly CompiledSigmaRule[];
  /** … or loaded from these directories when the task starts (a refused rule fails the task). */
  sigmaDirs?: string[];
  logs?: Pick<NonNullable<CollectAuditOptions['logs']>, 'client' | 'tables' | 'maxRowsPerQuery' | 'sliceMs' | 'minSliceMs'>;
}

/**
 * The audit log as a source of the run: the kube-audit events of the since-window, read from
 * where the diagnostic settings send them (Log Analytics or a storage account) with the host's
 * Azure access, kept raw as evidence, labelled by the detection rules (auditfindings_CL), and
 * turned into one compact row per event (auditevents_CL). Planned only when cluster
 * resolution found kube-audit exported; otherwise the facts' gap says why it was skipped.
 */
export function createAuditSource(options: AuditSourceOptions = {}): SourceDefinition {
  return {
    name: AUDIT_SOURCE,
    description: 'Kubernetes API audit events of the window (from Log Analytics or the diagnostic storage account), labelled by detection rules',
    tables: [AUDIT_FINDINGS_TABLE, AUDIT_EVENTS_TABLE],
    kubernetesAccess: [],
    azurePermissions: [
      { action: 'Microsoft.OperationalInsights/workspaces/read', plane: 'control', why: 'audit log in Log Analytics (workspace named by the diagnostic setting)' },
      { action: 'Microsoft.OperationalInsights/workspaces/query/read', plane: 'control', why: 'query AKSAudit / AKSAuditAdmin / AzureDiagnostics for the window' },
      ...['AKSAudit', 'AKSAuditAdmin', 'AzureDiagnostics'].map((table) => ({
        action: `Microsoft.OperationalInsights/workspaces/query/${table}/read`,
        plane: 'control' as const,
        why: 'read the audit log table',
      })),
      {
        action: 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
        plane: 'data',
        why: 'audit log in the diagnostic storage account (insights-logs-kube-audit*)',
      },
    ],
    needs: ['azure'],
    plannable: (facts) => facts.audit?.enabled === true,
    async *collect(ctx: SourceContext) {
      const end = ctx.clock();
      const start = new Date(end.getTime() - ctx.sinceSeconds * 1000);
      const azure = ctx.azure;
      yield* collectAudit({
        audit: azure?.auditLog,
        ...(ctx.cluster.resourceId ? { clusterResourceId: ctx.cluster.resourceId } : {}),
        start,
        end,
        ...(azure ? { credential: azure.credential } : {}),
        logs: { ...options.logs, ...azure?.logs },
        ...(azure?.storage ? { storage: azure.storage } : {}),
        ...(options.rules ? { rules: options.rules } : {}),
        ...(options.labeler ? { labeler: options.labeler } : {}),
        ...(options.sigmaRules ? { sigmaRules: options.sigmaRules } : {}),
        ...(options.sigmaDirs ? { sigmaDirs: options.sigmaDirs } : {}),
        ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}),
      });
    },
    async deriveArtifacts(store, written): Promise<ArtifactRef[]> {
      const raw = written.filter((a) => a.kind === 'raw' && /\.audit\.ndjson\.gz$/.test(a.path));
      const derived: ArtifactRef[] = [];
      for (const a of raw) derived.push({ ...(await writeAuditEventRows(store, a.path)), ...(a.shard ? { shard: a.shard } : {}) });
      return derived;
    },
  };
}

export const auditSource: SourceDefinition = createAuditSource();
