import { EXPECTED_BINDINGS, findExpected, type ExpectedBinding } from './expected.js';
import {
  buildRbacModel,
  publicSubjectAudience,
  subjectCoversServiceAccount,
  subjectCoversServiceAccounts,
  subjectKey,
  subjectText,
  matchNonResourceUrl,
  matchRule,
  type BindingInfo,
  type EffectiveRule,
  type RbacModel,
  type RuleMatch,
  type Want,
} from './rbacModel.js';
import { maxSeverity, severityRank, type AnalysisNote, type GrantPath, type K8sObject, type RbacFinding, type Severity, type SubjectRef, type WorkloadRef } from './types.js';

/**
 * RBAC risk: every subject of every binding, resolved to the effective rules of its role, checked
 * against the capabilities an attacker wants. One finding per rule id × subject × binding × the
 * role chain that grants it, with that path, the namespace scope and the matched verbs/resources.
 */

export interface RbacRuleInfo {
  id: string;
  title: string;
  description: string;
  /** The most severe level the rule reports. */
  maxSeverity: Severity;
}

/** Scope: '*' cluster-wide, else the namespace a RoleBinding grants in. */
interface CheckContext {
  scope: string;
  rules: readonly EffectiveRule[];
}

interface Hit {
  eff: EffectiveRule;
  match: RuleMatch;
  severity: Severity;
  note?: string;
}

interface RbacCheck extends RbacRuleInfo {
  evaluate(ctx: CheckContext): Hit[];
  /** Report all hits as one finding (a capability that needs rules together). */
  combine?: boolean;
}

const CORE = [''];
const RBAC_GROUP = ['rbac.authorization.k8s.io'];

const byScope = (scope: string, cluster: Severity, kubeSystem: Severity, namespace: Severity): Severity =>
  scope === '*' ? cluster : scope === 'kube-system' ? kubeSystem : namespace;

function hits(ctx: CheckContext, wants: readonly Want[], severity: (m: RuleMatch, eff: EffectiveRule) => Severity, note?: (m: RuleMatch) => string | undefined): Hit[] {
  const out: Hit[] = [];
  for (const eff of ctx.rules) {
    for (const want of wants) {
      const match = matchRule(eff.rule, want);
      if (!match) continue;
      const n = note?.(match);
      out.push({ eff, match, severity: severity(match, eff), ...(n ? { note: n } : {}) });
    }
  }
  return out;
}

const has = (list: readonly string[] | undefined, value: string) => (list ?? []).includes(value);

const CLUSTER_ADMIN: RbacCheck = {
  id: 'rbac.cluster-admin',
  title: 'Cluster-admin equivalent',
  description:
    "All verbs on all resources in all API groups ('*' on '*' in '*'). Cluster-wide this is full control of the cluster; through a RoleBinding it is full control of that namespace (its secrets, pods and service accounts).",
  maxSeverity: 'critical',
  evaluate(ctx) {
    const out: Hit[] = [];
    for (const eff of ctx.rules) {
      const r = eff.rule;
      if (!has(r.verbs, '*') || !has(r.resources, '*') || !has(r.apiGroups, '*')) continue;
      const names = r.resourceNames && r.resourceNames.length > 0 ? [...r.resourceNames] : undefined;
      const severity: Severity = names ? 'medium' : byScope(ctx.scope, 'critical', 'critical', 'high');
      out.push({ eff, match: { verbs: ['*'], resources: ['*'], apiGroups: ['*'], ...(names ? { resourceNames: names } : {}) }, severity });
    }
    return out;
  },
};

const SECRETS_READ: RbacCheck = {
  id: 'rbac.secrets-read',
  title: 'Read secrets',
  description:
    'get/list/watch on secrets: credentials, tokens and keys. list/watch read every secret at once (high cluster-wide or in kube-system); get needs the names; a rule limited by resourceNames is low.',
  maxSeverity: 'high',
  evaluate: (ctx) =>
    hits(ctx, [{ apiGroups: CORE, resources: ['secrets'], verbs: ['get', 'list', 'watch'] }], (m) => {
      if (m.resourceNames) return 'low';
      const bulk = m.verbs.includes('list') || m.verbs.includes('watch');
      return bulk ? byScope(ctx.scope, 'high', 'high', 'medium') : byScope(ctx.scope, 'medium', 'medium', 'low');
    }),
};

