import { createAuditLabeler } from '../audit/label.js';
import type { AuditRule } from '../audit/rules.js';
import { loadAuditRules } from '../audit/rules.js';
import { AuditDeduper, FinalStageSelector } from '../audit/stages.js';
import { labelFromRow } from '../audit/tables.js';
import { AUDIT_EVENTS_TABLE, AUDIT_FINDINGS_TABLE } from '../audit/tables.js';
import type { AuditEvent, AuditLabel } from '../audit/types.js';
import { byEventTime } from '../audit/types.js';
import { readSmallArtifact, readManifest } from '../evidence/manifest.js';
import { readNdjson } from '../evidence/ndjson.js';
import type { ArtifactRef, CollectorAction, EvidenceStore, Manifest } from '../evidence/types.js';
import { SOURCES } from '../sources/registry.js';
import type { TableRegistry } from '../tables/registry.js';
import { InputError } from '../util/errors.js';
import { collectorReasonFor, type CollectorContext } from './collector.js';
import { auditEntry, collectorActionEntry, labelEntry, maxSeverity, rowEntry } from './describe.js';
import type { TimelineEntry, TimelineFilter } from './types.js';

/**
 * Build one chronological view of a sealed bundle: audit events (with their labels), every
 * registry table with timeline metadata (Kubernetes events, container logs, command history,
 * findings, ...), and the collector's own recorded actions.
 *
 * Memory: artifacts are read as streams and filtered as they are read; only the entries that
 * pass the filter are kept, then sorted. The number kept is capped (maxEntries, default
 * 1,000,000 ≈ 0.5–1 GB); past it the build stops with a message asking for a narrower filter.
 * A k-way merge would not need the cap, but artifacts are not time-sorted (container logs are
 * per container, events per list page), so it would need a sort per artifact anyway.
 */

/** Sources shown when --sources is not given: the activity view of the issue (inventory tables only on request). */
export const DEFAULT_TIMELINE_SOURCES = ['audit', 'events', 'containerlogs', 'commandhistory', 'suspiciouspods', 'collector'] as const;
/** Inventory sources: object snapshots, shown only when named. */
export const INVENTORY_SOURCES = new Set(['serviceaccounts', 'rbacbindings', 'cronjobs', 'networkpolicies', 'snapshot']);

export const DEFAULT_MAX_ENTRIES = 1_000_000;
const MAX_SUMMARY_BYTES = 4 * 1024 * 1024;

export interface BuildTimelineOptions {
  filter?: TimelineFilter;
  /** Extra audit usernames of the collector (besides manifest.collector.identity). */
  collectorUsers?: string[];
  /** Extra audit events (e.g. `--audit-file`, exported after the run), merged with the bundle's. */
  extraAuditEvents?: AsyncIterable<AuditEvent> | Iterable<AuditEvent>;
  /** Rules for labelling audit events that have no recorded labels (default: built-in rules). */
  rules?: readonly AuditRule[];
  allowedNetworks?: string[];
  maxEntries?: number;
  /**
   * Past maxEntries: 'error' (default) stops with a message asking for a narrower filter;
   * 'keep-priority' keeps the maxEntries entries that rank highest by `priority` (ties: the
   * later entry), and counts what it left out per source in `omitted` (a report that must
   * fit in a browser).
   */
  overflow?: 'error' | 'keep-priority';
  /** Rank of an entry for overflow 'keep-priority' (higher is kept first). Default: every entry 0. */
  priority?: (entry: TimelineEntry) => number;
  /** The manifest to read the bundle by, instead of manifest.json (a report written at sealing, before the manifest exists). */
  manifest?: Manifest;
  abortSignal?: AbortSignal;
  /** The tables rows may be in (default: the product's, SOURCES.tables). */
  tables?: TableRegistry;
}

export interface TimelineResult {
  entries: TimelineEntry[];
  /**
   * Entries without a time of their own (an audit record cut before its timestamps, a hand-made
   * record): they pass the other filters but cannot be placed on the timeline, so they are listed apart.
   */
  untimed: TimelineEntry[];
  manifest: Manifest;
  /** Plain statements about the view (labels computed now, sources absent, ...). */
  notes: string[];
  /** Entries that passed the filter but were left out by overflow 'keep-priority', per source. */
  omitted: Record<string, number>;
}

