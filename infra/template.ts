/**
 * infra/azuredeploy.json, built from the table registry: one resource-group deployment with
 * the Log Analytics tables and timeline function, the DCE and DCRs, the WORM evidence store,
 * the Flex Consumption Function App with its managed identity, least-privilege role
 * assignments (including the AKS collector role at the given cluster scopes), and the
 * Sentinel playbook + automation rule.
 */
import { buildDcrDefinitions, DCR_DESTINATION, ingestionTargetDocument, type DcrDefinition } from '../shared/ingestion/dcr.js';
import { SOURCES, type SourceRegistry } from '../shared/sources/registry.js';
import { streamColumns, type ColumnType, type TableDefinition } from '../shared/tables/table.js';
import {
  API,
  asJson,
  DEPLOYMENT_TEMPLATE_SCHEMA,
  dependsOnExtension,
  dependsOnId,
  expr,
  fmt,
  lit,
  nameOf,
  p,
  referenceOf,
  resourceIdOf,
  roleDefinitionIdOf,
  scopeOf,
  v,
  type ArmParameter,
  type ArmResource,
  type ArmTemplate,
  type Json,
  type JsonObject,
} from './arm.js';
import { buildTimelineQuery, TIMELINE_FUNCTION_ALIAS, timelineFunctionParameters } from './kql.js';
import { APP_SETTING as SETTING } from './appSettingNames.js';
import { buildPlaybookDefinition, FUNCTION_KEY_SECRET_NAME } from './playbook.js';
import { BUILT_IN_ROLES, collectorPermissions } from './roles.js';
import { sentinelContentDeployment, sentinelContentParameters } from './sentinel/template.js';

/** Log Analytics table column type for a registry column type (the tables API spells dateTime). */
export const LA_COLUMN_TYPES: Readonly<Record<ColumnType, string>> = {
  string: 'string',
  int: 'int',
  long: 'long',
  real: 'real',
  boolean: 'boolean',
  datetime: 'dateTime',
  dynamic: 'dynamic',
  guid: 'guid',
};

const T = {
  workspace: 'Microsoft.OperationalInsights/workspaces',
  table: 'Microsoft.OperationalInsights/workspaces/tables',
  savedSearch: 'Microsoft.OperationalInsights/workspaces/savedSearches',
  dce: 'Microsoft.Insights/dataCollectionEndpoints',
  dcr: 'Microsoft.Insights/dataCollectionRules',
  storage: 'Microsoft.Storage/storageAccounts',
  blobService: 'Microsoft.Storage/storageAccounts/blobServices',
  container: 'Microsoft.Storage/storageAccounts/blobServices/containers',
  immutabilityPolicy: 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies',
  identity: 'Microsoft.ManagedIdentity/userAssignedIdentities',
  insights: 'Microsoft.Insights/components',
  plan: 'Microsoft.Web/serverfarms',
  site: 'Microsoft.Web/sites',
  siteExtension: 'Microsoft.Web/sites/extensions',
  keyVault: 'Microsoft.KeyVault/vaults',
  secret: 'Microsoft.KeyVault/vaults/secrets',
  roleAssignment: 'Microsoft.Authorization/roleAssignments',
  roleDefinition: 'Microsoft.Authorization/roleDefinitions',
  deployment: 'Microsoft.Resources/deployments',
  connection: 'Microsoft.Web/connections',
  workflow: 'Microsoft.Logic/workflows',
  automationRule: 'Microsoft.SecurityInsights/automationRules',
  onboarding: 'Microsoft.SecurityInsights/onboardingStates',
} as const;

const SAVED_SEARCH_NAME = 'aks-evidence-timeline';
const DEPLOYMENT_CONTAINER = 'app-package';

/** Role definition GUIDs are variables `role<Key>` so a test can check them against the known table. */
const roleVar = (key: keyof typeof BUILT_IN_ROLES): string => `role${key[0]?.toUpperCase()}${key.slice(1)}`;

