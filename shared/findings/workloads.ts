import { analyzePodSpec, type IssueType } from './podSecurity.js';
import { controllerOwner, podSpecOf, serviceAccountOf } from './podTemplates.js';
import { severityRank, type AnalysisNote, type ContainerType, type K8sObject, type Severity, type WorkloadFinding } from './types.js';
import { appendAll } from '../util/arrays.js';

/**
 * Dangerous workloads: the suspicious-pod checks (shared/sources/podSecurity.ts, reused as is)
 * applied to every kind that carries a pod spec, plus root user settings, download-and-execute
 * or reverse-shell commands, and images from registries outside an allow-list.
 */

export interface WorkloadRuleInfo {
  id: string;
  title: string;
  description: string;
  maxSeverity: Severity;
}

const POD_SECURITY_RULES: Record<IssueType, WorkloadRuleInfo> = {
  hostNetwork: { id: 'workload.host-network', title: 'Host network namespace', description: 'hostNetwork: true — the pod uses the node network namespace.', maxSeverity: 'medium' },
  hostPID: { id: 'workload.host-pid', title: 'Host PID namespace', description: 'hostPID: true — the pod sees every process of the node.', maxSeverity: 'high' },
  hostIPC: { id: 'workload.host-ipc', title: 'Host IPC namespace', description: 'hostIPC: true — the pod shares the node IPC namespace.', maxSeverity: 'medium' },
  privileged: {
    id: 'workload.privileged',
    title: 'Privileged container',
    description: 'privileged: true (or a Windows HostProcess pod): all capabilities and host devices; a node escape away.',
    maxSeverity: 'high',
  },
  allowPrivilegeEscalation: {
    id: 'workload.allow-privilege-escalation',
    title: 'Privilege escalation allowed',
    description: 'allowPrivilegeEscalation: true set explicitly.',
    maxSeverity: 'medium',
  },
  capability: {
    id: 'workload.dangerous-capability',
    title: 'Dangerous capability added',
    description: 'A Linux capability that weakens isolation (SYS_ADMIN, SYS_PTRACE, NET_ADMIN, ...).',
    maxSeverity: 'high',
  },
  hostPath: { id: 'workload.host-path', title: 'hostPath volume', description: 'A directory or file of the node mounted into the pod.', maxSeverity: 'medium' },
  'hostPath (creation-capable)': {
    id: 'workload.host-path-creation',
    title: 'hostPath volume that creates host paths',
    description: 'hostPath of type DirectoryOrCreate/FileOrCreate: writes to the node filesystem.',
    maxSeverity: 'high',
  },
  runtimeSocket: {
    id: 'workload.runtime-socket',
    title: 'Container runtime socket mounted',
    description: 'docker/containerd/CRI-O socket: control of every container on the node.',
    maxSeverity: 'high',
  },
  sensitiveHostPath: {
    id: 'workload.sensitive-host-path',
    title: 'Sensitive host path mounted',
    description: 'The node root, /etc, /proc, /var/lib/kubelet or similar mounted into the pod.',
    maxSeverity: 'high',
  },
};

const RUN_AS_ROOT: WorkloadRuleInfo = {
  id: 'workload.run-as-root',
  title: 'Runs as root',
  description: 'runAsUser: 0 or runAsNonRoot: false set explicitly (root inside the container makes escapes easier).',
  maxSeverity: 'low',
};

const SUSPICIOUS_COMMAND: WorkloadRuleInfo = {
  id: 'workload.suspicious-command',
  title: 'Suspicious command',
  description: 'A container command that downloads and runs code (curl|wget … | sh), decodes and runs base64, opens a reverse shell, or runs a crypto miner.',
  maxSeverity: 'medium',
};

const UNTRUSTED_REGISTRY: WorkloadRuleInfo = {
  id: 'workload.untrusted-registry',
  title: 'Image from a registry outside the allow-list',
  description: 'The image is pulled from a registry not in the allow-list (option allowedRegistries).',
  maxSeverity: 'medium',
};

export const WORKLOAD_RULES: readonly WorkloadRuleInfo[] = [...Object.values(POD_SECURITY_RULES), RUN_AS_ROOT, SUSPICIOUS_COMMAND, UNTRUSTED_REGISTRY];

