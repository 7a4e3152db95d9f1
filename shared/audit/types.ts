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
  stage: AuditStage | string;
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
}

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
