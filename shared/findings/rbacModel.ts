import { workloadRefs } from './podTemplates.js';
import type { AnalysisNote, K8sObject, SubjectRef, WorkloadRef } from './types.js';

/**
 * The RBAC model of a set of objects: roles with their effective rules (aggregation resolved),
 * bindings with normalized subjects, and the matching primitives of the Kubernetes RBAC
 * authorizer (k8s.io/kubernetes/pkg/apis/rbac/v1 evaluation helpers), written here because no
 * JavaScript library evaluates RBAC.
 */

export interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

export interface RoleInfo {
  kind: 'Role' | 'ClusterRole';
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  rules: PolicyRule[];
  aggregationSelectors?: LabelSelector[];
}

/** A rule as it applies through a role, with where it was declared. */
export interface EffectiveRule {
  rule: PolicyRule;
  /** Name of the role whose `rules` hold it. */
  declaredBy: string;
  ruleIndex: number;
  /** Chain of aggregated ClusterRoles it came through (first = selected by the bound role). */
  aggregatedFrom?: string[];
  /**
   * True for a rule in an aggregated ClusterRole's own `rules` that no selected ClusterRole
   * provides (stale, or added by hand: the aggregation controller would overwrite it).
   */
  notFromAggregation?: boolean;
}

export interface BindingInfo {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace?: string;
  uid?: string;
  createdAt?: string;
  roleRef: { kind: string; name: string };
  subjects: SubjectRef[];
}

export interface RbacModel {
  roles: Map<string, RoleInfo>;
  clusterRoles: Map<string, RoleInfo>;
  bindings: BindingInfo[];
  workloads: WorkloadRef[];
  /** Service accounts seen as objects ("ns/name"). */
  serviceAccounts: Set<string>;
  notes: AnalysisNote[];
  /** Effective rules of a role the binding refers to, or undefined when it is not in the input. */
  rulesFor(binding: BindingInfo): EffectiveRule[] | undefined;
}

