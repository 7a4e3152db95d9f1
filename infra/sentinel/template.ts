/**
 * The Sentinel content as resources of infra/azuredeploy.json: one nested deployment in the
 * workspace's resource group with the workbook (Microsoft.Insights/workbooks), the hunting
 * queries (workspace savedSearches in the "Hunting Queries" category, as Sentinel's Hunting
 * blade lists them) and the scheduled analytic rules (Microsoft.SecurityInsights/alertRules).
 * It depends on the workspace content deployment: rules are validated against the tables.
 */
import { API, DEPLOYMENT_TEMPLATE_SCHEMA, expr, fmt, lit, p, v, type ArmParameter, type ArmResource, type Json, type JsonObject } from '../arm.js';
import { ANALYTIC_RULES } from './analyticRules.js';
import { HUNTING_QUERIES } from './huntingQueries.js';
import type { AnalyticRule, HuntingQuery } from './types.js';
import { SOURCES } from '../../shared/sources/registry.js';
import type { TableDefinition } from '../../shared/tables/table.js';
import { buildWorkbook, WORKBOOK_DISPLAY_NAME } from './workbook.js';

export const WORKBOOK_API_VERSION = '2022-04-01';
const WORKSPACE_ID = "resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))";
const WORKSPACE_SCOPE = "[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspaceName'))]";

/** ARM reads a string that starts with "[" as an expression: a literal one is written "[[". */
const literal = (s: string): string => (s.startsWith('[') ? `[${s}` : s);

/** Azure-Sentinel durations (5m, 1h, 3d) as ISO 8601 (PT5M, PT1H, P3D). */
export function isoDuration(text: string): string {
  const m = /^(\d+)([mhd])$/.exec(text);
  if (!m) throw new Error(`not an Azure-Sentinel duration: ${text}`);
  return m[2] === 'd' ? `P${m[1]}D` : `PT${m[1]}${m[2]!.toUpperCase()}`;
}

const OPERATORS: Record<AnalyticRule['triggerOperator'], string> = { gt: 'GreaterThan', lt: 'LessThan', eq: 'Equal', ne: 'NotEqual' };

/** The rule API takes techniques (T1234); sub-techniques (T1234.001) are named by their technique. */
const techniques = (ids: readonly string[]): string[] => [...new Set(ids.map((t) => t.split('.')[0] ?? t))];

function huntingQueryResource(q: HuntingQuery): JsonObject {
  return {
    condition: "[parameters('deployContent')]",
    type: 'Microsoft.OperationalInsights/workspaces/savedSearches',
    apiVersion: API.savedSearches,
    name: `[format('{0}/{1}', parameters('workspaceName'), ${lit(q.id)})]`,
    properties: {
      category: 'Hunting Queries',
      displayName: literal(q.name),
      query: literal(q.query),
      version: 2,
      tags: [
        { name: 'description', value: literal(q.description) },
        { name: 'tactics', value: q.tactics.join(',') },
        { name: 'techniques', value: techniques(q.relevantTechniques).join(',') },
      ],
    },
  };
}

function analyticRuleResource(r: AnalyticRule): JsonObject {
  const properties: JsonObject = {
    displayName: literal(r.name),
    description: literal(r.description),
    severity: r.severity,
    enabled: true,
    query: literal(r.query),
    queryFrequency: isoDuration(r.queryFrequency),
    queryPeriod: isoDuration(r.queryPeriod),
    triggerOperator: OPERATORS[r.triggerOperator],
    triggerThreshold: r.triggerThreshold,
    suppressionDuration: 'PT1H',
    suppressionEnabled: false,
    tactics: [...r.tactics],
    techniques: techniques(r.relevantTechniques),
    entityMappings: r.entityMappings as unknown as Json,
    eventGroupingSettings: { aggregationKind: 'AlertPerResult' },
    incidentConfiguration: {
      createIncident: true,
      // One incident per run and cluster: every alert of a collection lands in the same place.
      groupingConfiguration: { enabled: true, reopenClosedIncident: false, lookbackDuration: 'P1D', matchingMethod: 'Selected', groupByEntities: ['AzureResource'], groupByAlertDetails: [], groupByCustomDetails: r.customDetails?.RunId ? ['RunId'] : [] },
    },
    templateVersion: r.version,
  };
  if (r.customDetails) properties.customDetails = r.customDetails;
  if (r.alertDetailsOverride) properties.alertDetailsOverride = r.alertDetailsOverride;
  return {
    condition: "[parameters('deployAnalyticRules')]",
    type: 'Microsoft.SecurityInsights/alertRules',
    apiVersion: API.securityInsights,
    scope: WORKSPACE_SCOPE,
    name: r.id,
    kind: 'Scheduled',
    properties,
  };
}