function saShorthand(pattern: string): string | undefined {
  const m = /^([a-z0-9.-]+)[/:]([a-z0-9.-]+)$/.exec(pattern);
  return m ? `system:serviceaccount:${m[1]}:${m[2]}` : undefined;
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

/** The filter as a predicate. Entries without the filtered field do not pass (a --user filter keeps only entries with that actor). */
export function entryFilter(filter: TimelineFilter = {}): (e: TimelineEntry) => boolean {
  const sources = filter.sources?.length ? new Set(filter.sources) : undefined;
  const sa = filter.user ? saShorthand(filter.user) : undefined;
  return (e) => {
    if (sources ? !sources.has(e.source) : INVENTORY_SOURCES.has(e.source)) return false;
    if (filter.hideCollector && e.collector) return false;
    if (filter.labelledOnly && !(e.labels?.length || e.type === 'AuditFinding' || e.severity)) return false;
    if (filter.user !== undefined) {
      const actor = e.actor ?? '';
      if (!(globMatch(filter.user, actor) || (sa !== undefined && actor === sa))) return false;
    }
    if (filter.namespace !== undefined && e.namespace !== filter.namespace) return false;
    if (filter.pod !== undefined) {
      const slash = filter.pod.indexOf('/');
      if (slash >= 0) {
        if (e.namespace !== filter.pod.slice(0, slash) || e.pod !== filter.pod.slice(slash + 1)) return false;
      } else if (e.pod !== filter.pod) return false;
    }
    if (filter.sinceMs !== undefined || filter.untilMs !== undefined) {
      const t = Date.parse(e.time);
      if (Number.isNaN(t)) return false;
      if (filter.sinceMs !== undefined && t < filter.sinceMs) return false;
      if (filter.untilMs !== undefined && t > filter.untilMs) return false;
    }
    return true;
  };
}

/** Chronological order; ties keep a stable, meaningful order (microseconds, then source, then evidence line). */
export function compareEntries(a: TimelineEntry, b: TimelineEntry): number {
  const ta = Date.parse(a.time);
  const tb = Date.parse(b.time);
  if (ta !== tb) return ta - tb;
  if (a.time !== b.time) return a.time < b.time ? -1 : 1;
  if (a.source !== b.source) return a.source < b.source ? -1 : 1;
  if (a.evidence.path !== b.evidence.path) return a.evidence.path < b.evidence.path ? -1 : 1;
  return (a.evidence.line ?? 0) - (b.evidence.line ?? 0);
}

class EntrySink {
  readonly entries: TimelineEntry[] = [];
  readonly untimed: TimelineEntry[] = [];
  readonly omitted: Record<string, number> = {};
  /** keep-priority: a min-heap on (priority, time) over `entries`, so the lowest-ranked is evicted first. */
  private readonly ranks: number[] = [];
  constructor(
    private readonly accept: (e: TimelineEntry) => boolean,
    private readonly acceptUntimed: (e: TimelineEntry) => boolean,
    private readonly max: number,
    private readonly priority?: (e: TimelineEntry) => number,
  ) {}
  add(entry: TimelineEntry | undefined): void {
    if (!entry) return;
    if (Number.isNaN(Date.parse(entry.time))) {
      if (this.acceptUntimed(entry) && this.untimed.length < this.max) this.untimed.push(entry);
      return;
    }
    if (!this.accept(entry)) return;
    if (!this.priority) {
      if (this.entries.length >= this.max) {
        throw new InputError(
          'filter',
          `the timeline holds more than ${this.max.toLocaleString('en-US')} entries; narrow it with --since/--until, --namespace, --pod, --user or --sources (or raise --max-entries)`,
        );
      }
      this.entries.push(entry);
      return;
    }
    const rank = this.priority(entry);
    if (this.entries.length < this.max) {
      this.entries.push(entry);
      this.ranks.push(rank);
      this.up(this.entries.length - 1);
      return;
    }
    const min = this.entries[0];
    if (!min || this.less(rank, entry, this.ranks[0] ?? 0, min)) {
      this.omit(entry);
      return;
    }
    this.omit(min);
    this.entries[0] = entry;
    this.ranks[0] = rank;
    this.down(0);
  }
  private omit(e: TimelineEntry): void {
    this.omitted[e.source] = (this.omitted[e.source] ?? 0) + 1;
  }
  /** (rank a, entry a) ranks below (rank b, entry b): lower priority, or the same and earlier. */
  private less(ra: number, a: TimelineEntry, rb: number, b: TimelineEntry): boolean {
    return ra !== rb ? ra < rb : compareEntries(a, b) < 0;
  }
  private lessAt(i: number, j: number): boolean {
    return this.less(this.ranks[i] ?? 0, this.entries[i] as TimelineEntry, this.ranks[j] ?? 0, this.entries[j] as TimelineEntry);
  }
  private swap(i: number, j: number): void {
    [this.entries[i], this.entries[j]] = [this.entries[j] as TimelineEntry, this.entries[i] as TimelineEntry];
    [this.ranks[i], this.ranks[j]] = [this.ranks[j] ?? 0, this.ranks[i] ?? 0];
  }
  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.lessAt(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }
  private down(i: number): void {
    const n = this.entries.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.lessAt(l, m)) m = l;
      if (r < n && this.lessAt(r, m)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

function isAuditArtifact(a: ArtifactRef): boolean {
  return (a.kind === 'raw' || a.kind === 'audit') && a.source === 'audit' && /\.audit\.ndjson(\.gz)?$/.test(a.path);
}

export async function buildTimeline(store: EvidenceStore, options: BuildTimelineOptions = {}): Promise<TimelineResult> {
  const manifest = options.manifest ?? (await readManifest(store, options.abortSignal ? { abortSignal: options.abortSignal } : {}));
  const notes: string[] = [];
  const accept = entryFilter(options.filter);
  const { sinceMs: _since, untilMs: _until, ...untimedFilter } = options.filter ?? {};
  const sink = new EntrySink(
    accept,
    entryFilter(untimedFilter),
    options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    options.overflow === 'keep-priority' ? (options.priority ?? (() => 0)) : undefined,
  );
  const readOpts = options.abortSignal ? { abortSignal: options.abortSignal } : {};
  const tables = options.tables ?? SOURCES.tables;

  // 1. Collector actions: the manifest's, plus any task summary that holds more (an unsealed retry).
  const actions: CollectorAction[] = [...manifest.actions];
  const seenAction = new Set(actions.map(actionKey));
  for (const a of manifest.artifacts) {
    if (!a.path.endsWith('.summary.json')) continue;
    try {
      const summary = JSON.parse((await readSmallArtifact(store, a.path, MAX_SUMMARY_BYTES, readOpts)).toString('utf8')) as { actions?: CollectorAction[] };
      for (const act of summary.actions ?? []) {
        if (seenAction.has(actionKey(act))) continue;
        seenAction.add(actionKey(act));
        actions.push(act);
      }
    } catch {
      notes.push(`${a.path} could not be read as a task summary; its collector actions (if any) come from the manifest only`);
    }
  }
  const collectorActor = manifest.collector.identity ?? 'aks-evidence';
  for (const act of actions) sink.add(collectorActionEntry(act, collectorActor, 'manifest.json'));

  const ctx: CollectorContext = {
    identities: [...(manifest.collector.identity ? [manifest.collector.identity] : []), ...(options.collectorUsers ?? [])],
    run: { startMs: Date.parse(manifest.startedAt), endMs: Date.parse(manifest.endedAt) },
    actions,
  };

  // 2. Labels recorded at collection time (small: one row per label), keyed by auditID.
  const labelsById = new Map<string, { label: AuditLabel; path: string; line: number }[]>();
  const findingArtifacts = manifest.artifacts.filter((a) => a.kind === 'rows' && a.table === AUDIT_FINDINGS_TABLE.name);
  for (const a of findingArtifacts) {
    let line = 0;
    for await (const row of readNdjson(store, a.path, readOpts)) {
      line++;
      const label = labelFromRow(row as Record<string, unknown>);
      const list = labelsById.get(label.auditID) ?? [];
      list.push({ label, path: a.path, line });
      labelsById.set(label.auditID, list);
    }
  }

  // 3. Audit events: one per request (final stage), labels attached, collector actions marked.
  const auditArtifacts = manifest.artifacts.filter(isAuditArtifact);
  const hasRecordedLabels = findingArtifacts.length > 0;
  const needLabeler = !hasRecordedLabels || options.extraAuditEvents !== undefined;
  const labeler = needLabeler
    ? createAuditLabeler(options.rules ?? (await loadAuditRules()), options.allowedNetworks ? { allowedNetworks: options.allowedNetworks } : {})
    : undefined;
  if (auditArtifacts.length > 0 && !hasRecordedLabels) notes.push('the bundle has no recorded audit labels: labels were computed now with the built-in rules');
  if (auditArtifacts.length === 0 && !options.extraAuditEvents) {
    const gap = manifest.gaps.find((g) => g.source === 'audit') ?? manifest.sources.audit?.gaps[0];
    notes.push(`no audit events in this bundle${gap ? `: ${gap.detail}` : ''}`);
  }
  const usedLabels = new Set<string>();
  const dedupe = new AuditDeduper();
  const select = new FinalStageSelector();
  const positions = new Map<string, { path: string; line: number }>();

  const addAudit = (event: AuditEvent, computed: boolean): void => {
    const pos = positions.get(event.auditID) ?? { path: 'audit', line: 0 };
    positions.delete(event.auditID);
    const recorded = computed ? [] : (labelsById.get(event.auditID) ?? []).map((l) => l.label);
    const fresh = computed || !hasRecordedLabels ? (labeler?.push(event) ?? []) : [];
    const labels = [...recorded, ...fresh];
    if (recorded.length) usedLabels.add(event.auditID);
    const entry = auditEntry(event, labels, { path: pos.path, line: pos.line });
    const reason = collectorReasonFor(event, ctx);
    if (reason) {
      entry.collector = true;
      entry.collectorReason = reason;
    }
    sink.add(entry);
  };

  for (const a of auditArtifacts) {
    let line = 0;
    for await (const value of readNdjson(store, a.path, readOpts)) {
      line++;
      const event = value as AuditEvent;
      if (!dedupe.isNew(event)) continue;
      // The line of the latest stage seen: the one the selector emits (or the ResponseStarted it releases).
      positions.set(event.auditID, { path: a.path, line });
      for (const e of select.push(event)) addAudit(e, false);
    }
  }
  if (options.extraAuditEvents) {
    // Labelled in time order (threshold and correlate rules need it); they are few next to a bundle.
    const extra: AuditEvent[] = [];
    for await (const e of options.extraAuditEvents) if (dedupe.isNew(e)) extra.push(e);
    extra.sort(byEventTime);
    for (const e of extra) {
      positions.set(e.auditID, { path: 'audit-file', line: 0 });
      for (const f of select.push(e)) addAudit(f, true);
    }
  }
  for (const e of select.flushStarted()) addAudit(e, !positions.has(e.auditID) || positions.get(e.auditID)?.path === 'audit-file');

  // Labels whose event is not in the bundle (threshold labels over other windows, trimmed artifacts).
  for (const [id, list] of labelsById) {
    if (usedLabels.has(id)) continue;
    for (const l of list) sink.add(labelEntry(l.label, { path: l.path, line: l.line }));
  }

  // 4. Every other rows artifact whose table has timeline metadata.
  const wanted = options.filter?.sources?.length ? new Set(options.filter.sources) : undefined;
  for (const a of manifest.artifacts) {
    if (a.kind !== 'rows' || !a.table || a.table === AUDIT_FINDINGS_TABLE.name) continue;
    // auditevents_CL rows are derived from the raw audit events already on the timeline (with their labels): not twice.
    if (a.table === AUDIT_EVENTS_TABLE.name && auditArtifacts.length > 0) continue;
    const table = tables.has(a.table) ? tables.get(a.table) : undefined;
    if (!table) {
      notes.push(`${a.path}: table ${a.table} is not in the registry; left out`);
      continue;
    }
    // Skip reading what the filter would drop anyway.
    if (wanted ? !wanted.has(a.source) : INVENTORY_SOURCES.has(a.source)) continue;
    let line = 0;
    for await (const row of readNdjson(store, a.path, readOpts)) {
      line++;
      sink.add(rowEntry(row as Record<string, unknown>, table, a.source, { path: a.path, line }));
    }
  }

  const entries = sink.entries.sort(compareEntries);
  markTargets(entries, manifest);
  markTargets(sink.untimed, manifest);
  if (options.filter?.targetsOnly) {
    keepOnlyTargets(entries);
    keepOnlyTargets(sink.untimed);
  }
  for (const e of [...entries, ...sink.untimed]) if (e.labels && !e.severity) e.severity = maxSeverity(e.labels);
  if (sink.untimed.length)
    notes.push(
      `${sink.untimed.length} ${sink.untimed.length === 1 ? 'entry has no time of its own' : 'entries have no time of their own'} (cut or incomplete audit records): listed apart, after the timeline`,
    );
  return { entries, untimed: sink.untimed, manifest, notes, omitted: sink.omitted };
}

/** Drop, in place, the entries not about what the trigger named. */
function keepOnlyTargets(list: TimelineEntry[]): void {
  const kept = list.filter((e) => e.target);
  list.length = 0;
  for (const e of kept) list.push(e);
}

/**
 * Mark entries about what the trigger named: the priority pods (namespace/pod), the
 * priority namespaces, and the targets source's own descriptions (pods, owners, nodes).
 */
export function markTargets(entries: TimelineEntry[], manifest: Pick<Manifest, 'request'>): void {
  const pods = new Set(manifest.request.priorityPods ?? []);
  const namespaces = new Set(manifest.request.priorityNamespaces ?? []);
  for (const e of entries) {
    if (e.collector) continue;
    const podKey = e.namespace && e.pod ? `${e.namespace}/${e.pod}` : undefined;
    if (e.source === 'targets' || (podKey && pods.has(podKey)) || (e.namespace && namespaces.has(e.namespace))) e.target = true;
  }
}

function actionKey(a: CollectorAction): string {
  return `${a.at}|${a.namespace}|${a.pod}|${a.container}`;
}