/**
 * Registries trusted unless the caller gives its own list: Microsoft, Azure Container Registry,
 * the Kubernetes project, and the large public registries. '*.' matches any subdomain.
 */
export const DEFAULT_ALLOWED_REGISTRIES: readonly string[] = [
  'mcr.microsoft.com',
  '*.azurecr.io',
  'registry.k8s.io',
  'k8s.gcr.io',
  'gcr.io',
  'docker.io',
  'ghcr.io',
  'quay.io',
  'public.ecr.aws',
];

export interface AnalyzeWorkloadsOptions {
  /** Registry allow-list ('*.example.com' = any subdomain); false disables the check. Default DEFAULT_ALLOWED_REGISTRIES. */
  allowedRegistries?: readonly string[] | false;
}

export interface WorkloadAnalysis {
  findings: WorkloadFinding[];
  notes: AnalysisNote[];
  /** Workload objects analyzed, by kind. */
  analyzed: Record<string, number>;
}

/** Patterns of commands worth a look, with what they mean. */
const COMMAND_PATTERNS: readonly { re: RegExp; what: string }[] = [
  { re: /\b(curl|wget|fetch)\b[^|;&]*\|\s*(sudo\s+)?(\/\S*\/)?(ba|da|z|k|a)?sh\b/, what: 'download piped into a shell' },
  { re: /\b(curl|wget)\b[^;&|]*(-o|-O|--output)\s*\S+\s*(;|&&)\s*(chmod\s+\+?[0-7x]+\s+\S+\s*(;|&&)\s*)?(\.\/|\/tmp\/|sh\s)/, what: 'download then execute' },
  { re: /\bbase64\s+(-d|--decode|-D)\b[^;&]*\|\s*(sudo\s+)?(\/\S*\/)?(ba|da|z|k|a)?sh\b/, what: 'base64-decoded script piped into a shell' },
  { re: /\/dev\/(tcp|udp)\/[^\s/]+\/\d+/, what: 'reverse shell through /dev/tcp' },
  { re: /\b(nc|ncat|netcat)\b[^|;&]*\s-(e|c)\s/, what: 'netcat with command execution (reverse shell)' },
  { re: /\b(xmrig|minerd|cpuminer|stratum\+tcp:\/\/|cryptonight)/i, what: 'crypto miner' },
];

/** Analyze every workload object (Pod, Deployment, DaemonSet, StatefulSet, ReplicaSet, Job, CronJob, ReplicationController, PodTemplate). */
export function analyzeWorkloads(objects: readonly K8sObject[], options: AnalyzeWorkloadsOptions = {}): WorkloadAnalysis {
  const allowed = options.allowedRegistries === false ? undefined : (options.allowedRegistries ?? DEFAULT_ALLOWED_REGISTRIES);
  const findings: WorkloadFinding[] = [];
  const analyzed: Record<string, number> = {};
  for (const object of objects) {
    const location = podSpecOf(object);
    if (!location) continue;
    analyzed[object.kind] = (analyzed[object.kind] ?? 0) + 1;
    appendAll(findings, analyzeWorkloadObject(object, location.spec, location.prefix, allowed));
  }
  const notes: AnalysisNote[] = [];
  if (Object.keys(analyzed).length === 0)
    notes.push({ code: 'no-workloads', message: 'no workload objects (pods, deployments, ...) in the input: no workload finding can be made' });
  findings.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.namespace.localeCompare(b.namespace) ||
      a.kind.localeCompare(b.kind) ||
      a.name.localeCompare(b.name) ||
      a.fieldPath.localeCompare(b.fieldPath),
  );
  return { findings, notes, analyzed };
}