function workbookResource(tables: readonly TableDefinition[]): JsonObject {
  return {
    condition: "[parameters('deployContent')]",
    type: 'Microsoft.Insights/workbooks',
    apiVersion: WORKBOOK_API_VERSION,
    name: `[guid(${WORKSPACE_ID}, 'aks-evidence-workbook')]`,
    location: "[parameters('location')]",
    kind: 'shared',
    properties: {
      displayName: WORKBOOK_DISPLAY_NAME,
      serializedData: literal(JSON.stringify(buildWorkbook(tables))),
      version: 'Notebook/1.0',
      sourceId: `[${WORKSPACE_ID}]`,
      category: 'sentinel',
    },
  };
}

/** The template's parameters for the content (spread into its parameter list). */
export function sentinelContentParameters(): Record<string, ArmParameter> {
  return {
    deploySentinelContent: { type: 'bool', defaultValue: true, metadata: { description: 'Deploy the "AKS evidence" workbook and the aks-evidence hunting queries into the workspace.' } },
    deployAnalyticRules: {
      type: 'bool',
      defaultValue: true,
      metadata: { description: 'Deploy the aks-evidence scheduled analytic rules (needs Microsoft Sentinel on the workspace: see onboardSentinel).' },
    },
  };
}

/** The nested deployment of the content into the workspace's resource group; the workbook spans `tables` (default: the product's). */
export function sentinelContentDeployment(tables: readonly TableDefinition[] = SOURCES.tables.tables): ArmResource {
  return {
    condition: `[or(${p('deploySentinelContent')}, ${p('deployAnalyticRules')})]`,
    type: 'Microsoft.Resources/deployments',
    apiVersion: API.deployments,
    name: `[${fmt('aks-evidence-sentinel-content-{0}', v('suffix'))}]`,
    subscriptionId: `[${v('workspaceSubscriptionId')}]`,
    resourceGroup: `[${v('workspaceResourceGroup')}]`,
    // Tables and Sentinel onboarding first: analytic rules are validated against the workspace schema.
    dependsOn: [expr(`resourceId(${v('workspaceSubscriptionId')}, ${v('workspaceResourceGroup')}, ${lit('Microsoft.Resources/deployments')}, ${v('workspaceDeploymentName')})`)],
    properties: {
      mode: 'Incremental',
      expressionEvaluationOptions: { scope: 'inner' },
      parameters: {
        workspaceName: { value: `[${v('workspaceName')}]` },
        location: { value: `[${p('location')}]` },
        deployContent: { value: `[${p('deploySentinelContent')}]` },
        deployAnalyticRules: { value: `[${p('deployAnalyticRules')}]` },
      },
      template: {
        $schema: DEPLOYMENT_TEMPLATE_SCHEMA,
        contentVersion: '1.0.0.0',
        parameters: {
          workspaceName: { type: 'string' },
          location: { type: 'string' },
          deployContent: { type: 'bool' },
          deployAnalyticRules: { type: 'bool' },
        },
        resources: [workbookResource(tables), ...HUNTING_QUERIES.map(huntingQueryResource), ...ANALYTIC_RULES.map(analyticRuleResource)],
        outputs: {},
      },
    },
  };
}
