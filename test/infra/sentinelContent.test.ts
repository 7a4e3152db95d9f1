/**
 * The Sentinel content (infra/sentinel): every query of the analytic rules, the hunting queries
 * and the workbook is analysed by Microsoft's Kusto language service against the evidence
 * tables' generated schemas, reads each evidence table once per RecordId, and returns the
 * columns its entity mappings and custom details name; the template deploys the workbook,
 * hunting queries and scheduled rules into the workspace; the committed YAML and JSON files are
 * in the Azure-Sentinel formats and equal what the generator writes.
 */
import { parse } from 'yaml';
import { ANALYTIC_RULES } from '../../infra/sentinel/analyticRules.js';
import { DEDUPE_PATTERN } from '../../infra/sentinel/evidenceKql.js';
import { contentFileName, sentinelContentFiles } from '../../infra/sentinel/files.js';
import { HUNTING_QUERIES } from '../../infra/sentinel/huntingQueries.js';
import { isoDuration } from '../../infra/sentinel/template.js';
import { buildWorkbook, workbookQueries, WORKBOOK_DISPLAY_NAME } from '../../infra/sentinel/workbook.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { evaluateValue } from './armExpression.js';
import { analyseKql, describeDiagnostic, resultColumns } from './kusto.js';
import { committedTemplate, contextFor, nestedWith, readCommitted, type Resource } from './templateModel.js';

const TABLES = new Set(SOURCES.tables.names());

/** Workbook parameters as the workbook expands them (a time range, and the "All" selection). */
function expandWorkbookParameters(query: string): string {
  return query.replaceAll('{TimeRange}', '> ago(14d)').replaceAll('{Cluster}', "'*'").replaceAll('{RunId}', "'*'");
}

/** Evidence tables a query reads whose rows are not de-duplicated by RecordId before use. */
function undeduplicatedReads(query: string): string[] {
  // Table names inside string literals (labels such as Table = "kubelogs_CL") are not reads.
  const code = query.replace(/@?"(?:[^"\\]|\\.)*"/g, '""');
  const refs = [...code.matchAll(/\b(\w+_CL)\b/g)].filter((m) => TABLES.has(m[1]!));
  return refs.filter((m, i) => !DEDUPE_PATTERN.test(code.slice(m.index, refs[i + 1]?.index ?? code.length))).map((m) => m[1]!);
}

const allQueries: { what: string; query: string }[] = [
  ...ANALYTIC_RULES.map((r) => ({ what: `analytic rule "${r.name}"`, query: r.query })),
  ...HUNTING_QUERIES.map((q) => ({ what: `hunting query "${q.name}"`, query: q.query })),
  ...workbookQueries().map((q) => ({ what: `workbook "${q.title}"`, query: expandWorkbookParameters(q.query) })),
];

describe('every shipped query', () => {
  test.each(allQueries)('$what analyses without an error or warning against the generated schemas', ({ query }) => {
    expect(analyseKql(query).map((d) => describeDiagnostic(d, query))).toEqual([]);
  });

  test.each(allQueries)('$what reads every evidence table once per RecordId', ({ query }) => {
    expect(query).toMatch(/_CL\b/);
    expect(undeduplicatedReads(query)).toEqual([]);
  });

  test('the checks are real: an unknown column is reported, and a read without de-duplication is found', () => {
    const rule = ANALYTIC_RULES[0]!.query;
    const broken = rule.replace('grant_path', 'no_such_column');
    expect(broken).not.toBe(rule);
    expect(analyseKql(broken).map((d) => d.Code)).toContain('KS142');
    expect(undeduplicatedReads('union (kubelogs_CL | summarize arg_max(TimeGenerated, *) by RecordId), (kubeevents_CL | where true)')).toEqual(['kubeevents_CL']);
    expect(undeduplicatedReads('(kubelogs_CL | summarize arg_max(TimeGenerated, *) by RecordId | extend T = "kubeevents_CL")')).toEqual([]);
  });

  test.each([...ANALYTIC_RULES, ...HUNTING_QUERIES])('$name returns the columns its entity mappings and custom details name', (content) => {
    const columns = new Set(resultColumns(content.query));
    const named = [
      ...content.entityMappings.flatMap((m) => m.fieldMappings.map((f) => f.columnName)),
      ...Object.values('customDetails' in content ? (content.customDetails ?? {}) : {}),
    ];
    expect(named.filter((c) => !columns.has(c))).toEqual([]);
  });
});