function parameters(): Record<string, ArmParameter> {
  const str = (defaultValue: Json, description: string, extra: Partial<ArmParameter> = {}): ArmParameter => ({
    type: 'string',
    defaultValue,
    ...extra,
    metadata: { description },
  });
  const int = (defaultValue: number, minValue: number, maxValue: number, description: string): ArmParameter => ({
    type: 'int',
    defaultValue,
    minValue,
    maxValue,
    metadata: { description },
  });
  const bool = (defaultValue: boolean, description: string): ArmParameter => ({ type: 'bool', defaultValue, metadata: { description } });
  const arr = (defaultValue: Json[], description: string): ArmParameter => ({ type: 'array', defaultValue, metadata: { description } });
  return {
    location: str('[resourceGroup().location]', 'Region of every resource. With an existing workspace, use the workspace region (DCRs send to a workspace in their own region).'),
    namePrefix: str('aksev', 'Short prefix of resource names: 2-8 lower-case letters and digits (storage account and Key Vault names derive from it).', {
      minLength: 2,
      maxLength: 8,
    }),
    existingWorkspaceResourceId: str('', 'ARM id of an existing Log Analytics workspace (Sentinel workspace). Empty: create a new one.'),
    workspaceName: str('', 'Name of the new workspace when existingWorkspaceResourceId is empty. Empty: derived from namePrefix.'),
    workspaceRetentionInDays: int(90, 30, 730, 'Interactive retention of the new workspace and of the evidence tables, in days.'),
    evidenceRetentionDays: int(
      365,
      1,
      146000,
      'Default time-based retention (WORM) of every evidence blob version, in days. Locked only when you lock the policy (see docs/deploy.md).',
    ),
    evidenceContainerName: str('evidence', 'Blob container holding evidence bundles.', { minLength: 3, maxLength: 63 }),
    evidenceStorageSku: str('Standard_GRS', 'Redundancy of the evidence storage account.', {
      allowedValues: ['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS', 'Standard_RAGRS', 'Standard_RAGZRS'],
    }),
    clusterAccessScopes: arr(
      [],
      'Where the Function identity may collect: AKS managed cluster ids and/or resource group ids (/subscriptions/<id>/resourceGroups/<name>). The collector role is assigned at each.',
    ),
    allowExecForShellHistory: bool(true, 'Grant pods/exec (read-only history command) so the commandhistory source works. Azure RBAC cannot restrict which command runs.'),
    allowSecretMetadataRead: bool(
      true,
      'Grant secrets/read so Secrets can be recorded by metadata. Azure RBAC has no metadata-only permission: this also allows reading values, which the collector never does.',
    ),
    functionPackageUrl: str(
      '',
      'Optional: URL of the built Function App zip (no redirects, no SAS in shared places). Empty: publish with az functionapp deployment source config-zip.',
    ),
    maximumInstanceCount: int(100, 40, 1000, 'Flex Consumption: maximum instances.'),
    instanceMemoryMB: { type: 'int', defaultValue: 2048, allowedValues: [512, 2048, 4096], metadata: { description: 'Flex Consumption: instance memory.' } },
    defaultSources: str('', `${SETTING.defaultSources}: comma-separated sources collected when a request names none. Empty: all.`),
    collectorConcurrency: int(
      32,
      1,
      256,
      `${SETTING.concurrency}: the load budget, Kubernetes API requests in flight at once per cluster across every activity and instance of a run.`,
    ),
    timestampAuthorityUrl: str(
      '',
      `${SETTING.tsaUrl}: RFC 3161 time-stamping authority URL; every seal's manifest hash is timestamped (manifest.json.tsr), an anchor outside the bundle. Empty: no timestamp.`,
    ),
    defaultClusters: str(
      '',
      `${SETTING.defaultClusters}: comma-separated AKS cluster resource ids collected when a Sentinel incident leads to no cluster by any way (entities, alerts, the rows behind a scheduled rule, node resource groups). Empty: such an incident answers 422.`,
    ),
    sentinelPreserveFor: str(
      '',
      `${SETTING.sentinelPreserveFor}: a preservation window for every run a Sentinel incident starts, e.g. "24h" (60 s to 7 d; needs collectorConcurrency of at least 15). The incident's closing stops it. Empty: none (an incident body may still ask with "preserveFor").`,
    ),
    deploySentinelAutomation: bool(true, 'Deploy the Sentinel playbook, its Function key and the automation rule.'),
    onboardSentinel: bool(false, 'Enable Microsoft Sentinel on the workspace (onboardingStates/default). Leave false when it already is.'),
    sentinelServicePrincipalObjectId: str(
      '',
      'Object id of the "Azure Security Insights" service principal in your tenant (az ad sp show --id 98785600-1bb7-4fb9-b9fa-19afe2c8a360 --query id -o tsv). Empty: assign Microsoft Sentinel Automation Contributor yourself.',
    ),
    automationRuleEnabled: bool(false, 'Enable the automation rule. Deploy disabled, publish the app, test the playbook on one incident, then redeploy with true.'),
    automationRuleOrder: int(50, 1, 1000, 'Order of the automation rule among the workspace rules.'),
    automationRuleResourceIdContains: arr(
      ['/providers/Microsoft.ContainerService/managedClusters/', '/providers/Microsoft.Compute/virtualMachineScaleSets/aks-'],
      'Condition: an Azure resource entity of the incident contains one of these texts (default: an AKS cluster, or an AKS node scale set — node-level alerts). Empty: no such condition.',
    ),
    automationRuleAnalyticRuleIds: arr(
      [],
      'A second automation rule runs the playbook for incidents of these analytic rules (their ARM ids), whatever their entities: scheduled rules over AKSAudit / AKSAuditAdmin without an AzureResource entity mapping (the Function finds the cluster from the rows behind the alert). Empty: no second rule.',
    ),
    automationRuleSeverities: arr(['High', 'Medium'], 'Condition: incident severity is one of these. Empty: any severity.'),
    automationRuleTitleContains: arr([], 'Condition: the incident title contains one of these. Empty: no title condition.'),
    playbookPollIntervalSeconds: int(60, 10, 3600, 'How often the playbook polls a run status.'),
    playbookTimeout: str('PT2H', 'How long the playbook waits for a run before commenting without a result (ISO 8601 duration).'),
    playbookFunctionKey: {
      type: 'securestring',
      defaultValue: `[${fmt('{0}{1}', "replace(newGuid(), '-', '')", "replace(newGuid(), '-', '')")}]`,
      metadata: {
        description:
          'The Function key the playbook uses; generated at each deployment (rotated) and stored only in Key Vault, where the Functions host reads its keys. Do not set it.',
      },
    },
    ...sentinelContentParameters(),
  };
}

function variables(dcrs: readonly DcrDefinition[], registry: SourceRegistry): JsonObject {
  const collector = collectorPermissions(registry);
  const vars: JsonObject = {
    prefix: `[toLower(${p('namePrefix')})]`,
    suffix: `[uniqueString(resourceGroup().id, ${p('namePrefix')})]`,
    createWorkspace: `[empty(${p('existingWorkspaceResourceId')})]`,
    newWorkspaceName: `[if(empty(${p('workspaceName')}), ${fmt('{0}-law-{1}', v('prefix'), v('suffix'))}, ${p('workspaceName')})]`,
    workspaceName: `[if(${v('createWorkspace')}, ${v('newWorkspaceName')}, last(split(${p('existingWorkspaceResourceId')}, '/')))]`,
    workspaceSubscriptionId: `[if(${v('createWorkspace')}, subscription().subscriptionId, split(${p('existingWorkspaceResourceId')}, '/')[2])]`,
    workspaceResourceGroup: `[if(${v('createWorkspace')}, resourceGroup().name, split(${p('existingWorkspaceResourceId')}, '/')[4])]`,
    workspaceId: `[if(${v('createWorkspace')}, ${resourceIdOf(T.workspace, v('newWorkspaceName'))}, ${p('existingWorkspaceResourceId')})]`,
    evidenceStorageName: `[take(${fmt('{0}ev{1}', v('prefix'), v('suffix'))}, 24)]`,
    hostStorageName: `[take(${fmt('{0}fn{1}', v('prefix'), v('suffix'))}, 24)]`,
    keyVaultName: `[take(${fmt('{0}kv{1}', v('prefix'), v('suffix'))}, 24)]`,
    identityName: `[${fmt('{0}-func-id-{1}', v('prefix'), v('suffix'))}]`,
    appInsightsName: `[${fmt('{0}-appi-{1}', v('prefix'), v('suffix'))}]`,
    planName: `[${fmt('{0}-plan-{1}', v('prefix'), v('suffix'))}]`,
    functionAppName: `[${fmt('{0}-func-{1}', v('prefix'), v('suffix'))}]`,
    dceName: `[${fmt('{0}-dce-{1}', v('prefix'), v('suffix'))}]`,
    playbookName: `[${fmt('{0}-sentinel-collect-{1}', v('prefix'), v('suffix'))}]`,
    sentinelConnectionName: `[${fmt('{0}-azuresentinel-{1}', v('prefix'), v('suffix'))}]`,
    workspaceDeploymentName: `[${fmt('aks-evidence-workspace-{0}', v('suffix'))}]`,
    sentinelDeploymentName: `[${fmt('aks-evidence-sentinel-{0}', v('suffix'))}]`,
    collectorRoleGuid: `[guid(subscription().id, resourceGroup().id, 'aks-evidence-collector')]`,
    collectorRoleName: `[${fmt('AKS Evidence Collector ({0})', v('suffix'))}]`,
    collectorActions: collector.actions,
    collectorReadDataActions: collector.dataActions,
    collectorDataActions:
      `[concat(${v('collectorReadDataActions')}, ` +
      Object.entries<string[]>(collector.switched)
        .map(([param, actions]) => `if(${p(param)}, createArray(${actions.map(lit).join(', ')}), createArray())`)
        .join(', ') +
      ')]',
    // Custom roles are assignable at resource groups, not resources: a cluster id contributes its resource group.
    collectorAssignableScopes:
      `[union(createArray(resourceGroup().id), map(${p('clusterAccessScopes')}, lambda('scope', ` +
      `format('/subscriptions/{0}/resourceGroups/{1}', split(lambdaVariables('scope'), '/')[2], split(lambdaVariables('scope'), '/')[4]))))]`,
    automationRuleConditions:
      `[concat(` +
      `if(empty(${p('automationRuleResourceIdContains')}), createArray(), createArray(createObject('conditionType', 'Property', 'conditionProperties', ` +
      `createObject('propertyName', 'AzureResourceResourceId', 'operator', 'Contains', 'propertyValues', ${p('automationRuleResourceIdContains')})))), ` +
      `if(empty(${p('automationRuleSeverities')}), createArray(), createArray(createObject('conditionType', 'Property', 'conditionProperties', ` +
      `createObject('propertyName', 'IncidentSeverity', 'operator', 'Equals', 'propertyValues', ${p('automationRuleSeverities')})))), ` +
      `if(empty(${p('automationRuleTitleContains')}), createArray(), createArray(createObject('conditionType', 'Property', 'conditionProperties', ` +
      `createObject('propertyName', 'IncidentTitle', 'operator', 'Contains', 'propertyValues', ${p('automationRuleTitleContains')})))))]`,
    timelineQuery: buildTimelineQuery(registry.tables.tables),
  };
  dcrs.forEach((dcr, i) => {
    vars[dcrVar(i)] = `[${fmt(`{0}-${dcr.name.replace(/^aks-evidence-/, '')}-{1}`, v('prefix'), v('suffix'))}]`;
  });
  for (const key of Object.keys(BUILT_IN_ROLES) as (keyof typeof BUILT_IN_ROLES)[]) vars[roleVar(key)] = BUILT_IN_ROLES[key].id;
  return vars;
}

