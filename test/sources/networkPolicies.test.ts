import { formatSelector, networkPoliciesSource, summarizeRules } from '../../shared/sources/networkpolicies/source.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';
import { collect, context, FIXED_NOW, namespace, startCluster } from './helpers.js';

function policy(ns: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name, namespace: ns, creationTimestamp: '2026-02-04T00:00:00Z' }, spec };
}

const objects: KubeObject[] = [
  namespace('shop'),
  namespace('open'),
  namespace('kube-system'),
  policy('shop', 'web-ingress', {
    podSelector: { matchLabels: { app: 'web' } },
    policyTypes: ['Ingress', 'Egress'],
    ingress: [
      {
        from: [
          { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'a' } }, podSelector: { matchLabels: { app: 'x' } } },
          { ipBlock: { cidr: '10.0.0.0/8', except: ['10.1.0.0/16'] } },
        ],
        ports: [
          { protocol: 'TCP', port: 80 },
          { port: 8000, endPort: 8080 },
        ],
      },
      {},
    ],
    egress: [],
  }),
  policy('shop', 'default-deny', { podSelector: {}, policyTypes: ['Ingress'] }),
];

describe('network policies source', () => {
  test('readable summaries, and one row per namespace without a policy', async () => {
    const { cluster, kc } = await startCluster({ name: 'np', objects }, { maxPageSize: 1 });
    try {
      const out = await collect(networkPoliciesSource, context(kc, { namespaces: { exclude: ['kube-system'] } }));
      expect(out.gaps).toEqual([]);
      expect(out.raws).toHaveLength(2);
      const web = out.rows.find((r) => r['name'] === 'web-ingress')!;
      expect(web).toMatchObject({
        namespace: 'shop',
        pod_selector: '{"matchLabels":{"app":"web"}}',
        pod_selector_text: 'app=web',
        policy_types: 'Ingress, Egress',
        ingress_rules: 'from ns=a,pods app=x | cidr 10.0.0.0/8 except 10.1.0.0/16 ports TCP/80,TCP/8000-8080; from any ports all',
        egress_rules: 'deny all',
        no_policy: false,
      });
      expect(out.rows.find((r) => r['name'] === 'default-deny')).toMatchObject({ pod_selector_text: '*', ingress_rules: 'deny all', egress_rules: 'not restricted' });
      const none = out.rows.filter((r) => r['no_policy'] === true);
      expect(none).toEqual([expect.objectContaining({ namespace: 'open', name: '', TimeGenerated: FIXED_NOW.toISOString() })]);
    } finally {
      await cluster.stop();
    }
  });

  test('no "no policy" row is claimed when the policy list is incomplete', async () => {
    const { cluster, kc } = await startCluster({ name: 'np', objects, forbidden: ['networking.k8s.io/networkpolicies'] });
    try {
      const out = await collect(networkPoliciesSource, context(kc));
      expect(out.rows).toEqual([]);
      expect(out.gaps.map((g) => g.reason)).toEqual(['forbidden', 'error']);
      expect(out.gaps[1]!.detail).toMatch(/policy list is incomplete/);
    } finally {
      await cluster.stop();
    }
  });

  test('selector and rule formatting', () => {
    expect(
      formatSelector({
        matchLabels: { app: 'a' },
        matchExpressions: [
          { key: 'env', operator: 'In', values: ['p', 'q'] },
          { key: 'x', operator: 'DoesNotExist' },
          { key: 'y', operator: 'Exists' },
        ],
      }),
    ).toBe('app=a,env in (p,q),!x,y');
    expect(formatSelector({})).toBe('*');
    expect(summarizeRules([{ to: [{ namespaceSelector: {} }], ports: [{ protocol: 'UDP', port: 53 }] }], 'Egress', ['Egress'])).toBe('to ns=* ports UDP/53');
    expect(summarizeRules(undefined, 'Ingress', ['Egress'])).toBe('not restricted');
  });
});
