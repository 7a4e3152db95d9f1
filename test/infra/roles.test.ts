/**
 * Least privilege: every role assignment uses a real built-in role id (or the collector role
 * the template defines) at the narrowest scope that works, with a deterministic name; the
 * collector role holds exactly the reads the sources need plus the two switchable grants.
 */
import { evaluateValue, type EvalContext, type Value } from './armExpression.js';
import { BUILTIN_RESOURCES } from '../../shared/simulator/kube/resources.js';
import { committedTemplate, contextFor, readCommitted, resourcesOfType, scopes, type Resource } from './templateModel.js';

const template = committedTemplate();

/**
 * Built-in role definition ids, from MicrosoftDocs/azure-docs
 * articles/role-based-access-control/built-in-roles/{monitor,storage,security}.md (the "name" of each role's JSON).
 */
const KNOWN_BUILT_IN: Record<string, string> = {
  '3913510d-42f4-4e42-8a64-420c390055eb': 'Monitoring Metrics Publisher', // monitor.md
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe': 'Storage Blob Data Contributor', // storage.md
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b': 'Storage Blob Data Owner', // storage.md
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88': 'Storage Queue Data Contributor', // storage.md
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3': 'Storage Table Data Contributor', // storage.md
  'b86a8fe4-44ce-4948-aee5-eccb2c155cd7': 'Key Vault Secrets Officer', // security.md
  '4633458b-17de-408a-b874-0445c86b69e6': 'Key Vault Secrets User', // security.md
  'f4c81013-99ee-4d62-a7ee-b3f1f648599a': 'Microsoft Sentinel Automation Contributor', // security.md
  '3e150937-b8fe-4cfb-8069-0eaf05ecd056': 'Microsoft Sentinel Responder', // security.md
  '8d289c81-5878-46d4-8554-54e1e3d8b5cb': 'Microsoft Sentinel Reader', // security.md
};
/** Roles this deployment must never hand out. */
const FORBIDDEN = {
  '8e3af657-a8ff-443c-a75c-2fe8c4bcb635': 'Owner',
  'b24988ac-6180-42a0-ab88-20f7382dd24c': 'Contributor',
  '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9': 'User Access Administrator',
};

const CLUSTER = '/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod';
const CLUSTER_RG = '/subscriptions/aaaaaaaa-0000-0000-0000-000000000002/resourceGroups/rg-dev';

interface Assignment {
  where: string;
  resource: Resource;
  roleName: string;
  scope: string;
  name: string;
  principal: string;
}

/** Every role assignment, outer and nested, evaluated with the given deployment parameters. */
function assignments(parameters: Record<string, Value> = {}): Assignment[] {
  const outer = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters });
  const roleGuid = String(evaluateValue("[variables('collectorRoleGuid')]", outer));
  const rgId = '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ev';
  const out: Assignment[] = [];
  const add = (where: string, r: Resource, ctx: EvalContext, scopeBase: string): void => {
    if (r.condition !== undefined && evaluateValue(r.condition, ctx) !== true) return;
    const props = evaluateValue(r.properties, ctx) as { roleDefinitionId: string; principalId: string };
    const guid = props.roleDefinitionId.split('/').at(-1) as string;
    const roleName = guid === roleGuid ? 'collector (custom)' : (KNOWN_BUILT_IN[guid] ?? `UNKNOWN ${guid}`);
    expect(props.roleDefinitionId).toMatch(/^\/subscriptions\/[^/]+\/providers\/Microsoft\.Authorization\/roleDefinitions\/[0-9a-f-]{36}$/);
    const scope = r.scope ? `${scopeBase}/providers/${String(evaluateValue(r.scope, ctx))}` : scopeBase;
    out.push({ where, resource: r, roleName, scope, name: String(evaluateValue(r.name, ctx)), principal: props.principalId });
  };
  for (const r of resourcesOfType(template, 'Microsoft.Authorization/roleAssignments')) add('outer', r, outer, rgId);
  for (const s of scopes(template)) {
    if (!s.deployment) continue;
    const deployment = s.deployment;
    const copies = 'copy' in deployment ? Number(evaluateValue((deployment.copy as { count: string }).count, outer)) : 1;
    for (let k = 0; k < copies; k++) {
      const dctx: EvalContext = { ...outer, copyIndex: k };
      if (deployment.condition !== undefined && evaluateValue(deployment.condition, dctx) !== true) continue;
      const sub = String(evaluateValue(deployment.subscriptionId, dctx));
      const rg = String(evaluateValue(deployment.resourceGroup, dctx));
      const passed = evaluateValue((deployment.properties as { parameters: unknown }).parameters, dctx) as Record<string, { value: Value }>;
      const inner: EvalContext = {
        ...outer,
        subscriptionId: sub,
        resourceGroup: rg,
        variables: s.template.variables ?? {},
        parameters: Object.fromEntries(Object.entries(passed).map(([key, x]) => [key, x.value])),
      };
      delete inner.copyIndex;
      for (const r of s.template.resources.filter((x) => x.type === 'Microsoft.Authorization/roleAssignments')) {
        add(s.path, r, inner, `/subscriptions/${sub}/resourceGroups/${rg}`);
      }
    }
  }
  return out;
}