const dcrVar = (i: number): string => `dcrName${i + 1}`;

function tableResource(table: TableDefinition): ArmResource {
  return {
    type: T.table,
    apiVersion: API.tables,
    name: nameOf(p('workspaceName'), lit(table.name)),
    properties: {
      plan: 'Analytics',
      retentionInDays: `[${p('retentionInDays')}]`,
      schema: {
        name: table.name,
        description: table.description,
        columns: streamColumns(table).map((col) => ({ name: col.name, type: LA_COLUMN_TYPES[col.type], description: col.description })),
      },
    },
  };
}

/** Tables, the timeline function and (optionally) Sentinel onboarding, deployed into the workspace's resource group. */
function workspaceContentDeployment(tables: readonly TableDefinition[]): ArmResource {
  const workspaceScope = scopeOf(T.workspace, p('workspaceName'));
  return {
    type: T.deployment,
    apiVersion: API.deployments,
    name: `[${v('workspaceDeploymentName')}]`,
    subscriptionId: `[${v('workspaceSubscriptionId')}]`,
    resourceGroup: `[${v('workspaceResourceGroup')}]`,
    dependsOn: [dependsOnId(T.workspace, v('newWorkspaceName'))],
    properties: {
      mode: 'Incremental',
      expressionEvaluationOptions: { scope: 'inner' },
      parameters: {
        workspaceName: { value: `[${v('workspaceName')}]` },
        retentionInDays: { value: `[${p('workspaceRetentionInDays')}]` },
        timelineQuery: { value: `[${v('timelineQuery')}]` },
        onboardSentinel: { value: `[${p('onboardSentinel')}]` },
      },
      template: {
        $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
        contentVersion: '1.0.0.0',
        parameters: {
          workspaceName: { type: 'string' },
          retentionInDays: { type: 'int' },
          timelineQuery: { type: 'string' },
          onboardSentinel: { type: 'bool' },
        },
        resources: [
          ...tables.map((t) => asJson(tableResource(t))),
          {
            type: T.savedSearch,
            apiVersion: API.savedSearches,
            name: nameOf(p('workspaceName'), lit(SAVED_SEARCH_NAME)),
            properties: {
              category: 'AKS evidence',
              displayName: 'AKS evidence timeline',
              query: `[${p('timelineQuery')}]`,
              functionAlias: TIMELINE_FUNCTION_ALIAS,
              functionParameters: timelineFunctionParameters(),
              version: 2,
            },
            dependsOn: tables.map((t) => dependsOnId(T.table, p('workspaceName'), lit(t.name))),
          },
          {
            condition: `[${p('onboardSentinel')}]`,
            type: T.onboarding,
            apiVersion: API.securityInsights,
            scope: workspaceScope,
            name: 'default',
            properties: {},
          },
        ],
        outputs: {},
      },
    },
  };
}

function dcrResource(dcr: DcrDefinition, i: number): ArmResource {
  return {
    type: T.dcr,
    apiVersion: API.dataCollectionRules,
    name: `[${v(dcrVar(i))}]`,
    location: `[${p('location')}]`,
    dependsOn: [dependsOnId(T.dce, v('dceName')), dependsOnId(T.workspace, v('newWorkspaceName')), workspaceDeploymentDependency()],
    properties: {
      description: `aks-evidence Logs Ingestion rule ${i + 1}: ${dcr.tables.join(', ')}`,
      dataCollectionEndpointId: `[${resourceIdOf(T.dce, v('dceName'))}]`,
      streamDeclarations: dcr.streamDeclarations as unknown as JsonObject,
      destinations: { logAnalytics: [{ workspaceResourceId: `[${v('workspaceId')}]`, name: DCR_DESTINATION }] },
      dataFlows: dcr.dataFlows as unknown as Json[],
    },
  };
}

const workspaceDeploymentDependency = (): string =>
  expr(`resourceId(${v('workspaceSubscriptionId')}, ${v('workspaceResourceGroup')}, ${lit(T.deployment)}, ${v('workspaceDeploymentName')})`);