const POD_EXEC: RbacCheck = {
  id: 'rbac.pod-exec',
  title: 'Exec, attach or port-forward into pods',
  description:
    'create on pods/exec, pods/attach or pods/portforward, or update/patch on pods/ephemeralcontainers: run commands in, or reach into, running containers with their service account and mounted secrets. get alone allows the WebSocket upgrade on API servers before 1.31 (or with AuthorizePodWebsocketUpgradeCreatePermission off) and is reported one level lower.',
  maxSeverity: 'high',
  evaluate: (ctx) =>
    hits(
      ctx,
      [
        { apiGroups: CORE, resources: ['pods/exec', 'pods/attach', 'pods/portforward'], verbs: ['create', 'get'] },
        { apiGroups: CORE, resources: ['pods/ephemeralcontainers'], verbs: ['update', 'patch'] },
      ],
      (m) => {
        if (m.resourceNames) return 'low';
        const full = m.verbs.some((v) => v !== 'get');
        return full ? byScope(ctx.scope, 'high', 'high', 'medium') : byScope(ctx.scope, 'medium', 'medium', 'low');
      },
      (m) => (m.verbs.every((v) => v === 'get') ? 'get only: WebSocket exec/attach on API servers before 1.31' : undefined),
    ),
};

const WORKLOAD_RESOURCES: readonly Want[] = [
  { apiGroups: CORE, resources: ['pods', 'replicationcontrollers'], verbs: ['create', 'update', 'patch'] },
  { apiGroups: ['apps', 'extensions'], resources: ['deployments', 'daemonsets', 'statefulsets', 'replicasets'], verbs: ['create', 'update', 'patch'] },
  { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['create', 'update', 'patch'] },
];

const WORKLOAD_CREATE: RbacCheck = {
  id: 'rbac.workload-create',
  title: 'Create or change pods and workloads',
  description:
    "create/update/patch on pods, deployments, daemonsets, statefulsets, replicasets, jobs, cronjobs or replicationcontrollers: run any image as any service account of the namespace and mount any secret of it, so it implies reading those secrets and holding those service accounts' permissions.",
  maxSeverity: 'high',
  evaluate: (ctx) => hits(ctx, WORKLOAD_RESOURCES, (m) => (m.resourceNames ? 'low' : byScope(ctx.scope, 'high', 'high', 'medium'))),
};

const IMPERSONATE: RbacCheck = {
  id: 'rbac.impersonate',
  title: 'Impersonate users, groups or service accounts',
  description:
    'impersonate on users, groups, serviceaccounts or uids: act as another identity, e.g. as a member of system:masters. Users/groups cluster-wide is critical; a rule limited by resourceNames is medium unless it names system:masters.',
  maxSeverity: 'critical',
  evaluate(ctx) {
    const wants: Want[] =
      ctx.scope === '*'
        ? [
            { apiGroups: CORE, resources: ['users', 'groups', 'serviceaccounts'], verbs: ['impersonate'] },
            { apiGroups: ['authentication.k8s.io'], resources: ['uids', 'userextras/scopes'], verbs: ['impersonate'] },
          ]
        : [{ apiGroups: CORE, resources: ['serviceaccounts'], verbs: ['impersonate'] }];
    return hits(ctx, wants, (m) => {
      if (m.resourceNames) return m.resourceNames.includes('system:masters') ? 'critical' : 'medium';
      if (m.resources.includes('users') || m.resources.includes('groups')) return 'critical';
      if (m.resources.includes('serviceaccounts')) return byScope(ctx.scope, 'high', 'high', 'medium');
      return 'medium';
    });
  },
};

