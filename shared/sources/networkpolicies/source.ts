import { KubeApi } from '../../cluster/kubeApi.js';
import { listAll } from '../../cluster/paginate.js';
import { isAbortError } from '../../cluster/retry.js';
import { gapFromError, isExpectedKubeFailure, listResource, requestOptions } from '../common/listResource.js';
import { namespaceSelected } from '../common/namespaces.js';
import { arr, firstTime, jsonObject, obj, str } from '../../util/values.js';
import { clusterRead, kubeAccess, type Row, type SourceContext, type SourceDefinition, type SourceItem } from '../types.js';
import { toRfc3339 } from '../../util/time.js';
import { NETWORK_POLICIES_TABLE } from './table.js';

/**
 * Network policies with readable rule summaries, plus one row per namespace of the run
 * that has no policy at all (no_policy=true): there every pod may talk to anything.
 *
 * Summary grammar, one clause per rule joined by "; ":
 *   "from ns=a,pods app=x ports TCP/80"   peers (ns selector, pod selector, ipBlock) and ports
 *   "from any ports all"                  a rule without peers or ports
 *   "deny all"                            the direction is in policyTypes but has no rules
 *   "not restricted"                      the direction is not in policyTypes
 */

const NAMESPACE_NAME_LABEL = 'kubernetes.io/metadata.name';

/** A label selector as text: "app=x,tier in (a,b),!debug"; "*" for the empty (match-all) selector. */
export function formatSelector(selector: unknown): string {
  const s = obj(selector);
  const parts: string[] = [];
  for (const [k, v] of Object.entries(obj(s.matchLabels))) parts.push(`${k}=${str(v)}`);
  for (const e of arr(s.matchExpressions).map(obj)) {
    const key = str(e.key);
    const values = arr(e.values).map(str).join(',');
    switch (str(e.operator)) {
      case 'In':
        parts.push(`${key} in (${values})`);
        break;
      case 'NotIn':
        parts.push(`${key} notin (${values})`);
        break;
      case 'Exists':
        parts.push(key);
        break;
      case 'DoesNotExist':
        parts.push(`!${key}`);
        break;
      default:
        parts.push(`${key} ${str(e.operator)} (${values})`);
    }
  }
  return parts.length === 0 ? '*' : parts.join(',');
}

function formatNamespaceSelector(selector: unknown): string {
  const s = obj(selector);
  const labels = obj(s.matchLabels);
  const keys = Object.keys(labels);
  // The common "namespace by name" selector reads as the name itself.
  if (keys.length === 1 && keys[0] === NAMESPACE_NAME_LABEL && arr(s.matchExpressions).length === 0) return str(labels[NAMESPACE_NAME_LABEL]);
  return formatSelector(selector);
}

function formatPeer(peer: Record<string, unknown>): string {
  const parts: string[] = [];
  if (peer.ipBlock !== undefined) {
    const block = obj(peer.ipBlock);
    const except = arr(block.except).map(str);
    parts.push(`cidr ${str(block.cidr)}${except.length ? ` except ${except.join(',')}` : ''}`);
  }
  if (peer.namespaceSelector !== undefined) parts.push(`ns=${formatNamespaceSelector(peer.namespaceSelector)}`);
  if (peer.podSelector !== undefined) parts.push(`pods ${formatSelector(peer.podSelector)}`);
  return parts.join(',') || 'any';
}

function formatPort(port: Record<string, unknown>): string {
  const protocol = str(port.protocol) || 'TCP';
  if (port.port === undefined || port.port === null) return `${protocol}/*`;
  const end = typeof port.endPort === 'number' ? `-${port.endPort}` : '';
  return `${protocol}/${str(port.port)}${end}`;
}

/** Summarize the ingress (peers under "from") or egress (peers under "to") rules of a policy. */
export function summarizeRules(rules: unknown, direction: 'Ingress' | 'Egress', policyTypes: string[]): string {
  if (!policyTypes.includes(direction)) return 'not restricted';
  const list = arr(rules).map(obj);
  if (list.length === 0) return 'deny all';
  const word = direction === 'Ingress' ? 'from' : 'to';
  return list
    .map((rule) => {
      const peers = arr(direction === 'Ingress' ? rule.from : rule.to).map(obj);
      const ports = arr(rule.ports).map(obj);
      const peerText = peers.length === 0 ? 'any' : peers.map(formatPeer).join(' | ');
      const portText = ports.length === 0 ? 'all' : ports.map(formatPort).join(',');
      return `${word} ${peerText} ports ${portText}`;
    })
    .join('; ');
}

