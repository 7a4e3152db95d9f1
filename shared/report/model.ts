import { SEVERITIES, type Severity } from '../audit/types.js';
import { AUDIT_FINDINGS_TABLE } from '../audit/tables.js';
import { readManifest } from '../evidence/manifest.js';
import { readNdjson } from '../evidence/ndjson.js';
import type { EvidenceStore, Gap, Manifest } from '../evidence/types.js';
import { RBAC_FINDINGS_TABLE, WORKLOAD_FINDINGS_TABLE } from '../findings/tables.js';
import { buildTimeline, DEFAULT_TIMELINE_SOURCES, INVENTORY_SOURCES } from '../timeline/build.js';
import { oneLine } from '../util/text.js';
import type { TimelineEntry } from '../timeline/types.js';
import { systemClock, toRfc3339, type Clock } from '../util/time.js';
import type {
  AuditExecRow,
  AuditFindingRow,
  FindingsSection,
  PodFindingRow,
  RbacFindingRow,
  ReportModel,
  ReportTimelineItem,
  ShellCommandRow,
  VerificationSection,
  WorkloadFindingRow,
} from './types.js';

/**
 * Timeline items a report embeds by default. vis-timeline lays out every drawn item, and the
 * cost grows faster than the count (measured in headless chromium on a loaded 2-core machine:
 * 2,000 items 8 s, 3,000 39 s, 5,000 115 s to first paint): 2,000 keeps the page responsive;
 * `--max-items` raises it, `aks-evidence timeline` lists everything.
 */
export const DEFAULT_MAX_TIMELINE_ITEMS = 2_000;
/** Rows per findings table and per exec list by default. */
export const DEFAULT_MAX_ROWS_PER_TABLE = 5_000;

export interface BuildReportModelOptions {
  kind: ReportModel['kind'];
  verification: VerificationSection;
  /** The manifest to describe. Default: the bundle's manifest.json. At sealing: the manifest about to be written. */
  manifest?: Manifest;
  /** Version of the tool writing the report. */
  generatorVersion: string;
  /**
   * Timeline items embedded in the page (default 2,000). Past it the lowest-ranked entries
   * are left out — container log lines first, then the collector's own execs (all listed in the
   * exec section) and reads, severe audit events and shell commands last — and counted per
   * source in the report.
   */
  maxTimelineItems?: number;
  /** Rows shown per findings table and exec list (default 5,000); the rest are counted. */
  maxRowsPerTable?: number;
  /** Artifacts not to read (they failed verification): the report describes only what verified, and says what it left out. */
  excludeArtifacts?: ReadonlySet<string>;
  clock?: Clock;
  abortSignal?: AbortSignal;
}

const SEVERITY_RANK: Record<string, number> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i + 1]));

/** Read-only audit verbs: evidence of looking, ranked below evidence of doing. */
const READ_VERB = /^(get|list|watch) /;

/**
 * Which entries a report keeps first when a bundle holds more than it can show: what someone
 * did in the cluster (severe audit events, shell commands, changes) before the state of objects
 * (findings, which have their own section), before reads and the collector's own execs (one per
 * container on a big cluster; the exec section lists them all), before what containers printed;
 * severity breaks ties within a tier.
 */
export function reportPriority(e: TimelineEntry): number {
  const severity = e.severity ? (SEVERITY_RANK[e.severity] ?? 0) : 0;
  const severe = severity >= (SEVERITY_RANK.high ?? 4);
  let tier: number;
  switch (e.type) {
    case 'CollectorExec':
      tier = 3;
      break;
    case 'AuditEvent':
    case 'AuditFinding':
      tier = severe ? 9 : e.labels?.length || !READ_VERB.test(e.summary) ? 8 : 4;
      break;
    case 'ShellCommand':
      tier = 8;
      break;
    case 'SuspiciousPod':
    case 'RbacFinding':
    case 'WorkloadFinding':
      tier = severe ? 7 : 5;
      break;
    case 'KubeEvent':
      tier = 6;
      break;
    case 'ContainerLog':
      tier = 1;
      break;
    default:
      tier = 2;
  }
  if (e.collector) tier = Math.min(tier, 3);
  return tier * 10 + severity;
}

