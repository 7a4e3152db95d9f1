import { arr, obj, str } from '../util/values.js';

/**
 * Dangerous settings in a pod spec, as a pure function: the suspicious-pods source applies it
 * to Pods (prefix "spec"), the findings engine to workload templates ("spec.template.spec",
 * "spec.jobTemplate.spec.template.spec"). Every finding names the exact field that caused it.
 *
 * Severity, and why:
 *   high    a direct route to the node: privileged, hostPID, Windows HostProcess, host root or
 *           other sensitive host paths, container-runtime sockets, creation-capable hostPath,
 *           capabilities that break isolation (SYS_ADMIN, SYS_PTRACE, SYS_MODULE,
 *           DAC_READ_SEARCH, SYS_RAWIO, BPF, ALL)
 *   medium  weakens isolation or exposes node-level state: hostNetwork, hostIPC, other
 *           hostPath volumes, allowPrivilegeEscalation: true, NET_ADMIN, DAC_OVERRIDE,
 *           SYS_BOOT, PERFMON, SYS_RESOURCE, SYSLOG, MAC_ADMIN/MAC_OVERRIDE
 *   low     worth noting: NET_RAW (in the default set of most runtimes, so adding it is only
 *           a signal), MKNOD, SYS_CHROOT, SETFCAP, LINUX_IMMUTABLE, SYS_TIME
 */

export type Severity = 'high' | 'medium' | 'low';
export type ContainerType = 'container' | 'init' | 'ephemeral';

export type IssueType =
  | 'hostNetwork'
  | 'hostPID'
  | 'hostIPC'
  | 'privileged'
  | 'allowPrivilegeEscalation'
  | 'capability'
  | 'hostPath'
  | 'hostPath (creation-capable)'
  | 'runtimeSocket'
  | 'sensitiveHostPath';

export interface PodSpecFinding {
  issue_type: IssueType;
  severity: Severity;
  /** What triggered it, in words. */
  details: string;
  /** Exact field path under the prefix, e.g. spec.initContainers[0].securityContext.privileged. */
  field_path: string;
  /** Empty for pod-level findings. */
  container_name: string;
  container_type: ContainerType | '';
}

export interface AnalyzePodSpecOptions {
  /** Path of the pod spec inside its object: 'spec' for a Pod, 'spec.template.spec' for a Deployment. */
  objectPathPrefix: string;
}

/** Added capabilities worth a finding, with severity. Names without the CAP_ prefix. */
export const DANGEROUS_CAPABILITIES: Readonly<Record<string, Severity>> = {
  ALL: 'high',
  SYS_ADMIN: 'high',
  SYS_PTRACE: 'high',
  SYS_MODULE: 'high',
  DAC_READ_SEARCH: 'high',
  SYS_RAWIO: 'high',
  BPF: 'high',
  NET_ADMIN: 'medium',
  DAC_OVERRIDE: 'medium',
  SYS_BOOT: 'medium',
  PERFMON: 'medium',
  SYS_RESOURCE: 'medium',
  SYSLOG: 'medium',
  MAC_ADMIN: 'medium',
  MAC_OVERRIDE: 'medium',
  NET_RAW: 'low',
  MKNOD: 'low',
  SYS_CHROOT: 'low',
  SETFCAP: 'low',
  LINUX_IMMUTABLE: 'low',
  SYS_TIME: 'low',
};

/** Container-runtime sockets and directories holding them: whoever mounts one controls every container on the node. */
export const RUNTIME_SOCKET_PATTERNS: readonly RegExp[] = [
  /(^|\/)docker\.sock$/,
  /(^|\/)containerd\.sock$/,
  /(^|\/)crio\.sock$/,
  /(^|\/)cri-dockerd\.sock$/,
  /(^|\/)dockershim\.sock$/,
  /^\/(var\/)?run\/(docker|containerd|crio|cri-dockerd)$/,
  /^\/(var\/)?run\/containerd\/containerd\.sock\.ttrpc$/,
];

/**
 * Host paths whose exposure gives away the node or its secrets, with severity. A mount of one
 * of them, of something under one of them, or of a parent of one (mounting /var exposes
 * /var/run) is sensitive. /var/log is medium: log agents mount it routinely, yet node logs
 * can carry secrets.
 */
export const SENSITIVE_HOST_PATHS: Readonly<Record<string, Severity>> = {
  '/': 'high',
  '/etc': 'high',
  '/root': 'high',
  '/home': 'high',
  '/proc': 'high',
  '/sys': 'high',
  '/dev': 'high',
  '/boot': 'high',
  '/run': 'high',
  '/var/run': 'high',
  '/var/lib/kubelet': 'high',
  '/var/lib/docker': 'high',
  '/var/lib/containerd': 'high',
  '/etc/kubernetes': 'high',
  '/var/log': 'medium',
};

const CREATION_CAPABLE_HOSTPATH_TYPES = new Set(['DirectoryOrCreate', 'FileOrCreate']);

/** Normalize a host path: collapse "//", drop a trailing "/" and "." segments. */
export function normalizeHostPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  return `/${segments.join('/')}`;
}

/** The sensitive path a host path exposes (itself, an ancestor or a descendant) and its severity, or undefined. */
export function sensitiveHostPath(path: string): { path: string; severity: Severity } | undefined {
  const p = normalizeHostPath(path);
  const entries = Object.entries(SENSITIVE_HOST_PATHS);
  // The most specific match first: /var/lib/kubelet/pods is about /var/lib/kubelet, not /var.
  const under = entries.filter(([sensitive]) => p === sensitive || (sensitive !== '/' && p.startsWith(`${sensitive}/`))).sort((a, b) => b[0].length - a[0].length)[0];
  if (under) return { path: under[0], severity: under[1] };
  // A parent of sensitive paths exposes them all: report the most severe.
  const exposed = entries.filter(([sensitive]) => sensitive !== '/' && sensitive.startsWith(`${p}/`));
  const worst = exposed.find(([, severity]) => severity === 'high') ?? exposed[0];
  return worst ? { path: worst[0], severity: worst[1] } : undefined;
}