describe('content definitions', () => {
  test('ids are unique GUIDs; tactics and techniques are ATT&CK ids; rules run hourly over three days and alert on any result', () => {
    const ids = [...ANALYTIC_RULES, ...HUNTING_QUERIES].map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const c of [...ANALYTIC_RULES, ...HUNTING_QUERIES]) {
      expect(c.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(c.tactics.length).toBeGreaterThan(0);
      for (const t of c.relevantTechniques) expect(t).toMatch(/^T\d{4}(\.\d{3})?$/);
      expect(c.entityMappings.length).toBeLessThanOrEqual(10);
    }
    for (const r of ANALYTIC_RULES) expect([r.queryFrequency, r.queryPeriod, r.triggerOperator, r.triggerThreshold]).toEqual(['1h', '3d', 'gt', 0]);
    expect(isoDuration('1h')).toBe('PT1H');
    expect(isoDuration('3d')).toBe('P3D');
    expect(isoDuration('15m')).toBe('PT15M');
  });
});

describe('deployed by the template', () => {
  const template = committedTemplate();
  const { deployment, template: inner } = nestedWith(template, 'Microsoft.Insights/workbooks');
  const ofType = (type: string): Resource[] => inner.resources.filter((r) => r.type === type);
  const outer = contextFor(template);

  test('one nested deployment into the workspace resource group, after the tables; on by default, off with both switches', () => {
    expect(deployment.resourceGroup).toBe("[variables('workspaceResourceGroup')]");
    expect(deployment.subscriptionId).toBe("[variables('workspaceSubscriptionId')]");
    expect(deployment.dependsOn).toEqual([
      "[resourceId(variables('workspaceSubscriptionId'), variables('workspaceResourceGroup'), 'Microsoft.Resources/deployments', variables('workspaceDeploymentName'))]",
    ]);
    expect(evaluateValue(deployment.condition as string, outer)).toBe(true);
    const off = contextFor(template, {
      subscriptionId: 's',
      resourceGroup: 'rg',
      location: 'westeurope',
      parameters: { deploySentinelContent: false, deployAnalyticRules: false },
    });
    expect(evaluateValue(deployment.condition as string, off)).toBe(false);
    expect(template.parameters?.deploySentinelContent).toMatchObject({ type: 'bool', defaultValue: true });
    expect(template.parameters?.deployAnalyticRules).toMatchObject({ type: 'bool', defaultValue: true });
  });

  test('the workbook: a shared Sentinel workbook of the workspace, its gallery template as serializedData', () => {
    const [workbook] = ofType('Microsoft.Insights/workbooks');
    expect(workbook).toMatchObject({ kind: 'shared', condition: "[parameters('deployContent')]", location: "[parameters('location')]" });
    const props = workbook!.properties as { displayName: string; serializedData: string; category: string; sourceId: string; version: string };
    expect(props).toMatchObject({
      displayName: WORKBOOK_DISPLAY_NAME,
      category: 'sentinel',
      version: 'Notebook/1.0',
      sourceId: "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName'))]",
    });
    expect(workbook!.name).toBe("[guid(resourceId('Microsoft.OperationalInsights/workspaces', parameters('workspaceName')), 'aks-evidence-workbook')]");
    const data = JSON.parse(props.serializedData) as { version: string; items: { name: string }[] };
    expect(data).toEqual(buildWorkbook());
    expect(data.items.map((i) => i.name)).toEqual(expect.arrayContaining(['group - overview', 'group - timeline', 'group - findings', 'group - gaps', 'group - custody']));
  });

  test('hunting queries: saved searches in the Hunting Queries category with their description, tactics and techniques', () => {
    const searches = ofType('Microsoft.OperationalInsights/workspaces/savedSearches');
    expect(searches).toHaveLength(HUNTING_QUERIES.length);
    for (const q of HUNTING_QUERIES) {
      const s = searches.find((r) => r.name === `[format('{0}/{1}', parameters('workspaceName'), '${q.id}')]`)!;
      expect(s.properties).toMatchObject({ category: 'Hunting Queries', displayName: q.name, query: q.query, version: 2 });
      const tags = Object.fromEntries((s.properties as { tags: { name: string; value: string }[] }).tags.map((t) => [t.name, t.value]));
      expect(tags).toEqual({ description: q.description, tactics: q.tactics.join(','), techniques: expect.stringMatching(/^T\d{4}(,T\d{4})*$/) });
    }
  });

  test('analytic rules: scheduled rules on the workspace, with the query, frequency, entities and incident grouping per run', () => {
    const rules = ofType('Microsoft.SecurityInsights/alertRules');
    expect(rules).toHaveLength(ANALYTIC_RULES.length);
    for (const r of ANALYTIC_RULES) {
      const rule = rules.find((x) => x.name === r.id)!;
      expect(rule).toMatchObject({
        kind: 'Scheduled',
        scope: "[format('Microsoft.OperationalInsights/workspaces/{0}', parameters('workspaceName'))]",
        condition: "[parameters('deployAnalyticRules')]",
      });
      expect(rule.properties).toMatchObject({
        displayName: r.name,
        severity: r.severity,
        enabled: true,
        query: r.query,
        queryFrequency: 'PT1H',
        queryPeriod: 'P3D',
        triggerOperator: 'GreaterThan',
        triggerThreshold: 0,
        tactics: r.tactics,
        entityMappings: r.entityMappings,
        incidentConfiguration: { createIncident: true, groupingConfiguration: { enabled: true, groupByCustomDetails: ['RunId'] } },
      });
      for (const t of (rule.properties as { techniques: string[] }).techniques) expect(t).toMatch(/^T\d{4}$/);
    }
  });
});