function analyzeWorkloadObject(object: K8sObject, spec: Record<string, unknown>, prefix: string, allowed: readonly string[] | undefined): WorkloadFinding[] {
  const serviceAccount = serviceAccountOf(spec);
  const owner = controllerOwner(object);
  const base = {
    type: 'workload' as const,
    kind: object.kind,
    namespace: object.metadata.namespace ?? 'default',
    name: object.metadata.name,
    ...(object.metadata.uid ? { uid: object.metadata.uid } : {}),
    serviceAccount,
    ...(owner ? { owner } : {}),
    ...(object.metadata.creationTimestamp ? { createdAt: String(object.metadata.creationTimestamp) } : {}),
  };
  const out: WorkloadFinding[] = [];
  const push = (rule: WorkloadRuleInfo, severity: Severity, fieldPath: string, details: string, container?: { name: string; type: ContainerType }) => {
    out.push({
      ...base,
      ruleId: rule.id,
      severity,
      title: rule.title,
      fieldPath,
      details,
      ...(container ? { containerName: container.name, containerType: container.type } : {}),
    });
  };

  for (const f of analyzePodSpec(spec, { objectPathPrefix: prefix })) {
    const container = f.container_type ? { name: f.container_name, type: f.container_type } : undefined;
    push(POD_SECURITY_RULES[f.issue_type], f.severity, f.field_path, f.details, container);
  }

  const podSc = record(spec.securityContext);
  if (podSc.runAsUser === 0) push(RUN_AS_ROOT, 'low', `${prefix}.securityContext.runAsUser`, 'runAsUser: 0 for the pod (containers run as root unless they override it)');
  if (podSc.runAsNonRoot === false) push(RUN_AS_ROOT, 'low', `${prefix}.securityContext.runAsNonRoot`, 'runAsNonRoot: false set explicitly for the pod');

  const groups: [ContainerType, string][] = [
    ['container', 'containers'],
    ['init', 'initContainers'],
    ['ephemeral', 'ephemeralContainers'],
  ];
  for (const [type, field] of groups) {
    const containers = Array.isArray(spec[field]) ? (spec[field] as unknown[]) : [];
    containers.forEach((raw, i) => {
      const c = record(raw);
      const container = { name: typeof c.name === 'string' ? c.name : '', type };
      const path = `${prefix}.${field}[${i}]`;
      const sc = record(c.securityContext);
      if (sc.runAsUser === 0) push(RUN_AS_ROOT, 'low', `${path}.securityContext.runAsUser`, 'runAsUser: 0: the container runs as root', container);
      if (sc.runAsNonRoot === false) push(RUN_AS_ROOT, 'low', `${path}.securityContext.runAsNonRoot`, 'runAsNonRoot: false set explicitly', container);

      const command = suspiciousCommand(c, path);
      if (command) push(SUSPICIOUS_COMMAND, 'medium', command.fieldPath, `${command.what}: ${clip(command.text)}`, container);

      if (allowed && typeof c.image === 'string' && c.image !== '') {
        const registry = imageRegistry(c.image);
        if (!registryAllowed(registry, allowed)) {
          push(UNTRUSTED_REGISTRY, 'medium', `${path}.image`, `image ${c.image} comes from registry ${registry}, not in the allow-list (${allowed.join(', ')})`, container);
        }
      }
    });
  }
  return out;
}

function suspiciousCommand(container: Record<string, unknown>, path: string): { fieldPath: string; what: string; text: string } | undefined {
  const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : []);
  const command = strings(container.command);
  const args = strings(container.args);
  const check = (text: string) => COMMAND_PATTERNS.find((p) => p.re.test(text));
  // The element that says it, when one does; else the whole command line.
  for (const [field, list] of [
    ['command', command],
    ['args', args],
  ] as const) {
    for (let i = 0; i < list.length; i++) {
      const hit = check(list[i]!);
      if (hit) return { fieldPath: `${path}.${field}[${i}]`, what: hit.what, text: list[i]! };
    }
  }
  const joined = [...command, ...args].join(' ');
  const hit = check(joined);
  if (hit) return { fieldPath: `${path}.${command.length > 0 ? 'command' : 'args'}`, what: hit.what, text: joined };
  return undefined;
}

/** The registry host of an image reference (docker.io when the reference names none). */
export function imageRegistry(image: string): string {
  const ref = image.trim();
  const slash = ref.indexOf('/');
  if (slash < 0) return 'docker.io';
  const first = ref.slice(0, slash);
  if (first.includes('.') || first.includes(':') || first === 'localhost') return first.toLowerCase();
  return 'docker.io';
}

export function registryAllowed(registry: string, allowed: readonly string[]): boolean {
  const host = registry === 'index.docker.io' || registry === 'registry-1.docker.io' ? 'docker.io' : registry;
  return allowed.some((entry) => {
    const e = entry.trim().toLowerCase();
    if (e.startsWith('*.')) return host.endsWith(e.slice(1)) && host.length > e.length - 1;
    return host === e;
  });
}

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function clip(text: string, max = 200): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
