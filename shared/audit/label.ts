import { BlockList, isIP } from 'node:net';
import { InputError } from '../util/errors.js';
import { execDetailsOf } from './execRequest.js';
import { firstValue, resolveField } from './fieldPath.js';
import { jsonPatchAsObject } from './patchView.js';
import type { AuditRule, CorrelateRule, MatchSpec, ThresholdRule } from './rules.js';
import { isCidr } from './rules.js';
import type { CompiledSigmaRule } from './sigma.js';
import type { AuditEvent, AuditLabel, ExecDetails, Severity } from './types.js';
import { eventTime, eventTimeMs, outcomeOf } from './types.js';

/**
 * The label engine: feed audit events (final stages, roughly in time order) and get labels.
 * Stateful for threshold and correlate rules; memory is bounded by the rules' windows
 * (groups and first-events older than the window are forgotten as time advances).
 */

export interface AuditLabelerOptions {
  /** Expected client networks (CIDRs) for rules that use "$allowedNetworks". None = those rules are inactive. */
  allowedNetworks?: string[];
  /** Sigma rules (./sigma.ts loadSigmaRules) evaluated over the same events, after the YAML rules. */
  sigmaRules?: readonly CompiledSigmaRule[];
}

export interface InactiveRule {
  ruleId: string;
  reason: string;
}

export interface AuditLabeler {
  /** Label one event; returns the labels it earned (possibly from several rules). */
  push(event: AuditEvent): AuditLabel[];
  /** Rules that can never fire with this configuration, and why (say so to the user). */
  readonly inactive: readonly InactiveRule[];
  /** Rules in force. */
  readonly active: readonly AuditRule[];
  /** Sigma rules in force. */
  readonly sigma: readonly CompiledSigmaRule[];
}

/**
 * The event as rules see it: what the labeler derives is added under `exec` (exec, attach,
 * port-forward and debug details), and a JSON-patch body is laid out as the object it produces.
 */
export type AuditSubject = AuditEvent & { exec?: ExecDetails };

export function auditSubject(event: AuditEvent): AuditSubject {
  const exec = execDetailsOf(event);
  const patched = jsonPatchAsObject(event.requestObject);
  if (!exec && !patched) return event;
  return { ...event, ...(exec ? { exec } : {}), ...(patched ? { requestObject: patched } : {}) };
}

type Fields = Record<string, unknown>;

function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

const globCache = new Map<string, RegExp>();
function glob(pattern: string, value: string): boolean {
  let re = globCache.get(pattern);
  if (!re) {
    re = globToRegExp(pattern);
    if (globCache.size < 5000) globCache.set(pattern, re);
  }
  return re.test(value);
}
const anyGlob = (patterns: readonly string[], value: string) => patterns.some((p) => glob(p, value));

function codeMatches(spec: number | string, code: number): boolean {
  if (typeof spec === 'number') return code === spec;
  const [lo, hi] = spec.split('-').map(Number);
  return hi === undefined ? code === lo : code >= lo! && code <= hi;
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}