function item(e: TimelineEntry): ReportTimelineItem {
  const out: ReportTimelineItem = { t: e.time, s: e.source, y: e.type, m: e.summary, e: e.evidence.line ? `${e.evidence.path}:${e.evidence.line}` : e.evidence.path };
  if (e.actor) out.a = e.actor;
  if (e.namespace) out.n = e.namespace;
  if (e.pod) out.p = e.pod;
  if (e.object) out.o = e.object;
  if (e.severity) out.v = e.severity;
  if (e.labels?.length) out.l = e.labels.map((l) => l.ruleId);
  if (e.collector) out.c = 1;
  if (e.collectorReason) out.r = e.collectorReason;
  if (e.approximateTime) out.x = 1;
  return out;
}

const str = (v: unknown): string => (v === undefined || v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v));
const severityOf = (v: unknown): Severity => ((SEVERITIES as readonly string[]).includes(str(v)) ? (str(v) as Severity) : 'info');
const bySeverity = <T extends { severity: Severity }>(a: T, b: T): number => (SEVERITY_RANK[b.severity] ?? 0) - (SEVERITY_RANK[a.severity] ?? 0);

/** Rows of every rows artifact of `table`, at most `max` kept (the rest counted). */
async function tableRows(store: EvidenceStore, manifest: Manifest, table: string, max: number, signal?: AbortSignal): Promise<{ rows: Record<string, unknown>[]; total: number }> {
  const rows: Record<string, unknown>[] = [];
  let total = 0;
  for (const a of manifest.artifacts) {
    if (a.kind !== 'rows' || a.table !== table) continue;
    for await (const row of readNdjson(store, a.path, signal ? { abortSignal: signal } : {})) {
      total++;
      if (rows.length < max) rows.push(row as Record<string, unknown>);
    }
  }
  return { rows, total };
}

function parseList(text: string): string[] {
  try {
    const v = JSON.parse(text) as unknown;
    return Array.isArray(v) ? v.map(str) : [];
  } catch {
    return text ? [text] : [];
  }
}

