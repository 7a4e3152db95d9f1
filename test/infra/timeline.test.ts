/**
 * The AksEvidenceTimeline function, analysed by Microsoft's Kusto language service
 * (@kusto/language-service-next, the Kusto.Language parser and binder) against a schema made
 * of the table registry plus the AKS audit tables: no syntax error, no unknown column, every
 * evidence table named, and the audit legs tolerated when a workspace lacks them.
 */
import { TIMELINE_COLUMNS, TIMELINE_FUNCTION_ALIAS, buildTimelineKqlFile } from '../../infra/kql.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { analyseKql, describeDiagnostic } from './kusto.js';
import { committedTemplate, nestedWith, only, readCommitted } from './templateModel.js';

const analyse = (query: string, withAudit: boolean) => analyseKql(query, { withAudit });

const template = committedTemplate();
const savedSearch = only(
  nestedWith(template, 'Microsoft.OperationalInsights/workspaces/savedSearches').template.resources.filter(
    (r) => r.type === 'Microsoft.OperationalInsights/workspaces/savedSearches',
  ),
  'saved search',
);
const props = savedSearch.properties as { functionAlias: string; functionParameters: string; query: string; category: string };
const workspaceDeployment = nestedWith(template, 'Microsoft.OperationalInsights/workspaces/savedSearches').deployment;
/** The function exactly as deployed: its parameters and the body passed into the nested template. */
const deployedBody = String(template.variables?.timelineQuery);
const asFunction = `let ${props.functionAlias} = (${props.functionParameters}) {\n${deployedBody}\n};\n${props.functionAlias}()`;

describe('AksEvidenceTimeline', () => {
  it('is deployed as a workspace function with parameters', () => {
    expect(props.functionAlias).toBe(TIMELINE_FUNCTION_ALIAS);
    expect(props.functionParameters).toBe('runId:string = "", caseId:string = "", clusterResourceId:string = "", lookback:timespan = 30d');
    expect(props.query).toBe("[parameters('timelineQuery')]");
    expect((workspaceDeployment.properties as { parameters: { timelineQuery: { value: string } } }).parameters.timelineQuery.value).toBe("[variables('timelineQuery')]");
  });

  it('the deployed function analyses without any error or warning against the registry and audit schemas', () => {
    const problems = analyse(asFunction, true).map((d) => describeDiagnostic(d, asFunction));
    expect(problems).toEqual([]);
  });

  it('on a workspace without the AKS audit tables, only the fuzzy audit legs are reported (union isfuzzy skips them)', () => {
    const diagnostics = analyse(asFunction, false);
    expect(diagnostics.length).toBeGreaterThan(0);
    for (const d of diagnostics)
      expect({ code: d.Code, severity: d.Severity, message: d.Message }).toEqual({
        code: 'KS205',
        severity: 'Warning',
        message: expect.stringMatching(/AKSAudit|AKSAuditAdmin|AzureDiagnostics/),
      });
  });

  it('names every evidence table of the registry, and the AKS audit sources', () => {
    for (const t of SOURCES.tables.tables) expect(deployedBody).toContain(`(${t.name}\n`);
    for (const t of ['AKSAudit', 'AKSAuditAdmin', 'AzureDiagnostics']) expect(deployedBody).toContain(`(${t}\n`);
    expect(deployedBody).toContain('union isfuzzy=true');
    expect(deployedBody).toContain('Category in ("kube-audit", "kube-audit-admin")');
    expect(deployedBody).toMatch(/\| order by EventTime asc$/);
    expect(deployedBody).toContain(`| project ${TIMELINE_COLUMNS.join(', ')}`);
  });

  it('a column the registry does not have is reported: the analysis is real', () => {
    const broken = asFunction.replace('Summary = tostring(message)', 'Summary = tostring(no_such_column)');
    expect(broken).not.toBe(asFunction);
    expect(analyse(broken, true).map((d) => d.Code)).toContain('KS142');
  });

  it('infra/kql/AksEvidenceTimeline.kql is the same function as a let, and analyses cleanly', () => {
    const file = readCommitted('infra/kql/AksEvidenceTimeline.kql');
    expect(file).toBe(buildTimelineKqlFile(SOURCES.tables.tables));
    expect(analyse(file, true).map((d) => describeDiagnostic(d, file))).toEqual([]);
  });
});
