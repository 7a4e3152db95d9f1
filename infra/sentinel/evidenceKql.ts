import type { EntityMapping } from './types.js';

/**
 * KQL building blocks for the Sentinel content over the evidence tables. Every read of an
 * evidence table goes through `evidence()`, which de-duplicates by RecordId: an ingestion
 * retried after a crash re-sends rows Log Analytics already has, and a query that counted them
 * twice would double findings, alerts and timelines. (Table names are checked by the tests,
 * which analyse every query against the registry's schemas.)
 */

export interface EvidenceReadOptions {
  /** A `where` on TimeGenerated (or anything) applied before de-duplication, e.g. `TimeGenerated {TimeRange}`. */
  where?: string;
  /**
   * 'latest' (default): one row per RecordId, its latest TimeGenerated (`arg_max`).
   * 'first-ingested': one row per RecordId with `Ingested`, the time Log Analytics first received it:
   * scheduled rules alert on what arrived since their last run, never twice for a re-sent row.
   */
  keep?: 'latest' | 'first-ingested';
}

/** `(<table> | where … | summarize … by RecordId)`: the rows of an evidence table, each once. */
export function evidence(table: string, options: EvidenceReadOptions = {}): string {
  const where = options.where ? ` | where ${options.where}` : '';
  if (options.keep === 'first-ingested') return `(${table}${where} | extend Ingested = ingestion_time() | summarize arg_min(Ingested, *) by RecordId)`;
  return `(${table}${where} | summarize arg_max(TimeGenerated, *) by RecordId)`;
}

/** The pattern every shipped query must contain after each evidence table it reads (tests check it). */
export const DEDUPE_PATTERN = /\|\s*summarize\s+arg_(?:max|min)\([^)]*\*\)\s+by\s+RecordId\b/;

/** The cluster of a row (its ClusterResourceId) as an Azure resource entity. */
export const clusterEntity: EntityMapping = { entityType: 'AzureResource', fieldMappings: [{ identifier: 'ResourceId', columnName: 'ClusterResourceId' }] };

/** An account entity from a column (a user, a service account, a binding's subject). */
export function accountEntity(columnName: string): EntityMapping {
  return { entityType: 'Account', fieldMappings: [{ identifier: 'Name', columnName }] };
}

/** An IP entity from a column. */
export function ipEntity(columnName: string): EntityMapping {
  return { entityType: 'IP', fieldMappings: [{ identifier: 'Address', columnName }] };
}

/** Leaves out the collector's own requests (its user agent is aks-evidence/<version>): they are recorded in each run's manifest. */
export const NOT_THE_COLLECTOR = '| where not(user_agent startswith "aks-evidence/")';
