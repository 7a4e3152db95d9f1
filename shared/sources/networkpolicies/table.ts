import { column as c, timeGenerated, type TableDefinition } from '../../tables/table.js';

/** KubeForenSys-compatible: the name and the first columns are KubeForenSys's, so its queries keep working. */
export const NETWORK_POLICIES_TABLE: TableDefinition = {
  name: 'networkpolicies_CL',
  source: 'networkpolicies',
  description: 'Network policies, plus one row per namespace without any policy.',
  columns: [
    timeGenerated(),
    c('namespace', 'string', 'Namespace.'),
    c('name', 'string', 'Policy name (empty on a no-policy row).'),
    c('pod_selector', 'string', 'Pod selector (JSON).'),
    c('policy_types', 'string', 'Ingress, Egress.'),
    c('ingress_rules', 'string', 'Ingress rule summary.'),
    c('egress_rules', 'string', 'Egress rule summary.'),
    c('no_policy', 'boolean', 'True on the row for a namespace that has no policy.'),
    c('uid', 'string', 'Policy uid.'),
    c('pod_selector_text', 'string', 'Pod selector as text ("app=x,tier in (a,b)"; "*" selects every pod).'),
  ],
  timeline: { eventType: 'NetworkPolicy', namespace: 'namespace', summary: 'name' },
};