describe('role assignments', () => {
  const all = assignments({ clusterAccessScopes: [CLUSTER, CLUSTER_RG], sentinelServicePrincipalObjectId: 'eeeeeeee-0000-0000-0000-000000000000' });
  const byRole = (roleName: string): Assignment[] => all.filter((a) => a.roleName === roleName);

  it('use only known built-in role ids or the collector role, never Owner/Contributor/User Access Administrator', () => {
    expect(all.length).toBeGreaterThan(10);
    for (const a of all) expect({ name: a.name, role: a.roleName }).not.toEqual({ name: a.name, role: expect.stringMatching(/^UNKNOWN/) });
    for (const s of scopes(template)) {
      const text = JSON.stringify(s.template);
      for (const [id, name] of Object.entries(FORBIDDEN)) expect({ role: name, present: text.includes(id) }).toEqual({ role: name, present: false });
    }
  });

  it('the role ids in infra/roles.ts are the documented ones', async () => {
    const { BUILT_IN_ROLES } = await import('../../infra/roles.js');
    for (const role of Object.values(BUILT_IN_ROLES)) expect({ id: role.id, name: KNOWN_BUILT_IN[role.id] }).toEqual({ id: role.id, name: role.name });
  });

  it('have deterministic, distinct guid() names', () => {
    for (const s of scopes(template)) {
      for (const r of s.template.resources.filter((x) => x.type === 'Microsoft.Authorization/roleAssignments')) expect(r.name).toMatch(/^\[guid\(/);
    }
    expect(new Set(all.map((a) => `${a.scope}|${a.name}`)).size).toBe(all.length);
    const again = assignments({ clusterAccessScopes: [CLUSTER, CLUSTER_RG], sentinelServicePrincipalObjectId: 'eeeeeeee-0000-0000-0000-000000000000' });
    expect(again.map((a) => a.name)).toEqual(all.map((a) => a.name));
  });

  it('Storage Blob Data Contributor only on the evidence container', () => {
    const [evidence] = byRole('Storage Blob Data Contributor');
    expect(byRole('Storage Blob Data Contributor')).toHaveLength(1);
    expect(evidence?.scope).toMatch(/\/providers\/Microsoft\.Storage\/storageAccounts\/[a-z0-9]+\/blobServices\/default\/containers\/evidence$/);
    // The host storage roles stay on the host account.
    const host = String(
      evaluateValue(
        "[variables('hostStorageName')]",
        contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters: {} }),
      ),
    );
    for (const role of ['Storage Blob Data Owner', 'Storage Queue Data Contributor', 'Storage Table Data Contributor']) {
      expect(byRole(role).map((a) => a.scope)).toEqual([expect.stringMatching(new RegExp(`/storageAccounts/${host}$`))]);
    }
  });

  it('Monitoring Metrics Publisher on each DCR (Logs Ingestion) and on Application Insights (Entra telemetry), nowhere else', () => {
    const dcrs = resourcesOfType(template, 'Microsoft.Insights/dataCollectionRules');
    const scopesOf = byRole('Monitoring Metrics Publisher').map((a) => a.scope);
    expect(scopesOf.filter((s) => s.includes('/Microsoft.Insights/dataCollectionRules/'))).toHaveLength(dcrs.length);
    expect(scopesOf.filter((s) => s.includes('/Microsoft.Insights/components/'))).toHaveLength(1);
    expect(scopesOf).toHaveLength(dcrs.length + 1);
  });

  it('Key Vault: the Function identity manages host keys in the vault; the playbook reads only its one secret', () => {
    expect(byRole('Key Vault Secrets Officer').map((a) => a.scope)).toEqual([expect.stringMatching(/\/providers\/Microsoft\.KeyVault\/vaults\/[a-z0-9-]+$/)]);
    expect(byRole('Key Vault Secrets User').map((a) => a.scope)).toEqual([expect.stringMatching(/\/vaults\/[a-z0-9-]+\/secrets\/host--functionKey--sentinelPlaybook$/)]);
  });

  it('Sentinel: Automation Contributor for the Security Insights principal on the playbook group; Responder for the playbook on the workspace', () => {
    const automation = byRole('Microsoft Sentinel Automation Contributor');
    expect(automation.map((a) => [a.scope, a.principal])).toEqual([
      ['/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ev', 'eeeeeeee-0000-0000-0000-000000000000'],
    ]);
    expect(byRole('Microsoft Sentinel Responder').map((a) => a.scope)).toEqual([expect.stringMatching(/\/providers\/Microsoft\.OperationalInsights\/workspaces\/[^/]+$/)]);
    // Without the object id the template skips it (docs/deploy.md shows the az command).
    expect(assignments({}).filter((a) => a.roleName === 'Microsoft Sentinel Automation Contributor')).toHaveLength(0);
  });

  it('the collector role is assigned at each cluster scope: the cluster itself, or the resource group given', () => {
    expect(byRole('collector (custom)').map((a) => a.scope)).toEqual([CLUSTER, CLUSTER_RG]);
    expect(assignments({}).filter((a) => a.roleName === 'collector (custom)')).toHaveLength(0);
  });
});

