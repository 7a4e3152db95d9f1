/**
 * Every shipped query reads each evidence table de-duplicated by RecordId: an ingestion killed
 * after the service accepted a request but before its acknowledgement was written re-sends
 * that request, so a row can be in Log Analytics twice; RecordId (run, artifact, line) names it.
 *
 * The rule, checked on Microsoft's Kusto parser's syntax tree for every reference to a registry
 * table in every query under infra/ (the ARM template's queries, saved searches, alert rules and
 * workbooks, *.kql files, YAML content with a `query`): the reference flows, through `where` and
 * `extend` only (unions and parentheses are transparent), into
 * `summarize arg_max(…, *) by RecordId` (or arg_min).
 */
import { createRequire } from 'node:module';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { SOURCES } from '../../shared/sources/registry.js';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

interface KNode {
  ChildCount: number;
  GetChild(i: number): KNode | null;
  Parent: KNode | null;
  TextStart: number;
  SimpleName?: string;
}
interface KList<T> {
  Count: number;
  getItem(i: number): { Element: T };
}
const Kusto = (globalThis as unknown as { Kusto: { Language: { KustoCode: { Parse(text: string): { Syntax: KNode } } } } }).Kusto.Language;

const kind = (n: KNode): string => ((n.constructor as unknown as { $$name: string }).$$name ?? '').replace('Kusto.Language.Syntax.', '');

function descendants(n: KNode | null, out: KNode[] = []): KNode[] {
  if (!n) return out;
  out.push(n);
  for (let i = 0; i < n.ChildCount; i++) descendants(n.GetChild(i), out);
  return out;
}

function isDedupe(op: KNode): boolean {
  if (kind(op) !== 'SummarizeOperator') return false;
  const s = op as unknown as { ByClause: { Expressions: KList<KNode> } | null; Aggregates: KList<KNode> };
  const by = s.ByClause?.Expressions;
  if (!by || by.Count !== 1 || by.getItem(0).Element.SimpleName !== 'RecordId') return false;
  if (s.Aggregates.Count !== 1) return false;
  const call = s.Aggregates.getItem(0).Element as unknown as { Name?: { SimpleName?: string }; ArgumentList?: { Expressions: KList<KNode> } };
  const name = call.Name?.SimpleName;
  const args = call.ArgumentList?.Expressions;
  return (name === 'arg_max' || name === 'arg_min') && args !== undefined && args.Count === 2 && kind(args.getItem(1).Element) === 'StarExpression';
}

/** Workbook parameters as a workbook expands them before running a query: a time range, and "All" for the others. */
function expandWorkbookParameters(query: string): string {
  return query.replaceAll('{TimeRange}', '> ago(14d)').replace(/\{[A-Za-z_]\w*(?::\w+)?\}/g, "'*'");
}

/** Where the references to evidence tables in `query` are not de-duplicated, as text offsets. */
function undedupedReads(query: string, tables: ReadonlySet<string>): { table: string; at: number; why: string }[] {
  const problems: { table: string; at: number; why: string }[] = [];
  for (const ref of descendants(Kusto.KustoCode.Parse(query).Syntax)) {
    if (kind(ref) !== 'NameReference' || !ref.SimpleName || !tables.has(ref.SimpleName)) continue;
    // A column or function argument named like a table is not a read of it.
    const parentKind = ref.Parent ? kind(ref.Parent) : '';
    if (parentKind === 'FunctionCallExpression' || parentKind === 'PathExpression') continue;
    let node: KNode = ref;
    let verdict: string | undefined = 'never de-duplicated by RecordId';
    for (let parent = node.Parent; parent; node = parent, parent = parent.Parent) {
      const k = kind(parent);
      if (k === 'PipeExpression') {
        const pipe = parent as unknown as { Expression: KNode; Operator: KNode };
        if (pipe.Expression !== node) continue; // inside the operator (a union operand): the union's rows flow on
        if (isDedupe(pipe.Operator)) {
          verdict = undefined;
          break;
        }
        const op = kind(pipe.Operator);
        if (op === 'FilterOperator' || op === 'ExtendOperator') continue;
        verdict = `${op.replace(/Operator$/, '').toLowerCase()} before the de-duplication`;
        break;
      }
      if (['JoinOperator', 'LookupOperator', 'InExpression', 'FunctionCallExpression', 'LetStatement', 'ToScalarExpression'].includes(k)) {
        verdict = `used in a ${k.replace(/(Operator|Expression|Statement)$/, '').toLowerCase()} without being de-duplicated first`;
        break;
      }
    }
    if (verdict) problems.push({ table: ref.SimpleName, at: ref.TextStart, why: verdict });
  }
  return problems;
}