function blockListOf(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.trim().split('/');
    const type = isIP(addr!) === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

function inBlockList(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  if (family === 0) return false;
  return list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

const SA = /^system:serviceaccount:([^:]+):([^:]+)$/;

interface MatchContext {
  allowed?: BlockList;
  regexCache: Map<string, RegExp>;
}

/** Evaluate a match block; the fields that matched, or undefined. */
export function matchAuditEvent(spec: MatchSpec, event: AuditEvent, ctx: MatchContext): Fields | undefined {
  const f: Fields = {};
  const ref = event.objectRef;
  if (spec.verbs) {
    if (!spec.verbs.includes(event.verb)) return undefined;
    f.verb = event.verb;
  }
  if (spec.resources) {
    const resource = ref?.resource;
    if (!resource) return undefined;
    const group = ref?.apiGroup ?? '';
    const ok = spec.resources.some((r) => {
      if (r === '*') return true;
      const slash = r.lastIndexOf('/');
      if (slash < 0) return r === resource;
      const g = r.slice(0, slash);
      return r.slice(slash + 1) === resource && (g === 'core' ? '' : g) === group;
    });
    if (!ok) return undefined;
    f['objectRef.resource'] = group ? `${group}/${resource}` : resource;
  }
  if (spec.subresources) {
    const sub = ref?.subresource ?? '';
    if (!spec.subresources.some((s) => (s === '*' ? sub !== '' : s === sub))) return undefined;
    if (sub) f['objectRef.subresource'] = sub;
  }
  const ns = ref?.namespace ?? '';
  if (spec.namespaces) {
    if (!anyGlob(spec.namespaces, ns)) return undefined;
    f['objectRef.namespace'] = ns;
  }
  if (spec.notNamespaces && anyGlob(spec.notNamespaces, ns)) return undefined;
  const username = event.user?.username ?? '';
  if (spec.users) {
    if (!anyGlob(spec.users, username)) return undefined;
    f['user.username'] = username;
  }
  if (spec.notUsers && anyGlob(spec.notUsers, username)) return undefined;
  const groups = event.user?.groups ?? [];
  if (spec.groups) {
    const hit = groups.filter((g) => anyGlob(spec.groups!, g));
    if (hit.length === 0) return undefined;
    f['user.groups'] = hit;
  }
  if (spec.notGroups && groups.some((g) => anyGlob(spec.notGroups!, g))) return undefined;
  const uri = event.requestURI ?? '';
  if (spec.requestUris) {
    if (!anyGlob(spec.requestUris, uri)) return undefined;
    f.requestURI = uri;
  }
  if (spec.notRequestUris && anyGlob(spec.notRequestUris, uri)) return undefined;
  if (spec.responseCodes) {
    const code = event.responseStatus?.code;
    if (typeof code !== 'number' || !spec.responseCodes.some((c) => codeMatches(c, code))) return undefined;
    f['responseStatus.code'] = code;
  }
  if (spec.impersonated !== undefined) {
    const who = event.impersonatedUser?.username;
    if (Boolean(who) !== spec.impersonated) return undefined;
    if (who) {
      f['impersonatedUser.username'] = who;
      if (event.impersonatedUser?.groups?.length) f['impersonatedUser.groups'] = event.impersonatedUser.groups;
    }
  }
  if (spec.serviceAccountCrossNamespace !== undefined) {
    const m = SA.exec(username);
    const cross = m !== null && (ns === '' || ns !== m[1]);
    if (cross !== spec.serviceAccountCrossNamespace) return undefined;
    if (cross) {
      f['user.username'] = username;
      f['objectRef.namespace'] = ns || '(all namespaces)';
    }
  }
  if (spec.sourceIpNotIn) {
    const ip = event.sourceIPs?.[0];
    if (!ip || !ctx.allowed || inBlockList(ctx.allowed, ip)) return undefined;
    f['sourceIPs[0]'] = ip;
  }
  if (spec.all) {
    for (const p of spec.all) {
      const hits = predicateHits(p, event, ctx);
      if (hits.length === 0) return undefined;
      for (const h of hits) f[h.path] = h.value;
    }
  }
  if (spec.any) {
    let any = false;
    for (const p of spec.any) {
      const hits = predicateHits(p, event, ctx);
      if (hits.length) any = true;
      for (const h of hits) f[h.path] = h.value;
    }
    if (!any) return undefined;
  }
  if (spec.none) {
    for (const p of spec.none) if (predicateHits(p, event, ctx).length) return undefined;
  }
  return f;
}

type Predicate = NonNullable<MatchSpec['all']>[number];

function predicateHits(p: Predicate, event: AuditEvent, ctx: MatchContext): { path: string; value: unknown }[] {
  const values = resolveField(event, p.path);
  if (p.exists !== undefined) {
    const present = values.filter((v) => v.value !== null && v.value !== undefined);
    if (p.exists) return present.map((v) => ({ path: v.path, value: summarize(v.value) }));
    return present.length === 0 ? [{ path: p.path, value: '(absent)' }] : [];
  }
  if (p.equals !== undefined) return values.filter((v) => deepEqual(v.value, p.equals));
  if (p.in !== undefined) return values.filter((v) => p.in!.some((x) => deepEqual(v.value, x)));
  if (p.contains !== undefined) {
    return values.filter((v) =>
      typeof v.value === 'string' ? typeof p.contains === 'string' && v.value.includes(p.contains) : Array.isArray(v.value) && v.value.some((x) => deepEqual(x, p.contains)),
    );
  }
  if (p.matches !== undefined) {
    const key = `${p.flags ?? ''}/${p.matches}`;
    let re = ctx.regexCache.get(key);
    if (!re) {
      re = new RegExp(p.matches, p.flags);
      ctx.regexCache.set(key, re);
    }
    const r = re;
    return values.filter((v) => typeof v.value === 'string' && r.test(v.value)).map((v) => ({ path: v.path, value: summarize(v.value) }));
  }
  return [];
}

/** Keep matched values short: a whole object (e.g. a hostPath volume) is kept only when small. */
function summarize(value: unknown): unknown {
  if (typeof value === 'string') return value.length > 300 ? `${value.slice(0, 300)}…` : value;
  if (typeof value === 'object' && value !== null) {
    const s = JSON.stringify(value);
    return s.length > 300 ? `${s.slice(0, 300)}…` : value;
  }
  return value;
}

/** What every label of an event says about the request, whichever rule made it. */
export function labelFor(
  rule: { id: string; title: string; severity: Severity; kind: string; attack: readonly string[]; tags?: readonly string[] },
  event: AuditSubject,
  matched: Fields,
): AuditLabel {
  const label: AuditLabel = {
    ruleId: rule.id,
    title: rule.title,
    severity: rule.severity,
    ruleKind: rule.kind,
    auditID: event.auditID,
    time: eventTime(event),
    user: event.user?.username ?? '',
    verb: event.verb,
    matched,
    outcome: outcomeOf(event.responseStatus?.code),
    attack: [...rule.attack],
  };
  if (rule.tags?.length) label.tags = [...rule.tags];
  if (event.exec) label.exec = event.exec;
  if (event.objectRef) {
    const { resourceVersion: _rv, uid: _uid, ...ref } = event.objectRef;
    label.objectRef = ref;
  }
  const ip = event.sourceIPs?.[0];
  if (ip) label.sourceIP = ip;
  if (typeof event.responseStatus?.code === 'number') label.responseCode = event.responseStatus.code;
  return label;
}

const MAX_LISTED_IDS = 20;

class ThresholdState {
  private readonly groups = new Map<string, { times: number[]; ids: string[]; values: Record<string, unknown> }>();
  private pushes = 0;
  constructor(private readonly rule: ThresholdRule) {}

  push(event: AuditEvent, matched: Fields): Fields | undefined {
    const t = eventTimeMs(event);
    if (Number.isNaN(t)) return undefined;
    const windowMs = this.rule.windowSeconds * 1000;
    const values: Record<string, unknown> = {};
    for (const p of this.rule.groupBy) values[p] = firstValue(event, p) ?? '';
    const key = JSON.stringify(this.rule.groupBy.map((p) => values[p]));
    let g = this.groups.get(key);
    if (!g) {
      g = { times: [], ids: [], values };
      this.groups.set(key, g);
    }
    // Sorted insert: input is roughly, not strictly, in time order.
    let i = g.times.length;
    while (i > 0 && g.times[i - 1]! > t) i--;
    g.times.splice(i, 0, t);
    g.ids.splice(i, 0, event.auditID);
    const latest = g.times[g.times.length - 1]!;
    while (g.times.length && g.times[0]! < latest - windowMs) {
      g.times.shift();
      g.ids.shift();
    }
    if (++this.pushes % 10_000 === 0) this.evict(latest - windowMs);
    if (g.times.length < this.rule.threshold) return undefined;
    const out: Fields = {
      ...matched,
      ...Object.fromEntries(Object.entries(values).map(([k, v]) => [`groupBy.${k}`, v])),
      count: g.times.length,
      windowSeconds: this.rule.windowSeconds,
      threshold: this.rule.threshold,
      firstTime: new Date(g.times[0]!).toISOString(),
      auditIDs: g.ids.slice(0, MAX_LISTED_IDS),
    };
    // One label per burst: start counting afresh.
    this.groups.delete(key);
    return out;
  }

  private evict(beforeMs: number): void {
    for (const [key, g] of this.groups) if ((g.times[g.times.length - 1] ?? 0) < beforeMs) this.groups.delete(key);
  }
}

class CorrelateState {
  private readonly firsts = new Map<string, { t: number; auditID: string; verb: string; user: string; time: string }>();
  private pushes = 0;
  constructor(private readonly rule: CorrelateRule) {}

  private key(event: AuditEvent, side: 'first' | 'then'): string | undefined {
    const parts: unknown[] = [];
    for (const j of this.rule.join) {
      const v = firstValue(event, j[side]);
      if (v === undefined || v === null || v === '') {
        if (j.required) return undefined;
        parts.push('');
      } else parts.push(v);
    }
    return JSON.stringify(parts);
  }

  /** Check `then` first (an event never correlates with itself), then remember it as a `first`. */
  thenMatch(event: AuditEvent, matched: Fields): Fields | undefined {
    const key = this.key(event, 'then');
    if (!key) return undefined;
    const first = this.firsts.get(key);
    const t = eventTimeMs(event);
    if (!first || first.auditID === event.auditID || !(t >= first.t) || t - first.t > this.rule.withinSeconds * 1000) return undefined;
    return {
      ...matched,
      'first.auditID': first.auditID,
      'first.time': first.time,
      'first.verb': first.verb,
      'first.user': first.user,
      join: JSON.parse(key) as unknown,
    };
  }

  remember(event: AuditEvent): void {
    const key = this.key(event, 'first');
    const t = eventTimeMs(event);
    if (!key || Number.isNaN(t)) return;
    this.firsts.set(key, { t, auditID: event.auditID, verb: event.verb, user: event.user?.username ?? '', time: eventTime(event) });
    if (++this.pushes % 10_000 === 0) {
      const horizon = t - this.rule.withinSeconds * 1000;
      for (const [k, v] of this.firsts) if (v.t < horizon) this.firsts.delete(k);
    }
  }
}

function ruleMeta(rule: AuditRule): Parameters<typeof labelFor>[0] {
  const tags = [...(rule.threatMatrix ?? []), ...(rule.tags ?? [])];
  return { id: rule.id, title: rule.title, severity: rule.severity, kind: rule.kind, attack: rule.attack ?? [], ...(tags.length ? { tags } : {}) };
}

function usesAllowedNetworks(rule: AuditRule): boolean {
  const specs: MatchSpec[] = rule.kind === 'correlate' ? [rule.first, rule.then] : [rule.match];
  return specs.some((s) => s.sourceIpNotIn?.includes('$allowedNetworks'));
}

function literalCidrs(rule: AuditRule): string[] {
  const specs: MatchSpec[] = rule.kind === 'correlate' ? [rule.first, rule.then] : [rule.match];
  return specs.flatMap((s) => (s.sourceIpNotIn ?? []).filter((c) => c !== '$allowedNetworks'));
}

export function createAuditLabeler(rules: readonly AuditRule[], options: AuditLabelerOptions = {}): AuditLabeler {
  const allowedNetworks = options.allowedNetworks ?? [];
  for (const c of allowedNetworks) if (!isCidr(c)) throw new InputError('allow-cidr', `"${c}" is not a CIDR (e.g. 10.0.0.0/8) or an IP address`);
  const inactive: InactiveRule[] = [];
  const active: AuditRule[] = [];
  const contexts = new Map<string, MatchContext>();
  const thresholds = new Map<string, ThresholdState>();
  const correlates = new Map<string, CorrelateState>();
  const regexCache = new Map<string, RegExp>();

  for (const rule of rules) {
    if (!rule.enabled) {
      inactive.push({ ruleId: rule.id, reason: 'disabled (enabled: false)' });
      continue;
    }
    const wantsAllowed = usesAllowedNetworks(rule);
    if (wantsAllowed && allowedNetworks.length === 0) {
      inactive.push({ ruleId: rule.id, reason: 'no expected networks configured (--allow-cidr): rule inactive' });
      continue;
    }
    const cidrs = [...(wantsAllowed ? allowedNetworks : []), ...literalCidrs(rule)];
    contexts.set(rule.id, { ...(cidrs.length ? { allowed: blockListOf(cidrs) } : {}), regexCache });
    if (rule.kind === 'threshold') thresholds.set(rule.id, new ThresholdState(rule));
    if (rule.kind === 'correlate') correlates.set(rule.id, new CorrelateState(rule));
    active.push(rule);
  }

  const metas = new Map(active.map((r) => [r.id, ruleMeta(r)] as const));
  const sigma = options.sigmaRules ?? [];

  return {
    inactive,
    active,
    sigma,
    push(original: AuditEvent): AuditLabel[] {
      const event = auditSubject(original);
      const labels: AuditLabel[] = [];
      for (const rule of active) {
        const ctx = contexts.get(rule.id)!;
        const meta = metas.get(rule.id)!;
        if (rule.kind === 'match') {
          const m = matchAuditEvent(rule.match, event, ctx);
          if (m) labels.push(labelFor(meta, event, m));
        } else if (rule.kind === 'threshold') {
          const m = matchAuditEvent(rule.match, event, ctx);
          if (!m) continue;
          const fired = thresholds.get(rule.id)!.push(event, m);
          if (fired) labels.push(labelFor(meta, event, fired));
        } else {
          const state = correlates.get(rule.id)!;
          const then = matchAuditEvent(rule.then, event, ctx);
          if (then) {
            const fired = state.thenMatch(event, then);
            if (fired) labels.push(labelFor(meta, event, fired));
          }
          if (matchAuditEvent(rule.first, event, ctx)) state.remember(event);
        }
      }
      for (const rule of sigma) {
        const m = rule.evaluate(event);
        if (!m) continue;
        const label = labelFor(rule.meta, event, m);
        label.sigma = rule.sigma;
        labels.push(label);
      }
      return labels;
    },
  };
}

export interface LabelledEvent {
  event: AuditEvent;
  labels: AuditLabel[];
}

/** Static mode: label a stream of final-stage events (see stages.ts selectFinalEvents). */
export async function* labelAuditEvents(events: AsyncIterable<AuditEvent> | Iterable<AuditEvent>, labeler: AuditLabeler): AsyncGenerator<LabelledEvent> {
  for await (const event of events) yield { event, labels: labeler.push(event) };
}