describe('collector role definition', () => {
  const roleDef = resourcesOfType(template, 'Microsoft.Authorization/roleDefinitions')[0] as Resource;
  const evaluated = (parameters: Record<string, Value>): { actions: string[]; dataActions: string[]; assignableScopes: string[] } => {
    const ctx = contextFor(template, { subscriptionId: '11111111-2222-3333-4444-555555555555', resourceGroup: 'rg-ev', location: 'westeurope', parameters });
    const props = evaluateValue(roleDef.properties, ctx) as { permissions: { actions: string[]; dataActions: string[] }[]; assignableScopes: string[] };
    return { actions: props.permissions[0]?.actions ?? [], dataActions: props.permissions[0]?.dataActions ?? [], assignableScopes: props.assignableScopes };
  };
  const K = 'Microsoft.ContainerService/managedClusters';
  const NEEDED_READS = [
    'pods',
    'events',
    'events.k8s.io/events',
    'namespaces',
    'serviceaccounts',
    'rbac.authorization.k8s.io/roles',
    'rbac.authorization.k8s.io/rolebindings',
    'rbac.authorization.k8s.io/clusterroles',
    'rbac.authorization.k8s.io/clusterrolebindings',
    'batch/cronjobs',
    'batch/jobs',
    'apps/deployments',
    'apps/daemonsets',
    'apps/statefulsets',
    'apps/replicasets',
    'networking.k8s.io/networkpolicies',
    'admissionregistration.k8s.io/mutatingwebhookconfigurations',
    'admissionregistration.k8s.io/validatingwebhookconfigurations',
    'apiextensions.k8s.io/customresourcedefinitions',
    'apiregistration.k8s.io/apiservices',
  ].map((r) => `${K}/${r}/read`);

  it('is exactly one custom role with a deterministic guid name', () => {
    expect(resourcesOfType(template, 'Microsoft.Authorization/roleDefinitions')).toHaveLength(1);
    expect(roleDef.name).toBe("[variables('collectorRoleGuid')]");
    expect((roleDef.properties as { type: string }).type).toBe('CustomRole');
  });

  it('default: the reads every source needs, exec for shell history, Secret metadata, the access review — and nothing that writes', () => {
    const { actions, dataActions } = evaluated({});
    for (const read of NEEDED_READS) expect(dataActions).toContain(read);
    expect(dataActions).toContain(`${K}/pods/exec/action`);
    expect(dataActions).toContain(`${K}/secrets/read`);
    expect(dataActions).toContain(`${K}/authorization.k8s.io/selfsubjectaccessreviews/write`);
    for (const a of dataActions) {
      expect(a).not.toContain('*');
      expect({ a, ok: a.endsWith('/read') || a === `${K}/pods/exec/action` || a.endsWith('/selfsubjectaccessreviews/write') }).toEqual({ a, ok: true });
    }
    expect(new Set(dataActions).size).toBe(dataActions.length);
    // The audit source reads the audit log from the workspace its diagnostic setting names (tables only, no keys).
    const audit = [
      'Microsoft.OperationalInsights/workspaces/read',
      'Microsoft.OperationalInsights/workspaces/query/read',
      ...['AKSAudit', 'AKSAuditAdmin', 'AzureDiagnostics'].map((t) => `Microsoft.OperationalInsights/workspaces/query/${t}/read`),
    ];
    expect(actions.sort()).toEqual([`${K}/listClusterUserCredential/action`, `${K}/read`, 'Microsoft.Insights/diagnosticSettings/read', ...audit].sort());
    expect(actions).not.toContain(`${K}/listClusterAdminCredential/action`);
  });

  it('grants read on every built-in type the snapshot lists (Secrets behind their switch), so only custom resources can be 403 gaps', () => {
    const { dataActions } = evaluated({});
    const listable = BUILTIN_RESOURCES.filter((r) => !r.name.includes('/') && r.verbs.includes('list')).map((r) => `${K}/${r.group ? `${r.group}/` : ''}${r.name}/read`);
    expect(listable.length).toBeGreaterThan(40);
    expect(listable.filter((a) => !dataActions.includes(a))).toEqual([]);
  });

  it('allowExecForShellHistory=false and allowSecretMetadataRead=false remove exactly those grants', () => {
    const base = evaluated({}).dataActions;
    const noExec = evaluated({ allowExecForShellHistory: false }).dataActions;
    const noSecrets = evaluated({ allowSecretMetadataRead: false }).dataActions;
    expect(base.filter((a) => !noExec.includes(a))).toEqual([`${K}/pods/exec/action`]);
    expect(base.filter((a) => !noSecrets.includes(a))).toEqual([`${K}/secrets/read`]);
  });

  it('is assignable in this resource group and in the resource group of every cluster scope', () => {
    expect(evaluated({}).assignableScopes).toEqual(['/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ev']);
    expect(evaluated({ clusterAccessScopes: [CLUSTER, CLUSTER_RG, CLUSTER] }).assignableScopes).toEqual([
      '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg-ev',
      '/subscriptions/aaaaaaaa-0000-0000-0000-000000000001/resourceGroups/rg-prod',
      CLUSTER_RG,
    ]);
  });
});