const RBAC_KINDS = new Set(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding']);

export function buildRbacModel(objects: readonly K8sObject[], extraWorkloads: readonly WorkloadRef[] = []): RbacModel {
  const roles = new Map<string, RoleInfo>();
  const clusterRoles = new Map<string, RoleInfo>();
  const bindings: BindingInfo[] = [];
  const serviceAccounts = new Set<string>();
  const notes: AnalysisNote[] = [];

  for (const object of objects) {
    if (object.kind === 'ServiceAccount') {
      serviceAccounts.add(`${object.metadata.namespace ?? 'default'}/${object.metadata.name}`);
      continue;
    }
    if (!RBAC_KINDS.has(object.kind)) continue;
    if (object.kind === 'Role' || object.kind === 'ClusterRole') {
      const role = toRole(object);
      if (role.kind === 'Role') roles.set(`${role.namespace ?? 'default'}/${role.name}`, role);
      else clusterRoles.set(role.name, role);
      continue;
    }
    const binding = toBinding(object, notes);
    if (binding) bindings.push(binding);
  }

  const aggregatedCache = new Map<string, EffectiveRule[]>();
  const effectiveClusterRole = (name: string, visiting: readonly string[]): EffectiveRule[] | undefined => {
    const cached = aggregatedCache.get(name);
    if (cached) return cached;
    const role = clusterRoles.get(name);
    if (!role) return undefined;
    const own = role.rules.map((rule, ruleIndex): EffectiveRule => ({ rule, declaredBy: name, ruleIndex }));
    if (!role.aggregationSelectors) {
      aggregatedCache.set(name, own);
      return own;
    }
    // The aggregation controller sets an aggregated role's rules to the union of the rules of
    // every ClusterRole matching one of its selectors; compute it rather than trust the dump.
    const result: EffectiveRule[] = [];
    const selected = [...clusterRoles.values()]
      .filter((other) => other.name !== name && role.aggregationSelectors!.some((s) => selectorMatches(s, other.labels)))
      .sort((a, b) => compare(a.name, b.name));
    for (const other of selected) {
      if (visiting.includes(other.name)) {
        notes.push({ code: 'aggregation-cycle', message: `ClusterRole ${name} aggregates ${other.name}, which aggregates it back; the cycle is cut` });
        continue;
      }
      for (const eff of effectiveClusterRole(other.name, [...visiting, name]) ?? []) {
        if (result.some((r) => sameRule(r.rule, eff.rule))) continue;
        result.push({ ...eff, aggregatedFrom: [other.name, ...(eff.aggregatedFrom ?? [])] });
      }
    }
    for (const eff of own) {
      if (result.some((r) => sameRule(r.rule, eff.rule))) continue;
      result.push({ ...eff, notFromAggregation: true });
    }
    // A result computed inside another role's aggregation may have had a cycle cut: only the
    // top-level computation is cached.
    if (visiting.length === 0) aggregatedCache.set(name, result);
    return result;
  };

  const model: RbacModel = {
    roles,
    clusterRoles,
    bindings,
    workloads: [...workloadRefs(objects), ...extraWorkloads],
    serviceAccounts,
    notes,
    rulesFor(binding) {
      if (binding.roleRef.kind === 'ClusterRole') return effectiveClusterRole(binding.roleRef.name, []);
      if (binding.roleRef.kind === 'Role' && binding.kind === 'RoleBinding') {
        const role = roles.get(`${binding.namespace ?? 'default'}/${binding.roleRef.name}`);
        return role?.rules.map((rule, ruleIndex) => ({ rule, declaredBy: role.name, ruleIndex }));
      }
      return undefined;
    },
  };
  return model;
}

function toRole(object: K8sObject): RoleInfo {
  const rules = Array.isArray(object.rules) ? (object.rules as unknown[]).map(toPolicyRule) : [];
  const aggregation = object.aggregationRule as { clusterRoleSelectors?: unknown } | undefined | null;
  const selectors =
    object.kind === 'ClusterRole' && aggregation && Array.isArray(aggregation.clusterRoleSelectors)
      ? (aggregation.clusterRoleSelectors as LabelSelector[]).filter((s) => typeof s === 'object' && s !== null)
      : undefined;
  return {
    kind: object.kind as 'Role' | 'ClusterRole',
    name: object.metadata.name,
    ...(object.kind === 'Role' ? { namespace: object.metadata.namespace ?? 'default' } : {}),
    labels: stringRecord(object.metadata.labels),
    rules,
    ...(selectors ? { aggregationSelectors: selectors } : {}),
  };
}

function toPolicyRule(value: unknown): PolicyRule {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const list = (x: unknown): string[] | undefined => (Array.isArray(x) ? x.filter((s): s is string => typeof s === 'string') : undefined);
  const rule: PolicyRule = {};
  const verbs = list(v.verbs);
  const apiGroups = list(v.apiGroups);
  const resources = list(v.resources);
  const resourceNames = list(v.resourceNames);
  const nonResourceURLs = list(v.nonResourceURLs);
  if (verbs) rule.verbs = verbs;
  if (apiGroups) rule.apiGroups = apiGroups;
  if (resources) rule.resources = resources;
  if (resourceNames) rule.resourceNames = resourceNames;
  if (nonResourceURLs) rule.nonResourceURLs = nonResourceURLs;
  return rule;
}

function toBinding(object: K8sObject, notes: AnalysisNote[]): BindingInfo | undefined {
  const kind = object.kind as 'RoleBinding' | 'ClusterRoleBinding';
  const namespace = kind === 'RoleBinding' ? (object.metadata.namespace ?? 'default') : undefined;
  const roleRef = object.roleRef as { kind?: unknown; name?: unknown } | undefined;
  const label = `${kind} ${namespace ? `${namespace}/` : ''}${object.metadata.name}`;
  if (!roleRef || typeof roleRef.kind !== 'string' || typeof roleRef.name !== 'string') {
    notes.push({ code: 'invalid-binding', message: `${label} has no valid roleRef; skipped` });
    return undefined;
  }
  const subjects: SubjectRef[] = [];
  for (const raw of Array.isArray(object.subjects) ? (object.subjects as unknown[]) : []) {
    const s = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    if (typeof s.name !== 'string' || (s.kind !== 'User' && s.kind !== 'Group' && s.kind !== 'ServiceAccount')) {
      notes.push({ code: 'invalid-subject', message: `${label} has a subject that is not a User, Group or ServiceAccount with a name; skipped` });
      continue;
    }
    if (s.kind === 'ServiceAccount') {
      // The subject namespace is required by the API; older objects may omit it in RoleBindings,
      // where it means the binding's namespace.
      const ns = typeof s.namespace === 'string' && s.namespace !== '' ? s.namespace : namespace;
      if (!ns) {
        notes.push({ code: 'invalid-subject', message: `${label} has ServiceAccount subject ${s.name} without a namespace; skipped` });
        continue;
      }
      subjects.push({ kind: 'ServiceAccount', name: s.name, namespace: ns });
    } else {
      subjects.push({ kind: s.kind, name: s.name });
    }
  }
  return {
    kind,
    name: object.metadata.name,
    ...(namespace ? { namespace } : {}),
    ...(object.metadata.uid ? { uid: object.metadata.uid } : {}),
    ...(object.metadata.creationTimestamp ? { createdAt: String(object.metadata.creationTimestamp) } : {}),
    roleRef: { kind: roleRef.kind, name: roleRef.name },
    subjects,
  };
}

function stringRecord(value: unknown): Record<string, string> {
  if (typeof value !== 'object' || value === null) return {};
  return Object.fromEntries(Object.entries(value).filter(([, v]) => typeof v === 'string'));
}

/** Kubernetes label selector semantics; an empty selector matches everything. */
export function selectorMatches(selector: LabelSelector, labels: Record<string, string>): boolean {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    if (labels[key] !== value) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, expr.key);
    const values = expr.values ?? [];
    switch (expr.operator) {
      case 'In':
        if (!has || !values.includes(labels[expr.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[expr.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
      default:
        return false; // an unknown operator selects nothing, as the API server's parser rejects it
    }
  }
  return true;
}

function sameRule(a: PolicyRule, b: PolicyRule): boolean {
  const key = (r: PolicyRule) => JSON.stringify([r.verbs ?? [], r.apiGroups ?? [], r.resources ?? [], r.resourceNames ?? [], r.nonResourceURLs ?? []]);
  return key(a) === key(b);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// ---- matching primitives ---------------------------------------------------------------

/** What a capability check asks for. Resources may name subresources ('pods/exec'). */
export interface Want {
  apiGroups: readonly string[];
  resources: readonly string[];
  verbs: readonly string[];
}

export interface RuleMatch {
  /** Wanted verbs the rule grants. */
  verbs: string[];
  /** Wanted resources the rule grants. */
  resources: string[];
  apiGroups: string[];
  /** Set when the rule is limited to these names. */
  resourceNames?: string[];
}

/** Verbs that act on a collection: a rule limited by resourceNames never grants them on the plain resource. */
const COLLECTION_VERBS = new Set(['create', 'deletecollection']);

/**
 * Which of the wanted verbs/resources a policy rule grants, following the RBAC authorizer:
 * '*' matches every verb/group/resource (subresources included), '<resource>/<sub>' must be
 * named exactly or as '*\/<sub>', and a rule with resourceNames only grants requests that carry
 * a name (so never plain create or deletecollection).
 */
export function matchRule(rule: PolicyRule, want: Want): RuleMatch | undefined {
  const verbs = rule.verbs ?? [];
  const groups = rule.apiGroups ?? [];
  const resources = rule.resources ?? [];
  if (resources.length === 0) return undefined;
  const matchedGroups = want.apiGroups.filter((g) => groups.includes('*') || groups.includes(g));
  if (matchedGroups.length === 0) return undefined;
  const matchedResources = want.resources.filter((r) => resourceMatches(resources, r));
  if (matchedResources.length === 0) return undefined;
  const names = rule.resourceNames && rule.resourceNames.length > 0 ? rule.resourceNames : undefined;
  const verbCandidates = want.verbs.filter((v) => verbs.includes('*') || verbs.includes(v));
  // A request on a plain resource with a collection verb carries no name, so a rule limited
  // by resourceNames cannot grant it; subresource requests always name their object.
  const granted = (resource: string, verb: string) => !names || resource.includes('/') || !COLLECTION_VERBS.has(verb);
  const matchedVerbs = verbCandidates.filter((v) => matchedResources.some((r) => granted(r, v)));
  const grantedResources = matchedResources.filter((r) => verbCandidates.some((v) => granted(r, v)));
  if (matchedVerbs.length === 0 || grantedResources.length === 0) return undefined;
  return {
    verbs: matchedVerbs,
    resources: grantedResources,
    apiGroups: matchedGroups,
    ...(names ? { resourceNames: [...names] } : {}),
  };
}

function resourceMatches(ruleResources: readonly string[], wanted: string): boolean {
  if (ruleResources.includes('*') || ruleResources.includes(wanted)) return true;
  const slash = wanted.indexOf('/');
  return slash >= 0 && ruleResources.includes(`*${wanted.slice(slash)}`);
}

/** nonResourceURLs matching: exact, '*', or a prefix ending in '*'. */
export function matchNonResourceUrl(rule: PolicyRule, verb: string, url: string): boolean {
  const verbs = rule.verbs ?? [];
  if (!verbs.includes('*') && !verbs.includes(verb)) return false;
  return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === url || (u.endsWith('*') && url.startsWith(u.slice(0, -1))));
}

// ---- subjects --------------------------------------------------------------------------

export const ANONYMOUS_USER = 'system:anonymous';
export const UNAUTHENTICATED_GROUP = 'system:unauthenticated';
export const AUTHENTICATED_GROUP = 'system:authenticated';
export const ALL_SERVICE_ACCOUNTS_GROUP = 'system:serviceaccounts';

/** A subject that anyone (or anyone with any credential) is: binding it is a public grant. */
export function publicSubjectAudience(subject: SubjectRef): 'anonymous' | 'unauthenticated' | 'authenticated' | undefined {
  if (subject.kind === 'User' && subject.name === ANONYMOUS_USER) return 'anonymous';
  if (subject.kind === 'Group' && subject.name === UNAUTHENTICATED_GROUP) return 'unauthenticated';
  if (subject.kind === 'Group' && subject.name === AUTHENTICATED_GROUP) return 'authenticated';
  return undefined;
}

/** The groups the API server puts a service account in (besides its own identity). */
export function serviceAccountGroups(namespace: string): string[] {
  return [ALL_SERVICE_ACCOUNTS_GROUP, `${ALL_SERVICE_ACCOUNTS_GROUP}:${namespace}`, AUTHENTICATED_GROUP];
}

/** Whether `subject` (as written in a binding) applies to service account namespace/name. */
export function subjectCoversServiceAccount(subject: SubjectRef, namespace: string, name: string): boolean {
  switch (subject.kind) {
    case 'ServiceAccount':
      return subject.namespace === namespace && subject.name === name;
    case 'User':
      return subject.name === `system:serviceaccount:${namespace}:${name}`;
    case 'Group':
      return serviceAccountGroups(namespace).includes(subject.name);
  }
}

/** Whether a subject applies to some service accounts (so workloads inherit its grants). */
export function subjectCoversServiceAccounts(subject: SubjectRef): boolean {
  if (subject.kind === 'ServiceAccount') return true;
  if (subject.kind === 'User') return subject.name.startsWith('system:serviceaccount:');
  return subject.name === AUTHENTICATED_GROUP || subject.name === ALL_SERVICE_ACCOUNTS_GROUP || subject.name.startsWith(`${ALL_SERVICE_ACCOUNTS_GROUP}:`);
}

/** One binding that applies to a service account, directly or through one of its groups. */
export interface ServiceAccountGrant {
  binding: BindingInfo;
  /** The subject as written in the binding (the SA itself, or a group it belongs to). */
  via: SubjectRef;
  /** '*' cluster-wide, else the binding namespace. */
  scopeNamespace: string;
}

/** Every binding that applies to service account namespace/name. */
export function grantsForServiceAccount(model: RbacModel, namespace: string, name: string): ServiceAccountGrant[] {
  const grants: ServiceAccountGrant[] = [];
  for (const binding of model.bindings) {
    for (const subject of binding.subjects) {
      if (!subjectCoversServiceAccount(subject, namespace, name)) continue;
      grants.push({ binding, via: subject, scopeNamespace: binding.kind === 'ClusterRoleBinding' ? '*' : (binding.namespace ?? 'default') });
    }
  }
  return grants;
}

export function subjectKey(subject: SubjectRef): string {
  return subject.kind === 'ServiceAccount' ? `ServiceAccount:${subject.namespace ?? ''}/${subject.name}` : `${subject.kind}:${subject.name}`;
}

export function subjectText(subject: SubjectRef): string {
  return subject.kind === 'ServiceAccount' ? `ServiceAccount ${subject.namespace ?? ''}/${subject.name}` : `${subject.kind} ${subject.name}`;
}
