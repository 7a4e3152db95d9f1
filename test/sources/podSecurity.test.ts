import { analyzePodSpec, normalizeHostPath, sensitiveHostPath } from '../../shared/findings/podSecurity.js';

describe('analyzePodSpec', () => {
  test('a clean pod has no finding', () => {
    const spec = {
      containers: [{ name: 'app', image: 'nginx', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'], add: ['NET_BIND_SERVICE'] } } }],
      volumes: [{ name: 'cfg', configMap: { name: 'x' } }],
    };
    expect(analyzePodSpec(spec, { objectPathPrefix: 'spec' })).toEqual([]);
    expect(analyzePodSpec(undefined, { objectPathPrefix: 'spec' })).toEqual([]);
  });

  test('pod-level namespaces and every container type, with exact field paths', () => {
    const spec = {
      hostNetwork: true,
      hostPID: true,
      hostIPC: true,
      initContainers: [{ name: 'setup', securityContext: { privileged: true } }],
      containers: [{ name: 'ok' }, { name: 'esc', securityContext: { allowPrivilegeEscalation: true, capabilities: { add: ['NET_BIND_SERVICE', 'CAP_SYS_ADMIN', 'net_raw'] } } }],
      ephemeralContainers: [{ name: 'dbg', securityContext: { capabilities: { add: ['SYS_PTRACE'] } } }],
    };
    const findings = analyzePodSpec(spec, { objectPathPrefix: 'spec' });
    expect(findings.map((f) => [f.issue_type, f.severity, f.field_path, f.container_name, f.container_type])).toEqual([
      ['hostNetwork', 'medium', 'spec.hostNetwork', '', ''],
      ['hostPID', 'high', 'spec.hostPID', '', ''],
      ['hostIPC', 'medium', 'spec.hostIPC', '', ''],
      ['allowPrivilegeEscalation', 'medium', 'spec.containers[1].securityContext.allowPrivilegeEscalation', 'esc', 'container'],
      ['capability', 'high', 'spec.containers[1].securityContext.capabilities.add[1]', 'esc', 'container'],
      ['capability', 'low', 'spec.containers[1].securityContext.capabilities.add[2]', 'esc', 'container'],
      ['privileged', 'high', 'spec.initContainers[0].securityContext.privileged', 'setup', 'init'],
      ['capability', 'high', 'spec.ephemeralContainers[0].securityContext.capabilities.add[0]', 'dbg', 'ephemeral'],
    ]);
    expect(findings.find((f) => f.issue_type === 'allowPrivilegeEscalation')!.details).toMatch(/Unset also means true/);
    expect(findings.find((f) => f.field_path.endsWith('add[1]'))!.details).toBe('capability SYS_ADMIN added');
  });

  test('hostPath volumes: creation-capable, runtime sockets, sensitive paths, with the containers mounting them', () => {
    const spec = {
      containers: [
        {
          name: 'c',
          volumeMounts: [
            { name: 'root', mountPath: '/host' },
            { name: 'sock', mountPath: '/var/run/docker.sock', readOnly: true },
          ],
        },
      ],
      volumes: [
        { name: 'cfg', configMap: { name: 'x' } },
        { name: 'data', hostPath: { path: '/opt/data', type: 'DirectoryOrCreate' } },
        { name: 'root', hostPath: { path: '/' } },
        { name: 'sock', hostPath: { path: '/var/run/docker.sock', type: 'Socket' } },
        { name: 'cd', hostPath: { path: '/run/containerd/containerd.sock' } },
        { name: 'var', hostPath: { path: '/var/' } },
        { name: 'logs', hostPath: { path: '/var/log/pods' } },
      ],
    };
    const findings = analyzePodSpec(spec, { objectPathPrefix: 'spec' });
    expect(findings.map((f) => [f.issue_type, f.severity, f.field_path])).toEqual([
      ['hostPath (creation-capable)', 'high', 'spec.volumes[1].hostPath.type'],
      ['hostPath', 'medium', 'spec.volumes[2].hostPath.path'],
      ['sensitiveHostPath', 'high', 'spec.volumes[2].hostPath.path'],
      ['hostPath', 'medium', 'spec.volumes[3].hostPath.path'],
      ['runtimeSocket', 'high', 'spec.volumes[3].hostPath.path'],
      ['sensitiveHostPath', 'high', 'spec.volumes[3].hostPath.path'],
      ['hostPath', 'medium', 'spec.volumes[4].hostPath.path'],
      ['runtimeSocket', 'high', 'spec.volumes[4].hostPath.path'],
      ['sensitiveHostPath', 'high', 'spec.volumes[4].hostPath.path'],
      ['hostPath', 'medium', 'spec.volumes[5].hostPath.path'],
      ['sensitiveHostPath', 'high', 'spec.volumes[5].hostPath.path'],
      ['hostPath', 'medium', 'spec.volumes[6].hostPath.path'],
      ['sensitiveHostPath', 'medium', 'spec.volumes[6].hostPath.path'],
    ]);
    const root = findings.find((f) => f.issue_type === 'hostPath' && f.field_path === 'spec.volumes[2].hostPath.path')!;
    expect(root.details).toBe('hostPath volume: volume "root" → host /, mounted by c:/host');
    expect(findings[0]!.details).toContain('not mounted by any container');
    expect(findings[4]!.details).toContain('c:/var/run/docker.sock (ro)');
    expect(findings[10]!.details).toContain('sensitive host path /var/run (via /var)');
  });

  test('prefixes for workload templates and Windows HostProcess', () => {
    const spec = { securityContext: { windowsOptions: { hostProcess: true } }, containers: [{ name: 'w', securityContext: { windowsOptions: { hostProcess: true } } }] };
    const findings = analyzePodSpec(spec, { objectPathPrefix: 'spec.template.spec' });
    expect(findings.map((f) => [f.issue_type, f.field_path])).toEqual([
      ['privileged', 'spec.template.spec.securityContext.windowsOptions.hostProcess'],
      ['privileged', 'spec.template.spec.containers[0].securityContext.windowsOptions.hostProcess'],
    ]);
  });

  test('host path normalization and the sensitive path a mount exposes', () => {
    expect(normalizeHostPath('//etc/./kubernetes/')).toBe('/etc/kubernetes');
    expect(normalizeHostPath('/var/lib/../run')).toBe('/var/run');
    expect(sensitiveHostPath('/etc/kubernetes/pki')).toEqual({ path: '/etc/kubernetes', severity: 'high' });
    expect(sensitiveHostPath('/var/lib/kubelet/pods')).toEqual({ path: '/var/lib/kubelet', severity: 'high' });
    expect(sensitiveHostPath('/var/lib')).toEqual({ path: '/var/lib/kubelet', severity: 'high' });
    expect(sensitiveHostPath('/opt/app')).toBeUndefined();
    expect(sensitiveHostPath('/etcetera')).toBeUndefined();
  });
});