async function readFindings(store: EvidenceStore, manifest: Manifest, max: number, signal?: AbortSignal): Promise<FindingsSection> {
  const truncated: Record<string, number> = {};
  const note = (name: string, r: { rows: unknown[]; total: number }) => {
    if (r.total > r.rows.length) truncated[name] = r.total - r.rows.length;
  };
  const rbacRows = await tableRows(store, manifest, RBAC_FINDINGS_TABLE.name, max, signal);
  note('rbac', rbacRows);
  const rbac: RbacFindingRow[] = rbacRows.rows.map((r) => ({
    severity: severityOf(r.severity),
    ruleId: str(r.rule_id),
    title: str(r.title),
    subject: `${str(r.subject_kind)} ${str(r.subject_namespace) ? `${str(r.subject_namespace)}/` : ''}${str(r.subject_name)}`,
    scope: str(r.scope_namespace) === '*' ? 'cluster-wide' : `namespace ${str(r.scope_namespace)}`,
    grantPath: str(r.grant_path) || `${str(r.binding_kind)} ${str(r.binding_name)} → ${str(r.role_kind)} ${str(r.role_name)}`,
    verbs: str(r.verbs),
    resources: str(r.resources),
    workloads: parseList(str(r.workloads)),
    expected: r.expected === true,
    ...(str(r.expected_reason) ? { expectedReason: str(r.expected_reason) } : {}),
    time: str(r.TimeGenerated),
  }));
  const workloadRows = await tableRows(store, manifest, WORKLOAD_FINDINGS_TABLE.name, max, signal);
  note('workloads', workloadRows);
  const workloads: WorkloadFindingRow[] = workloadRows.rows.map((r) => ({
    severity: severityOf(r.severity),
    ruleId: str(r.rule_id),
    title: str(r.title),
    object: `${str(r.kind)} ${str(r.namespace) ? `${str(r.namespace)}/` : ''}${str(r.name)}`,
    ...(str(r.container_name) ? { container: str(r.container_name) } : {}),
    fieldPath: str(r.field_path),
    details: oneLine(str(r.details), 600),
    ...(str(r.service_account) ? { serviceAccount: str(r.service_account) } : {}),
    time: str(r.TimeGenerated),
  }));
  const podRows = await tableRows(store, manifest, 'suspiciouspods_CL', max, signal);
  note('pods', podRows);
  const pods: PodFindingRow[] = podRows.rows.map((r) => ({
    severity: severityOf(r.severity),
    issue: str(r.issue_type),
    pod: `${str(r.namespace)}/${str(r.pod_name)}`,
    ...(str(r.container_name) ? { container: str(r.container_name) } : {}),
    fieldPath: str(r.field_path),
    details: oneLine(str(r.details), 600),
    ...(str(r.service_account) ? { serviceAccount: str(r.service_account) } : {}),
  }));
  const auditRows = await tableRows(store, manifest, AUDIT_FINDINGS_TABLE.name, max, signal);
  note('audit', auditRows);
  const audit: AuditFindingRow[] = auditRows.rows.map((r) => {
    const resource = `${str(r.object_resource ?? r.resource)}${str(r.subresource) ? `/${str(r.subresource)}` : ''}`;
    const target = str(r.namespace) ? `${str(r.namespace)}/${str(r.name)}` : str(r.name);
    return {
      severity: severityOf(r.severity),
      time: str(r.TimeGenerated),
      ruleId: str(r.rule_id),
      title: str(r.rule_title),
      user: str(r.user),
      action: oneLine(`${str(r.verb)} ${resource}${target ? ` ${target}` : ''}`),
      ...(str(r.source_ip) ? { sourceIp: str(r.source_ip) } : {}),
      ...(typeof r.response_code === 'number' ? { responseCode: r.response_code } : {}),
    };
  });
  rbac.sort((a, b) => bySeverity(a, b) || Number(a.expected) - Number(b.expected) || a.ruleId.localeCompare(b.ruleId) || a.subject.localeCompare(b.subject));
  workloads.sort((a, b) => bySeverity(a, b) || a.object.localeCompare(b.object) || a.fieldPath.localeCompare(b.fieldPath));
  pods.sort((a, b) => bySeverity(a, b) || a.pod.localeCompare(b.pod) || a.fieldPath.localeCompare(b.fieldPath));
  audit.sort((a, b) => bySeverity(a, b) || a.time.localeCompare(b.time));
  return { rbac, workloads, pods, audit, truncated };
}

async function readHistory(store: EvidenceStore, manifest: Manifest, max: number, signal?: AbortSignal): Promise<{ rows: ShellCommandRow[]; total: number }> {
  const { rows, total } = await tableRows(store, manifest, 'commandhistory_CL', max, signal);
  return {
    total,
    rows: rows.map((r) => {
      const own = str(r.command_time);
      return {
        time: own || str(r.TimeGenerated),
        approximateTime: !own,
        where: `${str(r.namespace)}/${str(r.pod_name)} (${str(r.container_name)})`,
        ...(str(r.user) ? { user: str(r.user) } : {}),
        ...(str(r.history_file) ? { file: str(r.history_file) } : {}),
        command: oneLine(str(r.command), 2000),
      };
    }),
  };
}

function auditExecs(entries: readonly TimelineEntry[]): AuditExecRow[] {
  return entries
    .filter((e) => e.source === 'audit' && /^pods\/(exec|attach) /.test(e.object ?? ''))
    .map((e) => ({ time: e.time, user: e.actor ?? '', what: e.summary, collector: e.collector, ...(e.collectorReason ? { collectorReason: e.collectorReason } : {}) }));
}

function groupGaps(manifest: Manifest): ReportModel['gaps'] {
  const bySource: Record<string, Gap[]> = {};
  for (const [name, s] of Object.entries(manifest.sources)) if (s.gaps.length) bySource[name] = s.gaps;
  return { runLevel: manifest.gaps, bySource };
}

const sum = (list: readonly { records: number }[]): number => list.reduce((n, a) => n + a.records, 0);