const INFRA = fileURLToPath(new URL('../../infra/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** KQL strings in a JSON/YAML document: values of keys ending in "query", and workbooks' serializedData. */
function queriesIn(value: unknown, where: string, out: { where: string; query: string }[]): void {
  if (Array.isArray(value)) value.forEach((v, i) => queriesIn(v, `${where}[${i}]`, out));
  else if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      if (typeof v === 'string' && /query$/i.test(key) && !v.startsWith('[')) out.push({ where: `${where}.${key}`, query: v });
      else if (typeof v === 'string' && key === 'serializedData' && v.startsWith('{')) queriesIn(JSON.parse(v), `${where}.${key}`, out);
      else queriesIn(v, `${where}.${key}`, out);
    }
  }
}

function shippedQueries(): { where: string; query: string }[] {
  const out: { where: string; query: string }[] = [];
  for (const path of files(INFRA)) {
    const name = relative(INFRA, path);
    if (path.endsWith('.kql')) out.push({ where: name, query: readFileSync(path, 'utf8') });
    else if (path.endsWith('.json')) queriesIn(JSON.parse(readFileSync(path, 'utf8')), name, out);
    else if (/\.ya?ml$/.test(path)) queriesIn(parseYaml(readFileSync(path, 'utf8')), name, out);
  }
  return out;
}

const TABLES = new Set(SOURCES.tables.names());

describe('every shipped query de-duplicates evidence rows by RecordId', () => {
  const queries = shippedQueries();

  test('the shipped queries are found (the timeline function, as deployed and as a .kql file)', () => {
    expect(queries.map((q) => q.where)).toEqual(expect.arrayContaining(['kql/AksEvidenceTimeline.kql', 'azuredeploy.json.variables.timelineQuery']));
    for (const table of TABLES) expect(queries.some((q) => q.query.includes(table))).toBe(true);
  });

  test('each read of an evidence table is de-duplicated', () => {
    const problems = queries.flatMap((q) => {
      const query = expandWorkbookParameters(q.query);
      return undedupedReads(query, TABLES).map((p) => `${q.where}: ${p.table} ${p.why} near "${query.slice(p.at, p.at + 60)}"`);
    });
    expect(problems).toEqual([]);
  });

  test('the check is real: what it accepts and what it refuses', () => {
    const ok = [
      'kubelogs_CL | summarize arg_max(TimeGenerated, *) by RecordId | project message',
      'kubelogs_CL | where TimeGenerated > ago(1d) | extend Ingested = ingestion_time() | summarize arg_min(Ingested, *) by RecordId',
      'union (kubelogs_CL | summarize arg_max(TimeGenerated, *) by RecordId), (cronjobs_CL | where true | summarize arg_max(TimeGenerated, *) by RecordId) | count',
      'union kubelogs_CL, cronjobs_CL | summarize arg_max(TimeGenerated, *) by RecordId',
      'AKSAudit | take 1',
    ];
    for (const q of ok) expect([q, undedupedReads(q, TABLES)]).toEqual([q, []]);
    const refused: [string, string][] = [
      ['kubelogs_CL | project message', 'project before the de-duplication'],
      ['kubelogs_CL | summarize count() by RecordId', 'summarize before the de-duplication'],
      ['kubelogs_CL | summarize arg_max(TimeGenerated, *) by pod_name', 'summarize before the de-duplication'],
      ['kubelogs_CL', 'never de-duplicated by RecordId'],
      ['union (kubelogs_CL | summarize arg_max(TimeGenerated, *) by RecordId), cronjobs_CL | take 5', 'take before the de-duplication'],
      [
        'AKSAudit | join (commandhistory_CL) on $left.PodName == $right.pod_name | summarize arg_max(TimeGenerated, *) by RecordId',
        'used in a join without being de-duplicated first',
      ],
    ];
    for (const [q, why] of refused) expect([q, undedupedReads(q, TABLES).map((p) => p.why)]).toEqual([q, [why]]);
  });
});