function storageAccount(nameVar: string, sku: string, extra: JsonObject = {}): ArmResource {
  return {
    type: T.storage,
    apiVersion: API.storage,
    name: `[${v(nameVar)}]`,
    location: `[${p('location')}]`,
    kind: 'StorageV2',
    sku: { name: sku },
    properties: {
      accessTier: 'Hot',
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
      allowBlobPublicAccess: false,
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      allowCrossTenantReplication: false,
      publicNetworkAccess: 'Enabled',
      ...extra,
    },
  };
}

interface RoleAssignmentSpec {
  /** Logical purpose, part of the guid seed. */
  purpose: string;
  role: keyof typeof BUILT_IN_ROLES;
  /** Relative scope (scopeOf) and, for dependsOn, the scope resource's type and name segments; undefined = the resource group. */
  scope?: { type: string; parts: string[] };
  principalIdExpr: string;
  /** Seed identifying the principal in the name (no reference() allowed in names). */
  principalSeed: string;
  dependsOn: string[];
  condition?: string;
}

function roleAssignment(spec: RoleAssignmentSpec): ArmResource {
  const scopeIdExpr = spec.scope ? resourceIdOf(spec.scope.type, ...spec.scope.parts) : 'resourceGroup().id';
  return {
    ...(spec.condition ? { condition: spec.condition } : {}),
    type: T.roleAssignment,
    apiVersion: API.roleAssignments,
    ...(spec.scope ? { scope: scopeOf(spec.scope.type, ...spec.scope.parts) } : {}),
    name: `[guid(${scopeIdExpr}, ${spec.principalSeed}, ${v(roleVar(spec.role))})]`,
    dependsOn: spec.dependsOn,
    properties: {
      roleDefinitionId: `[${roleDefinitionIdOf(v(roleVar(spec.role)))}]`,
      principalId: `[${spec.principalIdExpr}]`,
      principalType: 'ServicePrincipal',
      description: `aks-evidence: ${BUILT_IN_ROLES[spec.role].usedFor}`,
    },
  };
}

/** dependsOn entry for a role assignment built by roleAssignment(). */
function roleAssignmentDependency(spec: Pick<RoleAssignmentSpec, 'scope' | 'principalSeed' | 'role'>): string {
  if (!spec.scope) throw new Error('resource-group role assignments are not depended on');
  const scopeIdExpr = resourceIdOf(spec.scope.type, ...spec.scope.parts);
  return dependsOnExtension(spec.scope.type, spec.scope.parts, T.roleAssignment, `guid(${scopeIdExpr}, ${spec.principalSeed}, ${v(roleVar(spec.role))})`);
}

/** The ingestion target document with ARM expressions at its leaves (tagged with \0 while building). */
function ingestionDocument(dcrs: readonly DcrDefinition[]): JsonObject {
  const endpoint = `\0${referenceOf(T.dce, API.dataCollectionEndpoints, [v('dceName')])}.logsIngestion.endpoint`;
  const doc = ingestionTargetDocument(endpoint, dcrs, (dcr) => `\0${referenceOf(T.dcr, API.dataCollectionRules, [v(dcrVar(dcrs.indexOf(dcr)))])}.immutableId`);
  return doc as unknown as JsonObject;
}

/** As an output value: expression leaves `[...]`. */
function withExpressionLeaves(value: Json): Json {
  if (typeof value === 'string') return value.startsWith('\0') ? `[${value.slice(1)}]` : value;
  if (Array.isArray(value)) return value.map(withExpressionLeaves);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, x]) => [k, withExpressionLeaves(x)]));
  return value;
}

/** As an inner expression building the same object (for string(...) in an app setting). */
function createObjectExpr(value: Json): string {
  if (typeof value === 'string') return value.startsWith('\0') ? value.slice(1) : lit(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null) return 'null()';
  if (Array.isArray(value)) return `createArray(${value.map(createObjectExpr).join(', ')})`;
  return `createObject(${Object.entries(value)
    .flatMap(([k, x]) => [lit(k), createObjectExpr(x)])
    .join(', ')})`;
}