export function isRuntimeSocketPath(path: string): boolean {
  const p = normalizeHostPath(path);
  return RUNTIME_SOCKET_PATTERNS.some((re) => re.test(p));
}

function normalizeCapability(cap: string): string {
  return cap.trim().toUpperCase().replace(/^CAP_/, '');
}

/** Analyze one pod spec. Pure: no I/O, input untouched. */
export function analyzePodSpec(spec: unknown, options: AnalyzePodSpecOptions): PodSpecFinding[] {
  const s = obj(spec);
  const prefix = options.objectPathPrefix;
  const findings: PodSpecFinding[] = [];
  const pod = (issue_type: IssueType, severity: Severity, details: string, field: string): void => {
    findings.push({ issue_type, severity, details, field_path: `${prefix}.${field}`, container_name: '', container_type: '' });
  };

  if (s.hostNetwork === true)
    pod('hostNetwork', 'medium', 'hostNetwork: true: the pod uses the node network namespace (sees node traffic, reaches node-local services)', 'hostNetwork');
  if (s.hostPID === true) pod('hostPID', 'high', 'hostPID: true: the pod sees every process on the node (and with ptrace can enter them)', 'hostPID');
  if (s.hostIPC === true) pod('hostIPC', 'medium', 'hostIPC: true: the pod shares the node IPC namespace (shared memory of other processes)', 'hostIPC');
  const podWindows = obj(obj(s.securityContext).windowsOptions);
  if (podWindows.hostProcess === true) {
    pod('privileged', 'high', 'Windows HostProcess pod: containers run as processes on the node', 'securityContext.windowsOptions.hostProcess');
  }

  // Which containers mount each volume, for the hostPath details.
  const mountsByVolume = new Map<string, string[]>();
  const groups: [ContainerType, string][] = [
    ['container', 'containers'],
    ['init', 'initContainers'],
    ['ephemeral', 'ephemeralContainers'],
  ];
  for (const [, field] of groups) {
    for (const c of arr(s[field]).map(obj)) {
      for (const m of arr(c.volumeMounts).map(obj)) {
        const list = mountsByVolume.get(str(m.name)) ?? [];
        list.push(`${str(c.name)}:${str(m.mountPath)}${m.readOnly === true ? ' (ro)' : ''}`);
        mountsByVolume.set(str(m.name), list);
      }
    }
  }

  arr(s.volumes).forEach((volume, i) => {
    const v = obj(volume);
    if (v.hostPath === undefined) return;
    const hostPath = obj(v.hostPath);
    const path = str(hostPath.path);
    const type = str(hostPath.type);
    const mounts = mountsByVolume.get(str(v.name));
    const where = `volume "${str(v.name)}" → host ${path}${type ? ` (type ${type})` : ''}${mounts ? `, mounted by ${mounts.join(', ')}` : ', not mounted by any container'}`;
    if (CREATION_CAPABLE_HOSTPATH_TYPES.has(type)) {
      findings.push({
        issue_type: 'hostPath (creation-capable)',
        severity: 'high',
        details: `hostPath that creates the path on the node if missing: ${where}`,
        field_path: `${prefix}.volumes[${i}].hostPath.type`,
        container_name: '',
        container_type: '',
      });
    } else {
      pod('hostPath', 'medium', `hostPath volume: ${where}`, `volumes[${i}].hostPath.path`);
    }
    if (isRuntimeSocketPath(path)) {
      pod('runtimeSocket', 'high', `container-runtime socket mounted: controls every container on the node: ${where}`, `volumes[${i}].hostPath.path`);
    }
    const sensitive = sensitiveHostPath(path);
    if (sensitive !== undefined) {
      const normalized = normalizeHostPath(path);
      const relation = normalized === sensitive.path ? sensitive.path : `${sensitive.path} (via ${normalized})`;
      pod('sensitiveHostPath', sensitive.severity, `sensitive host path ${relation}: ${where}`, `volumes[${i}].hostPath.path`);
    }
  });

  for (const [type, field] of groups) {
    arr(s[field]).forEach((container, i) => {
      const c = obj(container);
      const name = str(c.name);
      const sc = obj(c.securityContext);
      const base = `${prefix}.${field}[${i}].securityContext`;
      const add = (issue_type: IssueType, severity: Severity, details: string, path: string): void => {
        findings.push({ issue_type, severity, details, field_path: path, container_name: name, container_type: type });
      };
      if (sc.privileged === true) add('privileged', 'high', 'privileged: true: all capabilities and all host devices', `${base}.privileged`);
      if (obj(sc.windowsOptions).hostProcess === true) {
        add('privileged', 'high', 'Windows HostProcess container: runs as a process on the node', `${base}.windowsOptions.hostProcess`);
      }
      if (sc.allowPrivilegeEscalation === true) {
        add(
          'allowPrivilegeEscalation',
          'medium',
          'allowPrivilegeEscalation: true set explicitly (setuid binaries can gain privileges). ' +
            'Unset also means true unless a policy forces false; only the explicit setting is reported.',
          `${base}.allowPrivilegeEscalation`,
        );
      }
      arr(obj(sc.capabilities).add).forEach((cap, j) => {
        const normalized = normalizeCapability(str(cap));
        const severity = DANGEROUS_CAPABILITIES[normalized];
        if (severity) add('capability', severity, `capability ${normalized} added`, `${base}.capabilities.add[${j}]`);
      });
    });
  }
  return findings;
}
