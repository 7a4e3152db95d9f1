import { anyPodSpecOf } from '../../findings/podTemplates.js';
import { arr, firstTime, obj, str } from '../../util/values.js';
import { redactedMapJson } from '../../util/valueRedaction.js';
import type { Row } from '../types.js';
import { streamFor, type DiscoveredType } from './discovery.js';

/** The snapshot's row of an object: what an investigator filters on; the object itself is in the raw artifact. */

interface PodSpecLike {
  containers?: { name?: string; image?: string; command?: string[]; args?: string[]; securityContext?: { privileged?: boolean; capabilities?: { add?: string[] } } }[];
  initContainers?: PodSpecLike['containers'];
  ephemeralContainers?: PodSpecLike['containers'];
  serviceAccountName?: string;
  serviceAccount?: string;
  nodeName?: string;
  hostNetwork?: boolean;
  hostPID?: boolean;
  hostIPC?: boolean;
  volumes?: { hostPath?: { path?: string } }[];
}

function allContainers(ps: PodSpecLike): NonNullable<PodSpecLike['containers']> {
  return [...(ps.initContainers ?? []), ...(ps.containers ?? []), ...(ps.ephemeralContainers ?? [])];
}

function securityFlags(ps: PodSpecLike): string {
  const flags: string[] = [];
  if (ps.hostNetwork) flags.push('hostNetwork');
  if (ps.hostPID) flags.push('hostPID');
  if (ps.hostIPC) flags.push('hostIPC');
  const containers = allContainers(ps);
  if (containers.some((c) => c.securityContext?.privileged === true)) flags.push('privileged');
  for (const v of ps.volumes ?? []) if (v.hostPath?.path !== undefined) flags.push(`hostPath:${v.hostPath.path}`);
  const caps = new Set(containers.flatMap((c) => c.securityContext?.capabilities?.add ?? []));
  for (const cap of caps) flags.push(`cap:${cap}`);
  return flags.join(',');
}

function webhookTargets(object: Record<string, unknown>): string[] {
  return arr(object['webhooks']).map((w) => {
    const hook = obj(w);
    const cc = obj(hook['clientConfig']);
    const svc = obj(cc['service']);
    const target = typeof cc['url'] === 'string' ? `url:${cc['url']}` : `service:${str(svc['namespace'])}/${str(svc['name'])}:${str(svc['port'] ?? 443)}${str(svc['path'])}`;
    return `${str(hook['name'])} ${target} failurePolicy=${str(hook['failurePolicy'] ?? 'Fail')}`;
  });
}

function conditionStatus(object: Record<string, unknown>, type: string): string | undefined {
  const c = arr(obj(object['status'])['conditions'])
    .map(obj)
    .find((x) => x['type'] === type);
  return c ? str(c['status']) : undefined;
}

function kindDetail(object: Record<string, unknown>, ps: PodSpecLike | undefined): string {
  const spec = obj(object['spec']);
  const status = obj(object['status']);
  switch (object['kind']) {
    case 'CronJob': {
      const first = ps?.containers?.[0];
      const cmd = first ? [...(first.command ?? []), ...(first.args ?? [])].join(' ') : '';
      return `schedule "${str(spec['schedule'])}"${spec['suspend'] === true ? ' (suspended)' : ''}${cmd ? `: ${cmd}` : ''}`;
    }
    case 'APIService': {
      const svc = obj(spec['service']);
      const available = conditionStatus(object, 'Available');
      const target = spec['service'] ? `service ${str(svc['namespace'])}/${str(svc['name'])}:${str(svc['port'] ?? 443)}` : 'Local';
      return `${str(spec['group']) || 'core'}/${str(spec['version'])} → ${target}${available ? ` (Available=${available})` : ''}${spec['insecureSkipTLSVerify'] === true ? ' insecureSkipTLSVerify' : ''}`;
    }
    case 'CustomResourceDefinition':
      return `${str(spec['group'])} ${str(obj(spec['names'])['kind'])} (${str(spec['scope'])})`;
    case 'Service': {
      const ingress = arr(obj(status['loadBalancer'])['ingress']).map((i) => str(obj(i)['ip'] ?? obj(i)['hostname']));
      return `${str(spec['type'] ?? 'ClusterIP')} ${str(spec['clusterIP'])}${ingress.length ? ` external ${ingress.join(',')}` : ''}`;
    }
    case 'ClusterRole':
    case 'Role': {
      const agg = obj(object['aggregationRule']);
      const selectors = arr(agg['clusterRoleSelectors']).map((s) => JSON.stringify(obj(s)['matchLabels'] ?? s));
      return `${arr(object['rules']).length} rules${selectors.length ? `, aggregates ${selectors.join(' ')}` : ''}`;
    }
    case 'Node': {
      const info = obj(status['nodeInfo']);
      return `${str(info['kubeletVersion'])} ${str(info['osImage'])}`.trim();
    }
    case 'Job': {
      return `succeeded ${str(status['succeeded'] ?? 0)}, failed ${str(status['failed'] ?? 0)}`;
    }
    default:
      return '';
  }
}