const ESCALATE_BIND: RbacCheck = {
  id: 'rbac.escalate-bind',
  title: 'Escalate or bind roles',
  description: "escalate on roles/clusterroles (write rules beyond one's own permissions) or bind (grant a role one does not hold): bypasses RBAC escalation prevention.",
  maxSeverity: 'critical',
  evaluate(ctx) {
    // Through a RoleBinding, bind on clusterroles lets one bind a ClusterRole within the namespace;
    // escalate on clusterroles is meaningless there (ClusterRoles are cluster-scoped).
    const wants: Want[] =
      ctx.scope === '*'
        ? [{ apiGroups: RBAC_GROUP, resources: ['roles', 'clusterroles'], verbs: ['escalate', 'bind'] }]
        : [
            { apiGroups: RBAC_GROUP, resources: ['roles', 'clusterroles'], verbs: ['bind'] },
            { apiGroups: RBAC_GROUP, resources: ['roles'], verbs: ['escalate'] },
          ];
    return hits(ctx, wants, (m) => {
      if (m.resourceNames) return m.resourceNames.some((n) => n === 'cluster-admin' || n === 'admin') ? 'high' : 'medium';
      return byScope(ctx.scope, 'critical', 'critical', 'high');
    });
  },
};

const SA_TOKEN_CREATE: RbacCheck = {
  id: 'rbac.sa-token-create',
  title: 'Create service account tokens',
  description: 'create on serviceaccounts/token: mint a token for a service account and act as it.',
  maxSeverity: 'high',
  evaluate: (ctx) =>
    hits(ctx, [{ apiGroups: CORE, resources: ['serviceaccounts/token'], verbs: ['create'] }], (m) =>
      m.resourceNames ? (ctx.scope === '*' || ctx.scope === 'kube-system' ? 'medium' : 'low') : byScope(ctx.scope, 'high', 'high', 'medium'),
    ),
};

const ROLEBINDING_MODIFY: RbacCheck = {
  id: 'rbac.rolebinding-modify',
  title: 'Create or change role bindings',
  description:
    'create/update/patch on rolebindings or clusterrolebindings: grant roles to any subject (limited by escalation prevention to roles one holds, unless combined with bind).',
  maxSeverity: 'high',
  evaluate(ctx) {
    const resources = ctx.scope === '*' ? ['clusterrolebindings', 'rolebindings'] : ['rolebindings'];
    return hits(ctx, [{ apiGroups: RBAC_GROUP, resources, verbs: ['create', 'update', 'patch'] }], (m) => {
      if (m.resourceNames) return 'low';
      if (m.resources.includes('clusterrolebindings')) return 'high';
      return byScope(ctx.scope, 'medium', 'medium', 'low');
    });
  },
};

const WEBHOOK_MODIFY: RbacCheck = {
  id: 'rbac.webhook-modify',
  title: 'Modify admission webhooks and policies',
  description:
    'create/update/patch/delete on mutating/validating webhook configurations or admission policies: inject into or see every object sent to the API server, or remove admission controls.',
  maxSeverity: 'high',
  evaluate(ctx) {
    if (ctx.scope !== '*') return [];
    return hits(
      ctx,
      [
        {
          apiGroups: ['admissionregistration.k8s.io'],
          resources: [
            'mutatingwebhookconfigurations',
            'validatingwebhookconfigurations',
            'mutatingadmissionpolicies',
            'mutatingadmissionpolicybindings',
            'validatingadmissionpolicies',
            'validatingadmissionpolicybindings',
          ],
          verbs: ['create', 'update', 'patch', 'delete'],
        },
      ],
      (m) => {
        if (m.resourceNames) return 'medium';
        const writes = m.verbs.some((v) => v !== 'delete');
        return writes && m.resources.includes('mutatingwebhookconfigurations') ? 'high' : 'medium';
      },
    );
  },
};