describe('files in the Azure-Sentinel formats', () => {
  const files = sentinelContentFiles();

  test('the committed files equal what the generator writes', () => {
    for (const [path, content] of Object.entries(files)) expect({ path, content: readCommitted(path) }).toEqual({ path, content });
  });

  test('analytic rules: the repository fields, in its order, kind Scheduled', () => {
    for (const r of ANALYTIC_RULES) {
      const text = files[`infra/sentinel/Analytic Rules/${contentFileName(r.name)}.yaml`]!;
      const doc = parse(text) as Record<string, unknown>;
      expect(Object.keys(doc)).toEqual([
        'id',
        'name',
        'description',
        'severity',
        'status',
        'requiredDataConnectors',
        'queryFrequency',
        'queryPeriod',
        'triggerOperator',
        'triggerThreshold',
        'tactics',
        'relevantTechniques',
        'query',
        'entityMappings',
        'customDetails',
        'alertDetailsOverride',
        'version',
        'kind',
      ]);
      expect(doc).toMatchObject({
        id: r.id,
        name: r.name,
        kind: 'Scheduled',
        queryFrequency: '1h',
        queryPeriod: '3d',
        triggerOperator: 'gt',
        triggerThreshold: 0,
        version: '1.0.0',
        requiredDataConnectors: [],
      });
      expect(doc.query).toBe(`${r.query}\n`);
      expect(text).toMatch(/^query: \|/m); // a literal block, as the repository writes queries
    }
  });

  test('hunting queries: the repository fields', () => {
    for (const q of HUNTING_QUERIES) {
      const doc = parse(files[`infra/sentinel/Hunting Queries/${contentFileName(q.name)}.yaml`]!) as Record<string, unknown>;
      expect(Object.keys(doc)).toEqual(['id', 'name', 'description', 'requiredDataConnectors', 'tactics', 'relevantTechniques', 'query', 'entityMappings', 'version']);
      expect(doc).toMatchObject({ id: q.id, name: q.name, tactics: q.tactics, relevantTechniques: q.relevantTechniques, entityMappings: q.entityMappings });
    }
  });

  test('the workbook gallery template', () => {
    const wb = JSON.parse(files['infra/sentinel/Workbooks/AksEvidence.json']!) as Record<string, unknown>;
    expect(wb).toMatchObject({ version: 'Notebook/1.0', fromTemplateId: 'sentinel-AksEvidence', $schema: expect.stringContaining('workbook.json') });
  });
});