/** policyTypes as served, or as the API server defaults them (Ingress, plus Egress when egress rules exist). */
export function effectivePolicyTypes(spec: Record<string, unknown>): string[] {
  const declared = arr(spec.policyTypes).map(str).filter(Boolean);
  if (declared.length > 0) return declared;
  return spec.egress !== undefined ? ['Ingress', 'Egress'] : ['Ingress'];
}

export function networkPolicyRow(policy: Record<string, unknown>, collectedAt: string): Row {
  const metadata = obj(policy.metadata);
  const spec = obj(policy.spec);
  const types = effectivePolicyTypes(spec);
  return {
    TimeGenerated: firstTime(metadata.creationTimestamp) ?? collectedAt,
    namespace: str(metadata.namespace),
    name: str(metadata.name),
    pod_selector: jsonObject(spec.podSelector),
    policy_types: types.join(', '),
    ingress_rules: summarizeRules(spec.ingress, 'Ingress', types),
    egress_rules: summarizeRules(spec.egress, 'Egress', types),
    no_policy: false,
    uid: str(metadata.uid),
    pod_selector_text: formatSelector(spec.podSelector),
  };
}

export function noPolicyRow(namespace: string, collectedAt: string): Row {
  return {
    TimeGenerated: collectedAt,
    namespace,
    name: '',
    pod_selector: '',
    policy_types: '',
    ingress_rules: 'no policy: all traffic allowed',
    egress_rules: 'no policy: all traffic allowed',
    no_policy: true,
    uid: '',
    pod_selector_text: '',
  };
}

async function* collectNetworkPolicies(ctx: SourceContext): AsyncGenerator<SourceItem> {
  const withPolicy = new Set<string>();
  let policiesComplete = true;
  for await (const item of listResource(ctx, {
    source: 'networkpolicies',
    groupVersionPath: '/apis/networking.k8s.io/v1',
    resource: 'networkpolicies',
    namespaced: true,
  })) {
    if (item.kind !== 'object') {
      if (item.kind === 'gap') policiesComplete = false;
      yield item;
      continue;
    }
    withPolicy.add(str(item.object.metadata?.namespace));
    yield { kind: 'raw', object: item.object };
    yield { kind: 'row', row: networkPolicyRow(item.object, toRfc3339(ctx.clock())) };
  }
  if (!policiesComplete) {
    // Without the full policy list a "no policy" row could be false: say so instead.
    yield {
      kind: 'gap',
      gap: { source: 'networkpolicies', reason: 'error', detail: 'namespaces without a policy not reported: the policy list is incomplete', resource: 'namespaces' },
    };
    return;
  }
  // Listed even with an include list, so a row never names a namespace that does not exist.
  const namespaces: string[] = [];
  try {
    for await (const ns of listAll(KubeApi.for(ctx.kubeConfig), '/api/v1/namespaces', requestOptions(ctx))) {
      const name = str(ns.metadata?.name);
      if (namespaceSelected(name, ctx.namespaces)) namespaces.push(name);
    }
  } catch (error) {
    if (isAbortError(error) || ctx.abortSignal?.aborted || !isExpectedKubeFailure(error)) throw error;
    const gap = gapFromError('networkpolicies', error, 'namespaces');
    yield { kind: 'gap', gap: { ...gap, detail: `namespaces without a policy not reported: ${gap.detail}` } };
    return;
  }
  for (const namespace of namespaces) {
    if (!withPolicy.has(namespace)) yield { kind: 'row', row: noPolicyRow(namespace, toRfc3339(ctx.clock())) };
  }
}

export const networkPoliciesSource: SourceDefinition = {
  name: 'networkpolicies',
  description: 'Network policies with readable rule summaries, plus one row per namespace that has no policy at all.',
  tables: [NETWORK_POLICIES_TABLE],
  kubernetesAccess: [kubeAccess('list', 'networkpolicies', { group: 'networking.k8s.io' }), kubeAccess('list', 'namespaces')],
  azurePermissions: [clusterRead('networking.k8s.io/networkpolicies', 'list NetworkPolicies'), clusterRead('namespaces', 'namespaces without any policy')],
  collect: collectNetworkPolicies,
};