/** Build the whole template from the source registry: its tables, their DCR streams, the collector role from its permissions. */
export function buildTemplate(registry: SourceRegistry = SOURCES): ArmTemplate {
  const tables = registry.tables.tables;
  const dcrs = buildDcrDefinitions(tables, { maxStreamsPerDcr: 10 });
  const identityId = resourceIdOf(T.identity, v('identityName'));
  const principalId = `${referenceOf(T.identity, API.userAssignedIdentities, [v('identityName')])}.principalId`;
  const clientId = `${referenceOf(T.identity, API.userAssignedIdentities, [v('identityName')])}.clientId`;
  const playbookPrincipalId = `${referenceOf(T.workflow, API.workflows, [v('playbookName')], true)}.identity.principalId`;
  const sentinel = p('deploySentinelAutomation');
  const vaultUri = `${referenceOf(T.keyVault, API.keyVault, [v('keyVaultName')])}.vaultUri`;
  const doc = ingestionDocument(dcrs);

  const hostStorageScope = { type: T.storage, parts: [v('hostStorageName')] };
  const hostRoles: RoleAssignmentSpec[] = (['storageBlobDataOwner', 'storageQueueDataContributor', 'storageTableDataContributor'] as const).map((role) => ({
    purpose: 'host storage',
    role,
    scope: hostStorageScope,
    principalIdExpr: principalId,
    principalSeed: identityId,
    dependsOn: [dependsOnId(T.storage, v('hostStorageName')), dependsOnId(T.identity, v('identityName'))],
  }));
  const keyVaultOfficer: RoleAssignmentSpec = {
    purpose: 'Functions host keys',
    role: 'keyVaultSecretsOfficer',
    scope: { type: T.keyVault, parts: [v('keyVaultName')] },
    principalIdExpr: principalId,
    principalSeed: identityId,
    dependsOn: [dependsOnId(T.keyVault, v('keyVaultName')), dependsOnId(T.identity, v('identityName'))],
  };
  const evidenceContainerParts = [v('evidenceStorageName'), lit('default'), p('evidenceContainerName')];
  const roleSpecs: RoleAssignmentSpec[] = [
    ...hostRoles,
    keyVaultOfficer,
    {
      purpose: 'evidence',
      role: 'storageBlobDataContributor',
      scope: { type: T.container, parts: evidenceContainerParts },
      principalIdExpr: principalId,
      principalSeed: identityId,
      dependsOn: [dependsOnId(T.container, ...evidenceContainerParts), dependsOnId(T.identity, v('identityName'))],
    },
    {
      purpose: 'telemetry',
      role: 'monitoringMetricsPublisher',
      scope: { type: T.insights, parts: [v('appInsightsName')] },
      principalIdExpr: principalId,
      principalSeed: identityId,
      dependsOn: [dependsOnId(T.insights, v('appInsightsName')), dependsOnId(T.identity, v('identityName'))],
    },
    ...dcrs.map((_, i): RoleAssignmentSpec => ({
      purpose: 'ingestion',
      role: 'monitoringMetricsPublisher',
      scope: { type: T.dcr, parts: [v(dcrVar(i))] },
      principalIdExpr: principalId,
      principalSeed: identityId,
      dependsOn: [dependsOnId(T.dcr, v(dcrVar(i))), dependsOnId(T.identity, v('identityName'))],
    })),
    {
      purpose: 'playbook reads the Function key',
      role: 'keyVaultSecretsUser',
      scope: { type: T.secret, parts: [v('keyVaultName'), lit(FUNCTION_KEY_SECRET_NAME)] },
      principalIdExpr: playbookPrincipalId,
      principalSeed: resourceIdOf(T.workflow, v('playbookName')),
      dependsOn: [dependsOnId(T.secret, v('keyVaultName'), lit(FUNCTION_KEY_SECRET_NAME)), dependsOnId(T.workflow, v('playbookName'))],
      condition: `[${sentinel}]`,
    },
  ];

  const appSettings: JsonObject[] = [
    { name: 'AzureWebJobsStorage__accountName', value: `[${v('hostStorageName')}]` },
    { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' },
    { name: 'AzureWebJobsStorage__clientId', value: `[${clientId}]` },
    { name: 'AzureWebJobsSecretStorageType', value: 'keyvault' },
    { name: 'AzureWebJobsSecretStorageKeyVaultUri', value: `[${vaultUri}]` },
    { name: 'AzureWebJobsSecretStorageKeyVaultClientId', value: `[${clientId}]` },
    { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: `[${referenceOf(T.insights, API.components, [v('appInsightsName')])}.ConnectionString]` },
    { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: `[${fmt('ClientId={0};Authorization=AAD', clientId)}]` },
    { name: SETTING.clientId, value: `[${clientId}]` },
    { name: SETTING.accountUrl, value: `[${referenceOf(T.storage, API.storage, [v('evidenceStorageName')])}.primaryEndpoints.blob]` },
    { name: SETTING.container, value: `[${p('evidenceContainerName')}]` },
    { name: SETTING.ingestion, value: `[string(${createObjectExpr(doc)})]` },
    { name: SETTING.defaultSources, value: `[${p('defaultSources')}]` },
    { name: SETTING.concurrency, value: `[string(${p('collectorConcurrency')})]` },
    { name: SETTING.tsaUrl, value: `[${p('timestampAuthorityUrl')}]` },
    { name: SETTING.defaultClusters, value: `[${p('defaultClusters')}]` },
    { name: SETTING.sentinelPreserveFor, value: `[${p('sentinelPreserveFor')}]` },
  ];

  const siteDependsOn = [
    dependsOnId(T.plan, v('planName')),
    dependsOnId(T.container, v('hostStorageName'), lit('default'), lit(DEPLOYMENT_CONTAINER)),
    dependsOnId(T.insights, v('appInsightsName')),
    dependsOnId(T.identity, v('identityName')),
    dependsOnId(T.storage, v('evidenceStorageName')),
    dependsOnId(T.dce, v('dceName')),
    ...dcrs.map((_, i) => dependsOnId(T.dcr, v(dcrVar(i)))),
    // The host reads its keys from Key Vault at start: the playbook key must be in place first.
    dependsOnId(T.secret, v('keyVaultName'), lit(FUNCTION_KEY_SECRET_NAME)),
    ...hostRoles.map(roleAssignmentDependency),
    roleAssignmentDependency(keyVaultOfficer),
  ];

  const resources: ArmResource[] = [
    {
      condition: `[${v('createWorkspace')}]`,
      type: T.workspace,
      apiVersion: API.workspaces,
      name: `[${v('newWorkspaceName')}]`,
      location: `[${p('location')}]`,
      properties: {
        sku: { name: 'PerGB2018' },
        retentionInDays: `[${p('workspaceRetentionInDays')}]`,
        features: { enableLogAccessUsingOnlyResourcePermissions: true },
      },
    },
    workspaceContentDeployment(tables),
    {
      type: T.dce,
      apiVersion: API.dataCollectionEndpoints,
      name: `[${v('dceName')}]`,
      location: `[${p('location')}]`,
      properties: { description: 'aks-evidence Logs Ingestion endpoint', networkAcls: { publicNetworkAccess: 'Enabled' } },
    },
    ...dcrs.map(dcrResource),

    // Evidence store: versioning + version-level immutability with a default retention, identity-only access.
    storageAccount('evidenceStorageName', `[${p('evidenceStorageSku')}]`),
    {
      type: T.blobService,
      apiVersion: API.storage,
      name: nameOf(v('evidenceStorageName'), lit('default')),
      dependsOn: [dependsOnId(T.storage, v('evidenceStorageName'))],
      properties: {
        isVersioningEnabled: true,
        deleteRetentionPolicy: { enabled: true, days: 30 },
        containerDeleteRetentionPolicy: { enabled: true, days: 30 },
      },
    },
    {
      type: T.container,
      apiVersion: API.storage,
      name: nameOf(...evidenceContainerParts),
      dependsOn: [dependsOnId(T.blobService, v('evidenceStorageName'), lit('default'))],
      properties: { publicAccess: 'None', immutableStorageWithVersioning: { enabled: true } },
    },
    {
      // On a container with version-level immutability this is the default policy every new blob version gets.
      type: T.immutabilityPolicy,
      apiVersion: API.storage,
      name: nameOf(...evidenceContainerParts, lit('default')),
      dependsOn: [dependsOnId(T.container, ...evidenceContainerParts)],
      properties: { immutabilityPeriodSinceCreationInDays: `[${p('evidenceRetentionDays')}]`, allowProtectedAppendWrites: false },
    },

    // Functions host storage and deployment package container.
    storageAccount('hostStorageName', 'Standard_LRS'),
    {
      type: T.blobService,
      apiVersion: API.storage,
      name: nameOf(v('hostStorageName'), lit('default')),
      dependsOn: [dependsOnId(T.storage, v('hostStorageName'))],
      properties: {},
    },
    {
      type: T.container,
      apiVersion: API.storage,
      name: nameOf(v('hostStorageName'), lit('default'), lit(DEPLOYMENT_CONTAINER)),
      dependsOn: [dependsOnId(T.blobService, v('hostStorageName'), lit('default'))],
      properties: { publicAccess: 'None' },
    },
    {
      type: T.identity,
      apiVersion: API.userAssignedIdentities,
      name: `[${v('identityName')}]`,
      location: `[${p('location')}]`,
    },
    {
      type: T.insights,
      apiVersion: API.components,
      name: `[${v('appInsightsName')}]`,
      location: `[${p('location')}]`,
      kind: 'web',
      dependsOn: [dependsOnId(T.workspace, v('newWorkspaceName'))],
      properties: { Application_Type: 'web', WorkspaceResourceId: `[${v('workspaceId')}]`, DisableLocalAuth: true },
    },
    {
      type: T.keyVault,
      apiVersion: API.keyVault,
      name: `[${v('keyVaultName')}]`,
      location: `[${p('location')}]`,
      properties: {
        tenantId: '[subscription().tenantId]',
        sku: { family: 'A', name: 'standard' },
        enableRbacAuthorization: true,
        accessPolicies: [],
        enableSoftDelete: true,
        softDeleteRetentionInDays: 7,
        publicNetworkAccess: 'Enabled',
      },
    },
    {
      type: T.secret,
      apiVersion: API.keyVault,
      name: nameOf(v('keyVaultName'), lit(FUNCTION_KEY_SECRET_NAME)),
      dependsOn: [dependsOnId(T.keyVault, v('keyVaultName'))],
      properties: { value: `[${p('playbookFunctionKey')}]`, contentType: 'Azure Functions host function key (sentinelPlaybook), read by the Sentinel playbook' },
    },
    {
      type: T.plan,
      apiVersion: API.web,
      name: `[${v('planName')}]`,
      location: `[${p('location')}]`,
      kind: 'functionapp',
      sku: { name: 'FC1', tier: 'FlexConsumption' },
      properties: { reserved: true },
    },
    {
      type: T.site,
      apiVersion: API.web,
      name: `[${v('functionAppName')}]`,
      location: `[${p('location')}]`,
      kind: 'functionapp,linux',
      identity: { type: 'UserAssigned', userAssignedIdentities: { [`[${identityId}]`]: {} } },
      dependsOn: siteDependsOn,
      properties: {
        serverFarmId: `[${resourceIdOf(T.plan, v('planName'))}]`,
        httpsOnly: true,
        functionAppConfig: {
          deployment: {
            storage: {
              type: 'blobContainer',
              value: `[${fmt('{0}{1}', `${referenceOf(T.storage, API.storage, [v('hostStorageName')])}.primaryEndpoints.blob`, lit(DEPLOYMENT_CONTAINER))}]`,
              authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: `[${identityId}]` },
            },
          },
          scaleAndConcurrency: { maximumInstanceCount: `[${p('maximumInstanceCount')}]`, instanceMemoryMB: `[${p('instanceMemoryMB')}]` },
          runtime: { name: 'node', version: '22' },
        },
        siteConfig: { minTlsVersion: '1.2', appSettings },
      },
    },
    {
      condition: `[not(empty(${p('functionPackageUrl')}))]`,
      type: T.siteExtension,
      apiVersion: API.web,
      name: nameOf(v('functionAppName'), lit('onedeploy')),
      dependsOn: [dependsOnId(T.site, v('functionAppName'))],
      properties: { packageUri: `[${p('functionPackageUrl')}]`, remoteBuild: false },
    },
    ...roleSpecs.map(roleAssignment),

    // The collector role on the clusters.
    {
      type: T.roleDefinition,
      apiVersion: API.roleDefinitions,
      name: `[${v('collectorRoleGuid')}]`,
      properties: {
        roleName: `[${v('collectorRoleName')}]`,
        description:
          'aks-evidence collector: read the Kubernetes objects the evidence sources collect, exec the read-only shell-history command (if allowed), ' +
          'read Secret metadata (if allowed), and get the cluster user kubeconfig (server + CA; the token comes from Entra ID).',
        type: 'CustomRole',
        permissions: [
          {
            actions: `[${v('collectorActions')}]`,
            notActions: [],
            dataActions: `[${v('collectorDataActions')}]`,
            notDataActions: [],
          },
        ],
        assignableScopes: `[${v('collectorAssignableScopes')}]`,
      },
    },
    clusterAccessDeployment(principalId),

    // Sentinel: playbook, its connection, the automation rule.
    {
      condition: `[${sentinel}]`,
      type: T.connection,
      apiVersion: API.connections,
      name: `[${v('sentinelConnectionName')}]`,
      location: `[${p('location')}]`,
      kind: 'V1',
      properties: {
        displayName: `[${v('sentinelConnectionName')}]`,
        customParameterValues: {},
        parameterValueType: 'Alternative',
        api: { id: `[subscriptionResourceId('Microsoft.Web/locations/managedApis', ${p('location')}, 'azuresentinel')]` },
      },
    },
    {
      condition: `[${sentinel}]`,
      type: T.workflow,
      apiVersion: API.workflows,
      name: `[${v('playbookName')}]`,
      location: `[${p('location')}]`,
      identity: { type: 'SystemAssigned' },
      dependsOn: [dependsOnId(T.connection, v('sentinelConnectionName')), dependsOnId(T.site, v('functionAppName')), dependsOnId(T.keyVault, v('keyVaultName'))],
      properties: {
        state: 'Enabled',
        definition: buildPlaybookDefinition(),
        parameters: {
          $connections: {
            value: {
              azuresentinel: {
                connectionId: `[${resourceIdOf(T.connection, v('sentinelConnectionName'))}]`,
                connectionName: `[${v('sentinelConnectionName')}]`,
                id: `[subscriptionResourceId('Microsoft.Web/locations/managedApis', ${p('location')}, 'azuresentinel')]`,
                connectionProperties: { authentication: { type: 'ManagedServiceIdentity' } },
              },
            },
          },
          functionBaseUrl: { value: `[${fmt('https://{0}', `${referenceOf(T.site, API.web, [v('functionAppName')])}.defaultHostName`)}]` },
          functionKeySecretUri: { value: `[${fmt('{0}secrets/{1}', vaultUri, lit(FUNCTION_KEY_SECRET_NAME))}]` },
          pollIntervalSeconds: { value: `[${p('playbookPollIntervalSeconds')}]` },
          collectionTimeout: { value: `[${p('playbookTimeout')}]` },
        },
      },
    },
    {
      // Lets Sentinel (the Azure Security Insights service principal) run playbooks of this resource group.
      condition: `[and(${sentinel}, not(empty(${p('sentinelServicePrincipalObjectId')})))]`,
      type: T.roleAssignment,
      apiVersion: API.roleAssignments,
      name: `[${automationContributorAssignmentName()}]`,
      properties: {
        roleDefinitionId: `[${roleDefinitionIdOf(v(roleVar('sentinelAutomationContributor')))}]`,
        principalId: `[${p('sentinelServicePrincipalObjectId')}]`,
        principalType: 'ServicePrincipal',
        description: `aks-evidence: ${BUILT_IN_ROLES.sentinelAutomationContributor.usedFor}`,
      },
    },
    sentinelWorkspaceDeployment(playbookPrincipalId, principalId, identityId),
    sentinelContentDeployment(tables),
  ];

  return {
    $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
    contentVersion: '1.0.0.0',
    metadata: {
      description: 'aks-evidence: serverless forensic evidence collection for AKS. Generated by infra/generate.ts from shared/ingestion/tableRegistry.ts; do not edit by hand.',
      tables: tables.map((t) => t.name),
    },
    parameters: parameters(),
    variables: variables(dcrs, registry),
    resources,
    outputs: {
      functionAppName: { type: 'string', value: `[${v('functionAppName')}]` },
      functionAppUrl: { type: 'string', value: `[${fmt('https://{0}', `${referenceOf(T.site, API.web, [v('functionAppName')])}.defaultHostName`)}]` },
      managedIdentityClientId: { type: 'string', value: `[${clientId}]` },
      managedIdentityPrincipalId: { type: 'string', value: `[${principalId}]` },
      dceLogsIngestionEndpoint: { type: 'string', value: `[${referenceOf(T.dce, API.dataCollectionEndpoints, [v('dceName')])}.logsIngestion.endpoint]` },
      ingestionTarget: { type: 'object', value: withExpressionLeaves(doc) },
      evidenceContainerUrl: {
        type: 'string',
        value: `[${fmt('{0}{1}', `${referenceOf(T.storage, API.storage, [v('evidenceStorageName')])}.primaryEndpoints.blob`, p('evidenceContainerName'))}]`,
      },
      evidenceStorageAccountName: { type: 'string', value: `[${v('evidenceStorageName')}]` },
      dcrIds: { type: 'array', value: dcrs.map((_, i) => `[${resourceIdOf(T.dcr, v(dcrVar(i)))}]`) },
      dcrImmutableIds: { type: 'array', value: dcrs.map((_, i) => `[${referenceOf(T.dcr, API.dataCollectionRules, [v(dcrVar(i))])}.immutableId]`) },
      workspaceResourceId: { type: 'string', value: `[${v('workspaceId')}]` },
      timelineFunction: { type: 'string', value: TIMELINE_FUNCTION_ALIAS },
      keyVaultName: { type: 'string', value: `[${v('keyVaultName')}]` },
      collectorRoleDefinitionId: { type: 'string', value: `[${roleDefinitionIdOf(v('collectorRoleGuid'))}]` },
      playbookResourceId: { type: 'string', condition: `[${sentinel}]`, value: `[${resourceIdOf(T.workflow, v('playbookName'))}]` },
    },
  };
}

