/**
 * The Sentinel content as files in the Azure-Sentinel repository's layout and formats, written
 * by `npm run generate:infra` next to the template that deploys the same content:
 *   infra/sentinel/Analytic Rules/<name>.yaml   scheduled rules (kind: Scheduled)
 *   infra/sentinel/Hunting Queries/<name>.yaml  hunting queries
 *   infra/sentinel/Workbooks/AksEvidence.json   the workbook as a gallery template
 */
import { stringify } from 'yaml';
import { ANALYTIC_RULES } from './analyticRules.js';
import { HUNTING_QUERIES } from './huntingQueries.js';
import { REQUIRED_DATA_CONNECTORS, type AnalyticRule, type HuntingQuery } from './types.js';
import type { TableDefinition } from '../../shared/tables/table.js';
import { buildWorkbook } from './workbook.js';

export const SENTINEL_DIR = 'infra/sentinel';

/** A file name from a content name: "AKS evidence: who read Secrets" → AksEvidence-WhoReadSecrets. */
export function contentFileName(name: string): string {
  const [head, ...rest] = name.split(':');
  const words = (s: string) => s.replace(/[^A-Za-z0-9 ]+/g, ' ').split(/\s+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1));
  return [words(head ?? '').join(''), words(rest.join(' ')).join('')].filter(Boolean).join('-');
}

const yaml = (value: object): string => stringify(value, { lineWidth: 0, blockQuote: 'literal' });

export function huntingQueryYaml(q: HuntingQuery): string {
  return yaml({
    id: q.id,
    name: q.name,
    description: q.description,
    requiredDataConnectors: REQUIRED_DATA_CONNECTORS,
    tactics: q.tactics,
    relevantTechniques: q.relevantTechniques,
    query: `${q.query}\n`,
    entityMappings: q.entityMappings,
    version: q.version,
  });
}

export function analyticRuleYaml(r: AnalyticRule): string {
  return yaml({
    id: r.id,
    name: r.name,
    description: r.description,
    severity: r.severity,
    status: 'Available',
    requiredDataConnectors: REQUIRED_DATA_CONNECTORS,
    queryFrequency: r.queryFrequency,
    queryPeriod: r.queryPeriod,
    triggerOperator: r.triggerOperator,
    triggerThreshold: r.triggerThreshold,
    tactics: r.tactics,
    relevantTechniques: r.relevantTechniques,
    query: `${r.query}\n`,
    entityMappings: r.entityMappings,
    ...(r.customDetails ? { customDetails: r.customDetails } : {}),
    ...(r.alertDetailsOverride ? { alertDetailsOverride: r.alertDetailsOverride } : {}),
    version: r.version,
    kind: 'Scheduled',
  });
}

/** Every content file, relative to the repository root (the workbook spans `tables`, default the product's). */
export function sentinelContentFiles(tables?: readonly TableDefinition[]): Record<string, string> {
  const files: Record<string, string> = {};
  for (const r of ANALYTIC_RULES) files[`${SENTINEL_DIR}/Analytic Rules/${contentFileName(r.name)}.yaml`] = analyticRuleYaml(r);
  for (const q of HUNTING_QUERIES) files[`${SENTINEL_DIR}/Hunting Queries/${contentFileName(q.name)}.yaml`] = huntingQueryYaml(q);
  files[`${SENTINEL_DIR}/Workbooks/AksEvidence.json`] = `${JSON.stringify(buildWorkbook(tables), null, 2)}\n`;
  return files;
}