const NODE_PROXY: RbacCheck = {
  id: 'rbac.node-proxy',
  title: 'Proxy to kubelets (nodes/proxy)',
  description: 'nodes/proxy reaches the kubelet API of every node: exec into any pod on the node, read logs, bypassing pod-level RBAC and audit of the exec.',
  maxSeverity: 'high',
  evaluate(ctx) {
    if (ctx.scope !== '*') return [];
    return hits(ctx, [{ apiGroups: CORE, resources: ['nodes/proxy'], verbs: ['get', 'create', 'update', 'patch', 'delete'] }], (m) =>
      m.resourceNames ? 'medium' : m.verbs.includes('get') || m.verbs.includes('create') ? 'high' : 'medium',
    );
  },
};

const CSR_APPROVE: RbacCheck = {
  id: 'rbac.csr-approve',
  title: 'Approve certificate signing requests',
  description:
    'update on certificatesigningrequests/approval together with approve on signers: issue client certificates, e.g. for a member of system:masters through the kube-apiserver-client signer (critical), or node identities.',
  maxSeverity: 'critical',
  combine: true,
  evaluate(ctx) {
    if (ctx.scope !== '*') return [];
    const approval = hits(ctx, [{ apiGroups: ['certificates.k8s.io'], resources: ['certificatesigningrequests/approval'], verbs: ['update', 'patch'] }], (m) =>
      m.resourceNames ? 'medium' : 'high',
    );
    const powerful = (names: readonly string[] | undefined) => !names || names.some((n) => n === 'kubernetes.io/kube-apiserver-client' || n === 'kubernetes.io/*' || n === '*');
    const signers = hits(ctx, [{ apiGroups: ['certificates.k8s.io'], resources: ['signers'], verbs: ['approve'] }], (m) => (powerful(m.resourceNames) ? 'critical' : 'high'));
    if (approval.length === 0 || signers.length === 0) return [];
    // Approval limited to named CSRs caps what the signer right is worth.
    const approvalLimited = approval.every((h) => h.match.resourceNames);
    const signerSeverity = signers.reduce<Severity>((s, h) => maxSeverity(s, h.severity), 'info');
    const severity: Severity = approvalLimited ? 'medium' : signerSeverity;
    return [...approval, ...signers].map((h) => ({ ...h, severity }));
  },
};

const EVENTS_DELETE: RbacCheck = {
  id: 'rbac.events-delete',
  title: 'Delete events (cover tracks)',
  description: 'delete/deletecollection on events: remove the record of what happened in the cluster.',
  maxSeverity: 'medium',
  evaluate: (ctx) =>
    hits(ctx, [{ apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['delete', 'deletecollection'] }], (m) =>
      m.resourceNames ? 'info' : byScope(ctx.scope, 'medium', 'medium', 'low'),
    ),
};

/** Capability checks, in report order. */
const CHECKS: readonly RbacCheck[] = [
  CLUSTER_ADMIN,
  IMPERSONATE,
  ESCALATE_BIND,
  CSR_APPROVE,
  SECRETS_READ,
  POD_EXEC,
  WORKLOAD_CREATE,
  SA_TOKEN_CREATE,
  ROLEBINDING_MODIFY,
  WEBHOOK_MODIFY,
  NODE_PROXY,
  EVENTS_DELETE,
];

const PUBLIC_BINDING: RbacRuleInfo = {
  id: 'rbac.public-binding',
  title: 'Binding to anonymous / all (un)authenticated users',
  description:
    'A binding whose subject is system:anonymous, system:unauthenticated (anyone who can reach the API server) or system:authenticated (any identity, every service account included). Severity is that of the most dangerous capability the role grants (low when none).',
  maxSeverity: 'critical',
};

const DANGLING_BINDING: RbacRuleInfo = {
  id: 'rbac.dangling-binding',
  title: 'Binding to a role that does not exist',
  description:
    'The binding refers to a role absent from the input. Whoever later creates a role with that name grants it to the subjects; reported only when the input holds roles of that kind.',
  maxSeverity: 'low',
};

/** Every RBAC rule the analyzer reports. */
export const RBAC_RULES: readonly RbacRuleInfo[] = [...CHECKS, PUBLIC_BINDING, DANGLING_BINDING].map(({ id, title, description, maxSeverity }) => ({
  id,
  title,
  description,
  maxSeverity,
}));