/** One nested deployment per entry of clusterAccessScopes, in that scope's subscription and resource group. */
function clusterAccessDeployment(principalId: string): ArmResource {
  const scopeParam = `${p('clusterAccessScopes')}[copyIndex()]`;
  const isCluster = "contains(toLower(parameters('scopeId')), '/providers/microsoft.containerservice/managedclusters/')";
  const assignment = (condition: string, scoped: boolean): ArmResource => ({
    condition: `[${condition}]`,
    type: T.roleAssignment,
    apiVersion: API.roleAssignments,
    ...(scoped ? { scope: "[format('Microsoft.ContainerService/managedClusters/{0}', last(split(parameters('scopeId'), '/')))]" } : {}),
    name: "[guid(parameters('scopeId'), parameters('principalSeed'), parameters('roleDefinitionGuid'))]",
    properties: {
      roleDefinitionId: `[${roleDefinitionIdOf("parameters('roleDefinitionGuid')")}]`,
      principalId: "[parameters('principalId')]",
      principalType: 'ServicePrincipal',
      description: 'aks-evidence: collect evidence from AKS clusters (Kubernetes reads, shell-history exec, user kubeconfig)',
    },
  });
  return {
    type: T.deployment,
    apiVersion: API.deployments,
    name: `[${fmt('aks-evidence-access-{0}-{1}', v('suffix'), 'copyIndex()')}]`,
    copy: { name: 'clusterAccess', count: `[length(${p('clusterAccessScopes')})]` },
    subscriptionId: `[split(${scopeParam}, '/')[2]]`,
    resourceGroup: `[split(${scopeParam}, '/')[4]]`,
    dependsOn: [dependsOnId(T.roleDefinition, v('collectorRoleGuid')), dependsOnId(T.identity, v('identityName'))],
    properties: {
      mode: 'Incremental',
      expressionEvaluationOptions: { scope: 'inner' },
      parameters: {
        scopeId: { value: `[${scopeParam}]` },
        roleDefinitionGuid: { value: `[${v('collectorRoleGuid')}]` },
        principalId: { value: `[${principalId}]` },
        principalSeed: { value: `[${resourceIdOf(T.identity, v('identityName'))}]` },
      },
      template: {
        $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
        contentVersion: '1.0.0.0',
        parameters: {
          scopeId: { type: 'string' },
          roleDefinitionGuid: { type: 'string' },
          principalId: { type: 'string' },
          principalSeed: { type: 'string' },
        },
        resources: [asJson(assignment(isCluster, true)), asJson(assignment(`not(${isCluster})`, false))],
        outputs: {},
      },
    },
  };
}