describe('workstation role (infra/custom-role.cli.json)', () => {
  const role = JSON.parse(readCommitted('infra/custom-role.cli.json')) as Record<string, string[] | string | boolean>;

  it('is an az role definition file: Name, IsCustom, Actions, DataActions, AssignableScopes', () => {
    expect(Object.keys(role).sort()).toEqual(['Actions', 'AssignableScopes', 'DataActions', 'Description', 'IsCustom', 'Name', 'NotActions', 'NotDataActions'].sort());
    expect(role.IsCustom).toBe(true);
  });

  it('can collect, write evidence and ingest, but creates nothing and reads no workspace keys (unlike KubeForenSys)', () => {
    const actions = role.Actions as string[];
    const dataActions = role.DataActions as string[];
    expect(dataActions).toEqual(
      expect.arrayContaining([
        'Microsoft.ContainerService/managedClusters/pods/read',
        'Microsoft.ContainerService/managedClusters/pods/exec/action',
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        'Microsoft.Insights/Telemetry/Write',
      ]),
    );
    expect(actions).toContain('Microsoft.ContainerService/managedClusters/listClusterUserCredential/action');
    for (const a of [...actions, ...dataActions]) expect(a).not.toMatch(/\*|sharedKeys|\/delete$|listKeys/);
    for (const a of actions) expect(a).not.toMatch(/\/write$/);
  });
});