function ownerOf(metadata: Record<string, unknown>): { kind: string; name: string } {
  const owners = arr(metadata['ownerReferences']).map(obj);
  const o = owners.find((x) => x['controller'] === true) ?? owners[0];
  return o ? { kind: str(o['kind']), name: str(o['name']) } : { kind: '', name: '' };
}

/** The snapshot row of one object (already value-safe). */
export function snapshotRow(
  object: Record<string, unknown>,
  type: DiscoveredType,
  collectedAt: string,
  extra: { secretType?: string; dataKeys?: string[]; valueHandling?: string } = {},
): Row {
  const metadata = obj(object['metadata']);
  const kindObject = { ...object, kind: type.kind };
  const ps = anyPodSpecOf(kindObject) as PodSpecLike | undefined;
  const spec = obj(object['spec']);
  const owner = ownerOf(metadata);
  const roleRef = obj(object['roleRef']);
  const isBinding = type.kind === 'RoleBinding' || type.kind === 'ClusterRoleBinding';
  const namespace = str(metadata['namespace']);
  const name = str(metadata['name']);
  const detail = kindDetail(kindObject, ps);
  const created = firstTime(metadata['creationTimestamp']);
  const images = ps
    ? [
        ...new Set(
          allContainers(ps)
            .map((c) => str(c.image))
            .filter(Boolean),
        ),
      ]
    : [];
  const row: Row = {
    TimeGenerated: created ?? collectedAt,
    kind: type.kind,
    api_group: type.group,
    api_version: type.version,
    object_resource: type.resource,
    namespace,
    name,
    uid: str(metadata['uid']),
    creation_time: created ?? null,
    resource_version: str(metadata['resourceVersion']),
    owner_kind: owner.kind,
    owner_name: owner.name,
    labels: redactedMapJson(metadata['labels']),
    images: JSON.stringify(images),
    service_account: ps ? str(ps.serviceAccountName ?? ps.serviceAccount) : '',
    node_name: type.kind === 'Pod' || type.kind === 'VolumeAttachment' ? str(spec['nodeName']) : '',
    replicas: typeof spec['replicas'] === 'number' ? spec['replicas'] : null,
    phase: str(obj(object['status'])['phase']),
    security_flags: ps ? securityFlags(ps) : '',
    webhook_targets: JSON.stringify(type.kind.endsWith('WebhookConfiguration') ? webhookTargets(object) : []),
    role_ref: isBinding ? `${str(roleRef['kind'])}/${str(roleRef['name'])}` : '',
    subjects: JSON.stringify(isBinding ? arr(object['subjects']).map((s) => `${str(obj(s)['kind'])}:${str(obj(s)['namespace'])}/${str(obj(s)['name'])}`) : []),
    secret_type: extra.secretType ?? '',
    data_keys: JSON.stringify(extra.dataKeys ?? []),
    value_handling: extra.valueHandling ?? '',
    detail,
    summary: `${type.kind} ${namespace ? `${namespace}/` : ''}${name}${detail ? `: ${detail}` : ''}`.slice(0, 1000),
    raw_stream: streamFor(type),
  };
  return row;
}