const automationContributorAssignmentName = (): string => `guid(resourceGroup().id, ${p('sentinelServicePrincipalObjectId')}, ${v(roleVar('sentinelAutomationContributor'))})`;

/** The automation rule, the playbook's Responder role and the Function's Sentinel Reader role, in the workspace's resource group. */
function sentinelWorkspaceDeployment(playbookPrincipalId: string, functionPrincipalId: string, functionIdentityId: string): ArmResource {
  const workspaceScope = SENTINEL_WORKSPACE_SCOPE;
  const workspaceId = SENTINEL_WORKSPACE_ID;
  return {
    condition: `[${p('deploySentinelAutomation')}]`,
    type: T.deployment,
    apiVersion: API.deployments,
    name: `[${v('sentinelDeploymentName')}]`,
    subscriptionId: `[${v('workspaceSubscriptionId')}]`,
    resourceGroup: `[${v('workspaceResourceGroup')}]`,
    dependsOn: [
      dependsOnId(T.workflow, v('playbookName')),
      dependsOnId(T.identity, v('identityName')),
      workspaceDeploymentDependency(),
      // Sentinel must be allowed to run the playbook before a rule points at it.
      expr(resourceIdOf(T.roleAssignment, automationContributorAssignmentName())),
    ],
    properties: {
      mode: 'Incremental',
      expressionEvaluationOptions: { scope: 'inner' },
      parameters: {
        workspaceName: { value: `[${v('workspaceName')}]` },
        playbookId: { value: `[${resourceIdOf(T.workflow, v('playbookName'))}]` },
        playbookPrincipalId: { value: `[${playbookPrincipalId}]` },
        responderRoleGuid: { value: `[${v(roleVar('sentinelResponder'))}]` },
        functionPrincipalId: { value: `[${functionPrincipalId}]` },
        functionIdentityId: { value: `[${functionIdentityId}]` },
        readerRoleGuid: { value: `[${v(roleVar('sentinelReader'))}]` },
        ruleEnabled: { value: `[${p('automationRuleEnabled')}]` },
        ruleOrder: { value: `[${p('automationRuleOrder')}]` },
        ruleConditions: { value: `[${v('automationRuleConditions')}]` },
        analyticRuleIds: { value: `[${p('automationRuleAnalyticRuleIds')}]` },
      },
      template: {
        $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
        contentVersion: '1.0.0.0',
        parameters: {
          workspaceName: { type: 'string' },
          playbookId: { type: 'string' },
          playbookPrincipalId: { type: 'string' },
          responderRoleGuid: { type: 'string' },
          functionPrincipalId: { type: 'string' },
          functionIdentityId: { type: 'string' },
          readerRoleGuid: { type: 'string' },
          ruleEnabled: { type: 'bool' },
          ruleOrder: { type: 'int' },
          ruleConditions: { type: 'array' },
          analyticRuleIds: { type: 'array' },
        },
        resources: [
          playbookRule('aks-evidence-collect', 'aks-evidence: collect AKS evidence for new incidents', 'Created', "[parameters('ruleConditions')]"),
          // The same incidents, once closed: the playbook sends the closed incident and the Function stops its runs' preservation windows.
          playbookRule(
            'aks-evidence-incident-closed',
            'aks-evidence: stop preserving AKS evidence when the incident is closed',
            'Updated',
            `[concat(parameters('ruleConditions'), createArray(${CLOSED_CONDITION}))]`,
          ),
          // Incidents of the named analytic rules (scheduled AKSAudit rules name no AKS resource), whatever their entities.
          playbookRule(
            'aks-evidence-collect-analytic-rules',
            'aks-evidence: collect AKS evidence for incidents of AKS analytic rules',
            'Created',
            `[createArray(${ANALYTIC_RULES_CONDITION})]`,
            "[not(empty(parameters('analyticRuleIds')))]",
          ),
          // ... and once closed.
          playbookRule(
            'aks-evidence-analytic-rules-incident-closed',
            'aks-evidence: stop preserving AKS evidence when an incident of AKS analytic rules is closed',
            'Updated',
            `[createArray(${ANALYTIC_RULES_CONDITION}, ${CLOSED_CONDITION})]`,
            "[not(empty(parameters('analyticRuleIds')))]",
          ),
          {
            type: T.roleAssignment,
            apiVersion: API.roleAssignments,
            scope: workspaceScope,
            name: `[guid(${workspaceId}, parameters('playbookId'), parameters('responderRoleGuid'))]`,
            properties: {
              roleDefinitionId: `[${roleDefinitionIdOf("parameters('responderRoleGuid')")}]`,
              principalId: "[parameters('playbookPrincipalId')]",
              principalType: 'ServicePrincipal',
              description: `aks-evidence: ${BUILT_IN_ROLES.sentinelResponder.usedFor}`,
            },
          },
          {
            // The Function asks Sentinel about each incident it is sent (alerts, entities, SecurityAlert rows).
            type: T.roleAssignment,
            apiVersion: API.roleAssignments,
            scope: workspaceScope,
            name: `[guid(${workspaceId}, parameters('functionIdentityId'), parameters('readerRoleGuid'))]`,
            properties: {
              roleDefinitionId: `[${roleDefinitionIdOf("parameters('readerRoleGuid')")}]`,
              principalId: "[parameters('functionPrincipalId')]",
              principalType: 'ServicePrincipal',
              description: `aks-evidence: ${BUILT_IN_ROLES.sentinelReader.usedFor}`,
            },
          },
        ],
        outputs: {},
      },
    },
  };
}

