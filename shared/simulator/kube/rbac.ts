/**
 * Authorization like kube-apiserver's chain: the privileged group system:masters, the RBAC
 * authorizer over the served Roles, ClusterRoles (aggregation included), RoleBindings and
 * ClusterRoleBindings (verbs, API groups, resources, subresources, resourceNames,
 * nonResourceURLs, namespaces), the bootstrap policy every server has (discovery and self
 * reviews for authenticated users), and optionally a grant outside RBAC — what an AKS cluster
 * with Azure RBAC does through its authorization webhook (no RoleBinding objects behind it).
 * Matching follows k8s.io/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go.
 */
import type { KubeObject } from './scenario.js';
import type { UserInfo } from './authn.js';

export interface PolicyRule {
  verbs: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

export interface ResourceAttributes {
  verb: string;
  group: string;
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}

export type Attributes = ({ kind: 'resource' } & ResourceAttributes) | ({ kind: 'nonResource' } & NonResourceAttributes);

export interface Decision {
  allowed: boolean;
  /** Why it was allowed, in the API server's words ("RBAC: allowed by ClusterRoleBinding …"); "" when denied. */
  reason: string;
}

/** A grant decided outside RBAC, like the AKS Azure RBAC webhook (never visible as objects). */
export interface ExternalGrant {
  /** Does it apply to this user at all? */
  appliesTo(user: UserInfo): boolean;
  allows(attrs: Attributes): boolean;
  /** The webhook's words when it allows. */
  reason: string;
}

export interface RulesReview {
  resourceRules: { verbs: string[]; apiGroups: string[]; resources: string[]; resourceNames?: string[] }[];
  nonResourceRules: { verbs: string[]; nonResourceURLs: string[] }[];
  incomplete: boolean;
  evaluationError?: string;
}

const RBAC = 'rbac.authorization.k8s.io';

/** The bootstrap policy (system:discovery, system:basic-user, system:public-info-viewer), built in. */
const BOOTSTRAP: { group: string; role: string; rules: PolicyRule[] }[] = [
  {
    group: 'system:authenticated',
    role: 'system:discovery',
    rules: [{ verbs: ['get'], nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'] }],
  },
  {
    group: 'system:authenticated',
    role: 'system:basic-user',
    rules: [
      { verbs: ['create'], apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'] },
      { verbs: ['create'], apiGroups: ['authentication.k8s.io'], resources: ['selfsubjectreviews'] },
    ],
  },
  { group: 'system:authenticated', role: 'system:public-info-viewer', rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }] },
  { group: 'system:unauthenticated', role: 'system:public-info-viewer', rules: [{ verbs: ['get'], nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'] }] },
];

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

interface Binding {
  kind: 'RoleBinding' | 'ClusterRoleBinding';
  name: string;
  namespace?: string;
  roleRef: { kind: string; name: string };
  subjects: Subject[];
}

const has = (list: readonly string[] | undefined, value: string): boolean => !!list && (list.includes('*') || list.includes(value));

export function ruleAllows(rule: PolicyRule, attrs: Attributes): boolean {
  if (!has(rule.verbs, attrs.verb)) return false;
  if (attrs.kind === 'nonResource') {
    return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === attrs.path || (u.endsWith('*') && attrs.path.startsWith(u.slice(0, -1))));
  }
  if (!has(rule.apiGroups, attrs.group)) return false;
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const resourceOk = (rule.resources ?? []).some((r) => r === '*' || r === combined || (attrs.subresource !== undefined && r === `*/${attrs.subresource}`));
  if (!resourceOk) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== undefined && names.includes(attrs.name));
}

function subjectApplies(user: UserInfo, s: Subject, bindingNamespace: string | undefined): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.name;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace || '';
      return user.name === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

function describeSubject(s: Subject, bindingNamespace: string | undefined): string {
  return s.kind === 'ServiceAccount' ? `ServiceAccount "${s.name}/${s.namespace || bindingNamespace || ''}"` : `${s.kind} "${s.name}"`;
}

interface Selector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}

function selects(sel: Selector, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(sel.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of sel.matchExpressions ?? []) {
    const v = labels[e.key];
    if (e.operator === 'In' && (v === undefined || !(e.values ?? []).includes(v))) return false;
    if (e.operator === 'NotIn' && v !== undefined && (e.values ?? []).includes(v)) return false;
    if (e.operator === 'Exists' && v === undefined) return false;
    if (e.operator === 'DoesNotExist' && v !== undefined) return false;
  }
  return true;
}

interface Policy {
  clusterRoles: Map<string, PolicyRule[]>;
  roles: Map<string, PolicyRule[]>; // key "<ns>/<name>"
  clusterBindings: Binding[];
  roleBindings: Map<string, Binding[]>; // by namespace
}

function buildPolicy(list: (storeKey: string) => KubeObject[]): Policy {
  const rulesOf = (o: KubeObject): PolicyRule[] => ((o['rules'] as PolicyRule[] | undefined) ?? []).filter((r) => r && Array.isArray(r.verbs));
  const crObjects = list(`${RBAC}/clusterroles`);
  const own = new Map(crObjects.map((o) => [o.metadata.name, o] as const));
  const clusterRoles = new Map<string, PolicyRule[]>();
  // Aggregation: the controller fills an aggregated role with the rules of every ClusterRole its
  // selectors match (transitively, as the controller converges); cycles are cut.
  const resolve = (name: string, seen: Set<string>): PolicyRule[] => {
    const cached = clusterRoles.get(name);
    if (cached) return cached;
    const o = own.get(name);
    if (!o) return [];
    const rules = [...rulesOf(o)];
    const agg = o['aggregationRule'] as { clusterRoleSelectors?: Selector[] } | undefined;
    if (agg?.clusterRoleSelectors?.length) {
      seen.add(name);
      for (const other of crObjects) {
        if (other.metadata.name === name || seen.has(other.metadata.name)) continue;
        const labels = (other.metadata['labels'] ?? {}) as Record<string, string>;
        if (agg.clusterRoleSelectors.some((s) => selects(s, labels))) rules.push(...resolve(other.metadata.name, seen));
      }
      seen.delete(name);
    }
    if (seen.size === 0) clusterRoles.set(name, rules);
    return rules;
  };
  for (const name of own.keys()) resolve(name, new Set());
  const roles = new Map<string, PolicyRule[]>();
  for (const o of list(`${RBAC}/roles`)) roles.set(`${o.metadata.namespace}/${o.metadata.name}`, rulesOf(o));
  const toBinding = (o: KubeObject, kind: Binding['kind']): Binding => ({
    kind,
    name: o.metadata.name,
    ...(o.metadata.namespace ? { namespace: o.metadata.namespace } : {}),
    roleRef: (o['roleRef'] as Binding['roleRef'] | undefined) ?? { kind: '', name: '' },
    subjects: ((o['subjects'] as Subject[] | undefined) ?? []).filter((s) => s && typeof s.name === 'string'),
  });
  const roleBindings = new Map<string, Binding[]>();
  for (const o of list(`${RBAC}/rolebindings`)) {
    const b = toBinding(o, 'RoleBinding');
    const arr = roleBindings.get(b.namespace!) ?? [];
    arr.push(b);
    roleBindings.set(b.namespace!, arr);
  }
  return { clusterRoles, roles, clusterBindings: list(`${RBAC}/clusterrolebindings`).map((o) => toBinding(o, 'ClusterRoleBinding')), roleBindings };
}

export interface AuthorizerOptions {
  /** Served objects of a store bucket ("rbac.authorization.k8s.io/roles"…). */
  objects: (storeKey: string) => KubeObject[];
  /** Changes whenever served objects change: the policy is rebuilt then. */
  version: () => string;
  grant?: ExternalGrant;
}

export class Authorizer {
  private cached?: { version: string; policy: Policy };

  constructor(private readonly options: AuthorizerOptions) {}

  private policy(): Policy {
    const v = this.options.version();
    if (this.cached?.version !== v) this.cached = { version: v, policy: buildPolicy(this.options.objects) };
    return this.cached.policy;
  }

  /** The rules of a roleRef as seen from a binding in `namespace` (undefined for ClusterRoleBindings). */
  private refRules(p: Policy, ref: Binding['roleRef'], namespace: string | undefined): PolicyRule[] {
    if (ref.kind === 'ClusterRole') return p.clusterRoles.get(ref.name) ?? [];
    if (ref.kind === 'Role' && namespace) return p.roles.get(`${namespace}/${ref.name}`) ?? [];
    return [];
  }

  /** Every binding that applies to the user in this namespace (cluster bindings always), with its rules. */
  private *applicable(user: UserInfo, namespace: string | undefined): Generator<{ binding: Binding; subject: Subject; rules: PolicyRule[] }> {
    const p = this.policy();
    for (const b of p.clusterBindings) {
      if (b.roleRef.kind !== 'ClusterRole') continue;
      const s = b.subjects.find((x) => subjectApplies(user, x, undefined));
      if (s) yield { binding: b, subject: s, rules: this.refRules(p, b.roleRef, undefined) };
    }
    if (namespace) {
      for (const b of p.roleBindings.get(namespace) ?? []) {
        const s = b.subjects.find((x) => subjectApplies(user, x, namespace));
        if (s) yield { binding: b, subject: s, rules: this.refRules(p, b.roleRef, namespace) };
      }
    }
  }

  authorize(user: UserInfo, attrs: Attributes): Decision {
    if (user.groups.includes('system:masters')) return { allowed: true, reason: '' };
    const namespace = attrs.kind === 'resource' ? attrs.namespace : undefined;
    for (const { binding, subject, rules } of this.applicable(user, namespace)) {
      if (rules.some((r) => ruleAllows(r, attrs))) {
        const where = binding.kind === 'RoleBinding' ? `RoleBinding "${binding.name}/${binding.namespace}"` : `ClusterRoleBinding "${binding.name}"`;
        return { allowed: true, reason: `RBAC: allowed by ${where} of ${binding.roleRef.kind} "${binding.roleRef.name}" to ${describeSubject(subject, binding.namespace)}` };
      }
    }
    for (const b of BOOTSTRAP) {
      if (user.groups.includes(b.group) && b.rules.some((r) => ruleAllows(r, attrs))) {
        return { allowed: true, reason: `RBAC: allowed by ClusterRoleBinding "${b.role}" of ClusterRole "${b.role}" to Group "${b.group}"` };
      }
    }
    const g = this.options.grant;
    if (g && g.appliesTo(user) && g.allows(attrs)) return { allowed: true, reason: g.reason };
    return { allowed: false, reason: '' };
  }

  /** SelfSubjectRulesReview: the user's rules in a namespace, from RBAC (a webhook grant makes it incomplete, as on AKS). */
  rulesReview(user: UserInfo, namespace: string): RulesReview {
    const out: RulesReview = { resourceRules: [], nonResourceRules: [], incomplete: false };
    const add = (r: PolicyRule): void => {
      if (r.nonResourceURLs?.length) out.nonResourceRules.push({ verbs: [...r.verbs], nonResourceURLs: [...r.nonResourceURLs] });
      if (r.resources?.length) {
        const rule: RulesReview['resourceRules'][number] = { verbs: [...r.verbs], apiGroups: [...(r.apiGroups ?? [])], resources: [...r.resources] };
        if (r.resourceNames?.length) rule.resourceNames = [...r.resourceNames];
        out.resourceRules.push(rule);
      }
    };
    if (user.groups.includes('system:masters')) {
      add({ verbs: ['*'], apiGroups: ['*'], resources: ['*'] });
      add({ verbs: ['*'], nonResourceURLs: ['*'] });
    }
    for (const { rules } of this.applicable(user, namespace)) rules.forEach(add);
    for (const b of BOOTSTRAP) if (user.groups.includes(b.group)) b.rules.forEach(add);
    if (this.options.grant?.appliesTo(user)) {
      out.incomplete = true;
      out.evaluationError = 'webhook authorizer does not support user rule resolution';
    }
    return out;
  }
}

/**
 * Kubernetes' 403 message: `pods "x" is forbidden: User "u" cannot get resource "pods/log" in
 * API group "" in the namespace "ns"` (or `at the cluster scope`, or `cannot get path "/x"`).
 */
export function forbiddenMessage(user: UserInfo, attrs: Attributes): string {
  if (attrs.kind === 'nonResource') return `forbidden: User "${user.name}" cannot ${attrs.verb} path "${attrs.path}"`;
  const combined = attrs.subresource ? `${attrs.resource}/${attrs.subresource}` : attrs.resource;
  const qualified = attrs.group ? `${attrs.resource}.${attrs.group}` : attrs.resource;
  const subject = attrs.name ? `${qualified} "${attrs.name}"` : qualified;
  const scope = attrs.namespace ? `in the namespace "${attrs.namespace}"` : 'at the cluster scope';
  return `${subject} is forbidden: User "${user.name}" cannot ${attrs.verb} resource "${combined}" in API group "${attrs.group}" ${scope}`;
}