export interface AnalyzeRbacOptions {
  /** The expected-bindings list (default EXPECTED_BINDINGS). */
  expected?: readonly ExpectedBinding[];
  /** Workloads listed per finding (default 50; workloadCount has the total). */
  workloadCap?: number;
  /**
   * Resource types that could not be read (e.g. 'clusterroles' after a 403): stated in the
   * notes, and dangling-binding findings are not reported for role kinds that were not visible.
   */
  unavailable?: readonly string[];
  /** Workloads known by reference only (in addition to those among the objects). */
  workloads?: readonly WorkloadRef[];
}

export interface RbacAnalysis {
  /** Every finding, expected ones included (marked). Sorted most severe first. */
  findings: RbacFinding[];
  notes: AnalysisNote[];
  model: RbacModel;
}

/** Analyze the RBAC objects (and workloads, for the service accounts they run as) of a set of objects. */
export function analyzeRbac(objects: readonly K8sObject[], options: AnalyzeRbacOptions = {}): RbacAnalysis {
  const model = buildRbacModel(objects, options.workloads);
  const expectedList = options.expected ?? EXPECTED_BINDINGS;
  const cap = options.workloadCap ?? 50;
  const unavailable = new Set(options.unavailable ?? []);
  const notes: AnalysisNote[] = [...model.notes];
  const findings: RbacFinding[] = [];

  for (const type of unavailable) {
    notes.push({ code: 'unavailable-type', message: `${type} could not be read: findings that depend on them are missing` });
  }
  if (model.bindings.length === 0) {
    notes.push({ code: 'no-bindings', message: 'no RoleBindings or ClusterRoleBindings in the input: no RBAC finding can be made' });
  }
  const missingRoles = new Set<string>();

  const seen = new Set<string>();
  for (const binding of model.bindings) {
    const rules = model.rulesFor(binding);
    const scope = binding.kind === 'ClusterRoleBinding' ? '*' : (binding.namespace ?? 'default');
    const roleKind = binding.roleRef.kind === 'Role' ? 'Role' : 'ClusterRole';
    const basePath = {
      bindingKind: binding.kind,
      bindingName: binding.name,
      ...(binding.namespace ? { bindingNamespace: binding.namespace } : {}),
      roleKind,
      roleName: binding.roleRef.name,
    } as const;

    if (!rules) {
      const roleKey = `${roleKind} ${roleKind === 'Role' ? `${binding.namespace}/` : ''}${binding.roleRef.name}`;
      const invalid = binding.kind === 'ClusterRoleBinding' && binding.roleRef.kind !== 'ClusterRole';
      const visible = roleKind === 'Role' ? model.roles.size > 0 && !unavailable.has('roles') : model.clusterRoles.size > 0 && !unavailable.has('clusterroles');
      if (!missingRoles.has(roleKey)) {
        missingRoles.add(roleKey);
        notes.push({
          code: 'missing-role',
          message: `${bindingText(binding)} refers to ${invalid ? 'invalid ' : ''}${roleKey}, which is not in the input: its grants are unknown`,
        });
      }
      if (!visible || invalid) continue;
      for (const subject of dedupeSubjects(binding.subjects)) {
        const path: GrantPath = { ...basePath, ruleIndexes: [] };
        findings.push(
          finding(
            binding,
            DANGLING_BINDING,
            'low',
            subject,
            path,
            scope,
            emptyMatch(),
            `${bindingText(binding)} grants ${roleKey}, which does not exist`,
            model,
            cap,
            expectedList,
          ),
        );
      }
      continue;
    }

    const ctx: CheckContext = { scope, rules };
    const results = CHECKS.map((check) => ({ check, hits: check.evaluate(ctx) })).filter((r) => r.hits.length > 0);
    const adminHits = results.find((r) => r.check === CLUSTER_ADMIN)?.hits.filter((h) => !h.match.resourceNames) ?? [];
    // Full admin implies every other capability: reporting each again would bury the finding.
    const reported = adminHits.length > 0 ? results.filter((r) => r.check === CLUSTER_ADMIN) : results;
    const roleSeverity = results.reduce<Severity | undefined>((s, r) => r.hits.reduce<Severity | undefined>((t, h) => (t ? maxSeverity(t, h.severity) : h.severity), s), undefined);

    for (const subject of dedupeSubjects(binding.subjects)) {
      const key = `${bindingText(binding)}|${subjectKey(subject)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      for (const { check, hits: checkHits } of reported) {
        for (const group of groupHits(checkHits, check.combine === true)) {
          const severity = group.reduce<Severity>((s, h) => maxSeverity(s, h.severity), 'info');
          const match = mergeMatches(group.map((h) => h.match));
          const first = group[0]!;
          const path: GrantPath = {
            ...basePath,
            ...(first.eff.aggregatedFrom ? { aggregatedFrom: first.eff.aggregatedFrom } : {}),
            ruleIndexes: [...new Set(group.filter((h) => sameChain(h.eff, first.eff)).map((h) => h.eff.ruleIndex))].sort((a, b) => a - b),
          };
          const details = describeHits(check, group, scope, rules, adminHits.length > 0);
          findings.push(finding(binding, check, severity, subject, path, scope, match, details, model, cap, expectedList));
        }
      }
      const audience = publicSubjectAudience(subject);
      if (audience) {
        const severity = roleSeverity ?? 'low';
        // The whole role is the grant here: no single rule index.
        const path: GrantPath = { ...basePath, ruleIndexes: [] };
        const what = roleSeverity ? `grants capabilities up to ${roleSeverity}` : 'grants no capability this analyzer rates';
        const who =
          audience === 'authenticated'
            ? 'every authenticated identity, all service accounts included'
            : audience === 'unauthenticated'
              ? 'anyone who can reach the API server without credentials'
              : 'anonymous requests';
        findings.push(
          finding(
            binding,
            PUBLIC_BINDING,
            severity,
            subject,
            path,
            scope,
            mergeMatches(results.flatMap((r) => r.hits.map((h) => h.match))),
            `${bindingText(binding)} binds ${roleKind} ${binding.roleRef.name} to ${subjectText(subject)} (${who}); the role ${what}`,
            model,
            cap,
            expectedList,
          ),
        );
      }
    }
  }

  findings.sort(compareFindings);
  return { findings, notes, model };
}

function finding(
  binding: BindingInfo,
  rule: RbacRuleInfo,
  severity: Severity,
  subject: SubjectRef,
  grant: GrantPath,
  scopeNamespace: string,
  match: RuleMatch,
  details: string,
  model: RbacModel,
  cap: number,
  expectedList: readonly ExpectedBinding[],
): RbacFinding {
  const expected = findExpected(rule.id, severity, subject, grant, expectedList);
  const workloads = subjectCoversServiceAccounts(subject) ? model.workloads.filter((w) => subjectCoversServiceAccount(subject, w.namespace, w.serviceAccount)) : [];
  return {
    type: 'rbac',
    ruleId: rule.id,
    severity,
    title: rule.title,
    description: rule.description,
    subject,
    grant,
    scopeNamespace,
    verbs: match.verbs,
    resources: match.resources,
    apiGroups: match.apiGroups,
    ...(match.resourceNames ? { resourceNames: match.resourceNames } : {}),
    expected: expected !== undefined,
    ...(expected ? { expectedReason: expected.why } : {}),
    workloads: workloads.slice(0, cap),
    workloadCount: workloads.length,
    details,
    ...(binding.createdAt ? { createdAt: binding.createdAt } : {}),
  };
}

function emptyMatch(): RuleMatch {
  return { verbs: [], resources: [], apiGroups: [] };
}

function chainKey(eff: EffectiveRule): string {
  return (eff.aggregatedFrom ?? []).join('>') || eff.declaredBy;
}

function sameChain(a: EffectiveRule, b: EffectiveRule): boolean {
  return chainKey(a) === chainKey(b);
}

/** Hits grouped by the role chain that grants them (one finding each), or all together. */
function groupHits(all: readonly Hit[], combine: boolean): Hit[][] {
  const sorted = [...all].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  if (combine) return [sorted];
  const groups = new Map<string, Hit[]>();
  for (const hit of sorted) {
    const key = chainKey(hit.eff);
    const group = groups.get(key);
    if (group) group.push(hit);
    else groups.set(key, [hit]);
  }
  return [...groups.values()];
}

function mergeMatches(matches: readonly RuleMatch[]): RuleMatch {
  const union = (pick: (m: RuleMatch) => readonly string[]) => [...new Set(matches.flatMap(pick))];
  const limited = matches.length > 0 && matches.every((m) => m.resourceNames);
  return {
    verbs: union((m) => m.verbs),
    resources: union((m) => m.resources),
    apiGroups: union((m) => m.apiGroups),
    ...(limited ? { resourceNames: union((m) => m.resourceNames ?? []) } : {}),
  };
}

function describeHits(check: RbacCheck, group: readonly Hit[], scope: string, rules: readonly EffectiveRule[], isAdmin: boolean): string {
  const where = scope === '*' ? 'cluster-wide' : `in namespace ${scope}`;
  const parts = group.map((h) => {
    const from = h.eff.aggregatedFrom ? ` (aggregated from ${h.eff.aggregatedFrom.join(' > ')})` : '';
    const names = h.match.resourceNames ? ` limited to resourceNames [${h.match.resourceNames.join(', ')}]` : '';
    const stale = h.eff.notFromAggregation ? " (in the aggregated role's own rules, not produced by aggregation)" : '';
    const note = h.note ? ` — ${h.note}` : '';
    return `${h.eff.declaredBy} rule ${h.eff.ruleIndex}${from}: ${h.match.verbs.join(',')} on ${h.match.resources.join(',')}${names}${stale}${note}`;
  });
  let text = `${where}: ${parts.join('; ')}`;
  if (check === CLUSTER_ADMIN && isAdmin) {
    const urls = rules.some((r) => matchNonResourceUrl(r.rule, 'get', '/') && (r.rule.nonResourceURLs ?? []).includes('*'));
    text +=
      scope === '*'
        ? `; implies every other rule${urls ? ", and nonResourceURLs '*' too" : ''}`
        : '; implies every other namespaced rule in this namespace (not cluster-scoped resources)';
  }
  return text;
}

function dedupeSubjects(subjects: readonly SubjectRef[]): SubjectRef[] {
  const seen = new Set<string>();
  return subjects.filter((s) => {
    const key = subjectKey(s);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

export function bindingText(binding: Pick<BindingInfo, 'kind' | 'name' | 'namespace'>): string {
  return `${binding.kind} ${binding.namespace ? `${binding.namespace}/` : ''}${binding.name}`;
}

/** "ClusterRoleBinding x → ClusterRole y [→ aggregated from z] → rule 0,2" */
export function grantPathText(grant: GrantPath): string {
  const binding = `${grant.bindingKind} ${grant.bindingNamespace ? `${grant.bindingNamespace}/` : ''}${grant.bindingName}`;
  const role = `${grant.roleKind} ${grant.roleKind === 'Role' && grant.bindingNamespace ? `${grant.bindingNamespace}/` : ''}${grant.roleName}`;
  const agg = grant.aggregatedFrom?.length ? ` → aggregated from ${grant.aggregatedFrom.join(' → ')}` : '';
  const rules = grant.ruleIndexes.length ? ` → rule ${grant.ruleIndexes.join(',')}` : '';
  return `${binding} → ${role}${agg}${rules}`;
}

function compareFindings(a: RbacFinding, b: RbacFinding): number {
  return (
    severityRank(b.severity) - severityRank(a.severity) ||
    a.ruleId.localeCompare(b.ruleId) ||
    subjectKey(a.subject).localeCompare(subjectKey(b.subject)) ||
    grantPathText(a.grant).localeCompare(grantPathText(b.grant))
  );
}