/** infra/azuredeploy.parameters.example.json */
export function buildExampleParameters(): JsonObject {
  return {
    $schema: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#',
    contentVersion: '1.0.0.0',
    parameters: {
      namePrefix: { value: 'aksev' },
      existingWorkspaceResourceId: {
        value: '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel/providers/Microsoft.OperationalInsights/workspaces/law-sentinel',
      },
      evidenceRetentionDays: { value: 365 },
      clusterAccessScopes: {
        value: [
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-prod/providers/Microsoft.ContainerService/managedClusters/aks-prod',
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-aks-dev',
        ],
      },
      sentinelServicePrincipalObjectId: { value: '00000000-0000-0000-0000-000000000000' },
      automationRuleEnabled: { value: false },
      automationRuleSeverities: { value: ['High', 'Medium'] },
    },
  };
}

/** The workspace, inside the Sentinel deployment (its parameters). */
const SENTINEL_WORKSPACE_SCOPE = "[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspaceName'))]";
const SENTINEL_WORKSPACE_ID = "resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))";

/** Condition of the rules on closing: the incident's status changed to Closed. */
const CLOSED_CONDITION =
  "createObject('conditionType', 'PropertyChanged', 'conditionProperties', createObject('propertyName', 'IncidentStatus', 'changeType', 'ChangedTo', 'operator', 'Equals', 'propertyValues', createArray('Closed')))";
/** Condition of the rules for the named analytic rules' incidents. */
const ANALYTIC_RULES_CONDITION =
  "createObject('conditionType', 'Property', 'conditionProperties', createObject('propertyName', 'IncidentRelatedAnalyticRuleIds', 'operator', 'Contains', 'propertyValues', parameters('analyticRuleIds')))";

/** An automation rule of the workspace that runs the playbook (inside the Sentinel deployment: its parameters). */
function playbookRule(key: string, displayName: string, triggersWhen: 'Created' | 'Updated', conditions: string, condition?: string): JsonObject {
  return {
    ...(condition ? { condition } : {}),
    type: T.automationRule,
    apiVersion: API.securityInsights,
    scope: SENTINEL_WORKSPACE_SCOPE,
    name: `[guid(${SENTINEL_WORKSPACE_ID}, '${key}')]`,
    properties: {
      displayName,
      order: "[parameters('ruleOrder')]",
      triggeringLogic: { isEnabled: "[parameters('ruleEnabled')]", triggersOn: 'Incidents', triggersWhen, conditions },
      actions: [
        {
          order: 1,
          actionType: 'RunPlaybook',
          actionConfiguration: { logicAppResourceId: "[parameters('playbookId')]", tenantId: '[subscription().tenantId]' },
        },
      ],
    },
  };
}
