import type { Severity } from '../audit/types.js';
import type { ArtifactRef, CollectorAction, Gap, Manifest } from '../evidence/types.js';

/**
 * What a report shows, assembled from a bundle (shared/report/model.ts) and rendered into one
 * self-contained HTML file (shared/report/render.ts). Everything here is data read from the
 * bundle: text that came from the cluster (log lines, commands, names) is attacker-controlled
 * and is escaped by the renderer, never trusted as markup.
 */

/**
 * The outcome of one verification check. `not-configured`: the check exists but its input
 * was not given (e.g. no independently recorded hash); `not-checked`: the document could not
 * run it (a report written at sealing cannot verify the bundle that contains it).
 */
export type CheckStatus = 'passed' | 'failed' | 'warning' | 'not-configured' | 'not-checked';

/** One named verification check, as the verify result states it. */
export interface VerificationCheck {
  /** Stable id, e.g. manifest-hash, artifacts, custody, expected-hash, protection. */
  id: string;
  /** Short name shown to people. */
  name: string;
  status: CheckStatus;
  /** One line: what was compared and what was found. */
  detail: string;
}

export interface VerificationSection {
  /** passed: every check that ran passed; failed: one failed; not-checked: nothing was verified (a report written at sealing). */
  status: 'passed' | 'failed' | 'not-checked';
  /** One sentence for the banner. */
  headline: string;
  /** UTC RFC 3339, when the checks ran. */
  verifiedAt?: string;
  location: string;
  manifestSha256?: string;
  checks: VerificationCheck[];
  /** Every failing item, one line each (missing or altered artifacts by name). */
  problems: string[];
  warnings: string[];
}

/** One timeline item as embedded in the page (compact keys: the page may hold tens of thousands). */
export interface ReportTimelineItem {
  /** UTC RFC 3339. */
  t: string;
  /** Source (lane). */
  s: string;
  /** Entry type: AuditEvent, KubeEvent, ShellCommand, CollectorExec, ... */
  y: string;
  /** Actor (user / service account), when known. */
  a?: string;
  n?: string;
  p?: string;
  /** What was acted on. */
  o?: string;
  /** One-line summary (control characters already escaped). */
  m: string;
  v?: Severity;
  /** Label rule ids. */
  l?: string[];
  /** The collector's own action. */
  c?: 1;
  /** Why it counts as the collector's. */
  r?: string;
  /** Time not recorded by the source (collection time). */
  x?: 1;
  /** Evidence: artifact path[:line]. */
  e: string;
}

export interface ReportTimeline {
  items: ReportTimelineItem[];
  /** Entries the bundle holds for the timeline but the report left out (over its item budget), per source. */
  omitted: Record<string, number>;
  /** The item budget that applied. */
  maxItems: number;
  notes: string[];
}

export interface RbacFindingRow {
  severity: Severity;
  ruleId: string;
  title: string;
  subject: string;
  scope: string;
  grantPath: string;
  verbs: string;
  resources: string;
  workloads: string[];
  expected: boolean;
  expectedReason?: string;
  time: string;
}

export interface WorkloadFindingRow {
  severity: Severity;
  ruleId: string;
  title: string;
  object: string;
  container?: string;
  fieldPath: string;
  details: string;
  serviceAccount?: string;
  time: string;
}

export interface PodFindingRow {
  severity: Severity;
  issue: string;
  pod: string;
  container?: string;
  fieldPath: string;
  details: string;
  serviceAccount?: string;
}

export interface AuditFindingRow {
  severity: Severity;
  time: string;
  ruleId: string;
  title: string;
  user: string;
  action: string;
  sourceIp?: string;
  responseCode?: number;
}

export interface FindingsSection {
  rbac: RbacFindingRow[];
  workloads: WorkloadFindingRow[];
  pods: PodFindingRow[];
  audit: AuditFindingRow[];
  /** Rows not shown per table (over the per-table cap). */
  truncated: Record<string, number>;
}

export interface ShellCommandRow {
  time: string;
  approximateTime: boolean;
  where: string;
  user?: string;
  file?: string;
  command: string;
}

export interface AuditExecRow {
  time: string;
  user: string;
  what: string;
  collector: boolean;
  collectorReason?: string;
}

export interface ExecSection {
  collector: CollectorAction[];
  audit: AuditExecRow[];
  history: ShellCommandRow[];
}

export interface ReportModel {
  /** 'sealing': written into the bundle before the manifest; 'cli': made later from a sealed bundle. */
  kind: 'sealing' | 'cli';
  /** UTC RFC 3339. */
  generatedAt: string;
  generator: { tool: 'aks-evidence'; version: string };
  location: string;
  manifest: Pick<Manifest, 'runId' | 'caseId' | 'cluster' | 'collector' | 'request' | 'startedAt' | 'endedAt' | 'protection' | 'sources' | 'gaps' | 'clusterFacts'>;
  artifacts: ArtifactRef[];
  verification: VerificationSection;
  timeline: ReportTimeline;
  findings: FindingsSection;
  exec: ExecSection;
  /** Gaps as in the manifest: run-level first, then per source. */
  gaps: { runLevel: Gap[]; bySource: Record<string, Gap[]> };
}
