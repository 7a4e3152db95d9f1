/**
 * Kubernetes API audit events (audit.k8s.io/v1 Event) and the labels the rules put on them.
 * Every supported input shape (raw NDJSON, AKS diagnostic records, AKSAudit rows,
 * AzureDiagnostics rows, portal exports) is normalized to AuditEvent by ./parse.ts.
 */

export interface AuditUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface AuditObjectRef {
  resource?: string;
  namespace?: string;
  name?: string;
  uid?: string;
  apiGroup?: string;
  apiVersion?: string;
  resourceVersion?: string;
  subresource?: string;
}

export interface AuditResponseStatus {
  code?: number;
  status?: string;
  reason?: string;
  message?: string;
  [k: string]: unknown;
}

export type AuditStage = 'RequestReceived' | 'ResponseStarted' | 'ResponseComplete' | 'Panic';

/** audit.k8s.io/v1 Event, as the API server writes it (Secret values redacted). */
export interface AuditEvent {
  kind: 'Event';
  apiVersion: 'audit.k8s.io/v1';
  level: string;
  auditID: string;
  /** An {@link AuditStage} from today's API servers; any string, so an event from a later version still parses. */
  stage: string;
  requestURI: string;
  verb: string;
  user: AuditUser;
  impersonatedUser?: AuditUser;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: AuditObjectRef;
  responseStatus?: AuditResponseStatus;
  requestObject?: unknown;
  responseObject?: unknown;
  /** UTC RFC 3339 (as written by the API server, microseconds kept when present). */
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string>;
  /**
   * Set by the parser, never by the API server: the record this event came from was cut
   * (the fields after the cut are missing) or lacked fields an audit event always has.
   */
  parseNote?: AuditParseNote;
}

export interface AuditParseNote {
  /** The record's JSON was cut after this many characters; the event holds what came before. */
  cutAt?: number;
  /** Fields absent from the record (auditID, stage, level, user, requestReceivedTimestamp, ...). */
  missing?: string[];
  /** Where a time came from when the event had none of its own (e.g. "record time"). */
  timeFrom?: string;
}

/** What an exec, attach, port-forward or debug (ephemeral container) request asked for. */
export interface ExecDetails {
  kind: 'exec' | 'attach' | 'portforward' | 'debug';
  namespace?: string;
  pod?: string;
  container?: string;
  /** argv as sent (decoded `command=` parameters, requestObject.command, or the debug container's command + args). */
  command: string[];
  /** argv as one shell-quoted line; empty when there is no command (attach, port-forward). */
  commandLine: string;
  tty?: boolean;
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Port-forward ports. */
  ports?: string[];
  /** Debug: the image of the ephemeral container, and the container whose namespaces it joins. */
  image?: string;
  targetContainer?: string;
}

/** success: the API server did it (1xx-3xx); attempt: it refused or failed (4xx/5xx); unknown: no response code. */
export type LabelOutcome = 'success' | 'attempt' | 'unknown';

export type Severity = 'info' | 'low' | 'medium' | 'high' | 'critical';
export const SEVERITIES: readonly Severity[] = ['info', 'low', 'medium', 'high', 'critical'];

/** One label: a rule matched an audit event (or a group of them). */
export interface AuditLabel {
  ruleId: string;
  title: string;
  severity: Severity;
  /** 'match' | 'threshold' | 'correlate' */
  ruleKind: string;
  /** The labelled event (for threshold rules: the event that crossed the threshold). */
  auditID: string;
  /** UTC RFC 3339: when the labelled request was received. */
  time: string;
  user: string;
  verb: string;
  objectRef?: AuditObjectRef;
  sourceIP?: string;
  responseCode?: number;
  /** The fields that made the rule match, path → value (values already redacted). */
  matched: Record<string, unknown>;
  /** A refused or failed request (4xx/5xx) is an attempt, never a success. */
  outcome: LabelOutcome;
  /** MITRE ATT&CK technique ids (T1609, T1552.007, ...). */
  attack: string[];
  /** The rule's tags (Sigma tags as written; built-in rules: Microsoft threat matrix ids and free tags). */
  tags?: string[];
  /** What an exec / attach / port-forward / debug request ran. */
  exec?: ExecDetails;
  /** For a Sigma rule: its level as written and the file it came from. */
  sigma?: { level: string; file: string; status?: string };
}

/** The outcome of a request from its response code. */
export function outcomeOf(code: number | undefined): LabelOutcome {
  if (typeof code !== 'number' || !Number.isFinite(code)) return 'unknown';
  return code >= 400 ? 'attempt' : 'success';
}

/** Time of an event for ordering: when the request was received, else the stage time. */
export function eventTime(event: Pick<AuditEvent, 'requestReceivedTimestamp' | 'stageTimestamp'>): string {
  return event.requestReceivedTimestamp ?? event.stageTimestamp ?? '';
}

/** Milliseconds since the epoch of eventTime(), NaN when unknown. */
export function eventTimeMs(event: Pick<AuditEvent, 'requestReceivedTimestamp' | 'stageTimestamp'>): number {
  const t = eventTime(event);
  return t ? Date.parse(t) : Number.NaN;
}

/** Sort order by eventTime(): earliest first, events without a time last (in input order). */
export function byEventTime(a: Pick<AuditEvent, 'requestReceivedTimestamp' | 'stageTimestamp'>, b: Pick<AuditEvent, 'requestReceivedTimestamp' | 'stageTimestamp'>): number {
  const ta = eventTimeMs(a);
  const tb = eventTimeMs(b);
  if (Number.isNaN(ta)) return Number.isNaN(tb) ? 0 : 1;
  if (Number.isNaN(tb)) return -1;
  return ta - tb;
}
