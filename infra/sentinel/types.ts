/**
 * Sentinel content in the Azure-Sentinel repository's own shapes: hunting queries and
 * scheduled analytic rules as its YAML fields (id, name, description, severity,
 * requiredDataConnectors, queryFrequency, queryPeriod, triggerOperator, triggerThreshold,
 * tactics, relevantTechniques, query, entityMappings, version, kind). The same definitions
 * become the template's resources (savedSearches, alertRules) and the committed YAML files.
 */

/** MITRE ATT&CK tactics as Sentinel spells them. */
export type Tactic =
  | 'InitialAccess'
  | 'Execution'
  | 'Persistence'
  | 'PrivilegeEscalation'
  | 'DefenseEvasion'
  | 'CredentialAccess'
  | 'Discovery'
  | 'LateralMovement'
  | 'Collection'
  | 'Exfiltration'
  | 'CommandAndControl'
  | 'Impact';

export interface EntityMapping {
  entityType: 'Account' | 'AzureResource' | 'IP' | 'Process' | 'Host' | 'URL' | 'File';
  fieldMappings: { identifier: string; columnName: string }[];
}

export interface HuntingQuery {
  /** Stable GUID: the content id (and the saved search / rule name in the template). */
  id: string;
  name: string;
  description: string;
  tactics: Tactic[];
  /** ATT&CK technique ids, sub-techniques included (T1552.005). */
  relevantTechniques: string[];
  query: string;
  entityMappings: EntityMapping[];
  version: string;
}

export interface AnalyticRule extends HuntingQuery {
  severity: 'High' | 'Medium' | 'Low' | 'Informational';
  /** Azure-Sentinel duration notation: 5m, 1h, 1d. */
  queryFrequency: string;
  queryPeriod: string;
  triggerOperator: 'gt' | 'lt' | 'eq' | 'ne';
  triggerThreshold: number;
  /** Alert field name → result column. */
  customDetails?: Record<string, string>;
  alertDetailsOverride?: { alertDisplayNameFormat: string; alertDescriptionFormat: string };
}

/** The evidence tables' data arrives through the project's own DCE/DCR: no Sentinel data connector stands for it. */
export const REQUIRED_DATA_CONNECTORS: { connectorId: string; dataTypes: string[] }[] = [];