/**
 * The sources the report's timeline reads. Container logs come in only when they fit the
 * budget whole, with everything else: past it, their lines would be the first left out
 * anyway, and reading hundreds of thousands of lines to keep none of them would only slow
 * sealing down. The manifest's record counts decide, before anything is read.
 */
function timelineSources(manifest: Manifest, maxItems: number): { sources: string[]; omitted: Record<string, number>; notes: string[] } {
  const present = new Set<string>([...DEFAULT_TIMELINE_SOURCES, ...manifest.artifacts.map((a) => a.source)]);
  const sources = [...present].filter((s) => !INVENTORY_SOURCES.has(s) && s !== 'custody' && s !== 'other' && s !== 'report');
  const dated = manifest.artifacts.filter((a) => (a.kind === 'rows' || (a.source === 'audit' && a.kind !== 'other')) && sources.includes(a.source));
  const logs = sum(dated.filter((a) => a.source === 'containerlogs'));
  const others = sum(dated.filter((a) => a.source !== 'containerlogs')) + manifest.actions.length;
  if (logs === 0 || logs + others <= maxItems) return { sources, omitted: {}, notes: [] };
  return {
    sources: sources.filter((s) => s !== 'containerlogs'),
    omitted: { containerlogs: logs },
    notes: [`container logs (${logs.toLocaleString('en-US')} lines) are not on this timeline: with the other sources they exceed its ${maxItems.toLocaleString('en-US')} entries`],
  };
}

/** Assemble what the report shows from a bundle (read through its store: a directory or Blob Storage). */
export async function buildReportModel(store: EvidenceStore, options: BuildReportModelOptions): Promise<ReportModel> {
  const signal = options.abortSignal;
  const sealed = options.manifest ?? (await readManifest(store, signal ? { abortSignal: signal } : {}));
  const excluded = sealed.artifacts.filter((a) => options.excludeArtifacts?.has(a.path)).map((a) => a.path);
  // What is read: the manifest without the artifacts that failed verification.
  const manifest: Manifest = excluded.length ? { ...sealed, artifacts: sealed.artifacts.filter((a) => !options.excludeArtifacts?.has(a.path)) } : sealed;
  const maxItems = options.maxTimelineItems ?? DEFAULT_MAX_TIMELINE_ITEMS;
  const maxRows = options.maxRowsPerTable ?? DEFAULT_MAX_ROWS_PER_TABLE;

  const plan = timelineSources(manifest, maxItems);
  const timeline = await buildTimeline(store, {
    manifest,
    filter: { sources: plan.sources },
    maxEntries: maxItems,
    overflow: 'keep-priority',
    priority: reportPriority,
    ...(signal ? { abortSignal: signal } : {}),
  });
  const findings = await readFindings(store, manifest, maxRows, signal);
  const history = await readHistory(store, manifest, maxRows, signal);
  if (history.total > history.rows.length) findings.truncated.history = history.total - history.rows.length;

  return {
    kind: options.kind,
    generatedAt: toRfc3339((options.clock ?? systemClock)()),
    generator: { tool: 'aks-evidence', version: options.generatorVersion },
    location: store.location,
    manifest: {
      runId: manifest.runId,
      caseId: manifest.caseId,
      cluster: manifest.cluster,
      collector: manifest.collector,
      request: manifest.request,
      startedAt: manifest.startedAt,
      endedAt: manifest.endedAt,
      protection: manifest.protection,
      sources: manifest.sources,
      gaps: manifest.gaps,
      ...(manifest.clusterFacts ? { clusterFacts: manifest.clusterFacts } : {}),
    },
    artifacts: sealed.artifacts,
    verification: options.verification,
    timeline: {
      items: timeline.entries.map(item),
      omitted: { ...plan.omitted, ...timeline.omitted },
      maxItems,
      notes: [...(excluded.length ? [`left out of this report because they failed verification: ${excluded.join(', ')}`] : []), ...plan.notes, ...timeline.notes],
    },
    findings,
    exec: { collector: [...manifest.actions].sort((a, b) => a.at.localeCompare(b.at)), audit: auditExecs(timeline.entries), history: history.rows },
    gaps: groupGaps(manifest),
  };
}
