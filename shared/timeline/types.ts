import type { Severity } from '../audit/types.js';

/** One line of the merged timeline. */
export interface TimelineEntry {
  /** UTC RFC 3339 (the source's own precision kept, e.g. microseconds of audit events). */
  time: string;
  /** True when the source recorded no time of its own (e.g. a shell history line without timestamp): `time` is when it was collected. */
  approximateTime?: boolean;
  /** Pipeline source: audit, events, containerlogs, commandhistory, collector, findings sources, ... */
  source: string;
  /** AuditEvent, AuditFinding, KubeEvent, ContainerLog, ShellCommand, CollectorExec, SuspiciousPod, ... */
  type: string;
  /** Who: the audit user, the history file owner, the collector. */
  actor?: string;
  namespace?: string;
  pod?: string;
  /** What was acted on, e.g. "pods/exec default/web-1" or "clusterrolebindings/x". */
  object?: string;
  /** One line, control characters escaped. */
  summary: string;
  /** Highest severity of the labels on this entry. */
  severity?: Severity;
  /** Labels on the entry; `outcome: 'attempt'` when the labelled request was refused or failed (4xx/5xx). */
  labels?: { ruleId: string; severity: Severity; title: string; outcome?: 'attempt'; attack?: string[] }[];
  /** Exec / attach / port-forward / debug: what ran, in which container, with a terminal and stdin or not. */
  exec?: { kind: string; command: string[]; container?: string; tty?: boolean; stdin?: boolean };
  /** The audit record was cut or lacked fields: the entry shows what was left (see the audit event's parseNote). */
  partial?: boolean;
  /** The collector's own action (its history exec, its reads during the run): not the attacker's. */
  collector: boolean;
  /** Why an entry counts as the collector's. */
  collectorReason?: string;
  /** About a pod, namespace or node the trigger named (a Sentinel incident's entities): collected first, shown marked. */
  target?: boolean;
  /** Where the entry comes from in the bundle. */
  evidence: { path: string; line?: number; auditID?: string };
}

export type TimelineFormat = 'table' | 'csv' | 'json';

export interface TimelineFilter {
  /** User / service account: a glob (*), or "namespace/name" / "namespace:name" for a service account. */
  user?: string;
  namespace?: string;
  /** Pod name, or "namespace/pod". */
  pod?: string;
  /** Inclusive lower bound, epoch ms. */
  sinceMs?: number;
  /** Inclusive upper bound, epoch ms. */
  untilMs?: number;
  /** Sources to include (default: DEFAULT_TIMELINE_SOURCES plus every findings source). */
  sources?: string[];
  /** Only entries that carry a label or are findings. */
  labelledOnly?: boolean;
  /** Leave the collector's own actions out. */
  hideCollector?: boolean;
  /** Only entries about the pods, namespaces and nodes the trigger named. */
  targetsOnly?: boolean;
}
