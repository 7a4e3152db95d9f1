/**
 * Microsoft's Kusto language service (@kusto/language-service-next: the Kusto.Language parser
 * and binder, a Bridge.NET bundle that installs a global `Kusto` namespace) analysing a query
 * against a workspace made of the table registry's generated schemas (source columns + link
 * columns, as the template deploys them), optionally with the AKS audit tables.
 */
import { createRequire } from 'node:module';
import { SOURCES } from '../../shared/sources/registry.js';
import { streamColumns, type ColumnType } from '../../shared/tables/table.js';

const require = createRequire(import.meta.url);
require('@kusto/language-service-next/bridge.js');
require('@kusto/language-service-next/Kusto.Language.Bridge.js');

export interface KDiagnostic {
  Severity: string;
  Code: string;
  Message: string;
  Start: number;
}
interface KList<T> {
  Count: number;
  getItem(i: number): T;
}
const Kusto = (
  globalThis as unknown as {
    Kusto: {
      Language: {
        Symbols: {
          TableSymbol: { $ctor7: new (name: string, schema: string, description: string | null) => unknown };
          DatabaseSymbol: { $ctor1: new (name: string, members: unknown[], isOpen: boolean) => unknown };
        };
        GlobalState: { Default: { WithDatabase(db: unknown): unknown } };
        KustoCode: { ParseAndAnalyze(text: string, globals: unknown): { GetDiagnostics(): KList<KDiagnostic>; ResultType: { Columns?: KList<{ Name: string }> } | null } };
      };
    };
  }
).Kusto.Language;

const KQL_TYPE: Record<ColumnType, string> = { string: 'string', int: 'int', long: 'long', real: 'real', boolean: 'bool', datetime: 'datetime', dynamic: 'dynamic', guid: 'guid' };

/** Columns of the AKS audit tables the timeline reads (Azure Monitor table reference: AKSAudit, AKSAuditAdmin, AzureDiagnostics). */
export const AKS_AUDIT_SCHEMA =
  '(TimeGenerated:datetime, AuditId:string, Level:string, Stage:string, RequestUri:string, Verb:string, User:dynamic, SourceIps:dynamic, UserAgent:string, ' +
  'ObjectRef:dynamic, ResponseStatus:dynamic, RequestObject:dynamic, ResponseObject:dynamic, RequestReceivedTime:datetime, StageReceivedTime:datetime, ' +
  'Annotations:dynamic, PodName:string, SourceSystem:string, _ResourceId:string)';
export const AZURE_DIAGNOSTICS_SCHEMA = '(TimeGenerated:datetime, Category:string, ResourceId:string, _ResourceId:string, log_s:string, OperationName:string)';

function analysed(query: string, options: { withAudit?: boolean }) {
  const S = Kusto.Symbols;
  const tables: unknown[] = SOURCES.tables.tables.map(
    (t) =>
      new S.TableSymbol.$ctor7(
        t.name,
        `(${streamColumns(t)
          .map((c) => `['${c.name}']:${KQL_TYPE[c.type]}`)
          .join(', ')}, _ResourceId:string)`,
        null,
      ),
  );
  if (options.withAudit) {
    tables.push(new S.TableSymbol.$ctor7('AKSAudit', AKS_AUDIT_SCHEMA, null), new S.TableSymbol.$ctor7('AKSAuditAdmin', AKS_AUDIT_SCHEMA, null));
    tables.push(new S.TableSymbol.$ctor7('AzureDiagnostics', AZURE_DIAGNOSTICS_SCHEMA, null));
  }
  const globals = Kusto.GlobalState.Default.WithDatabase(new S.DatabaseSymbol.$ctor1('workspace', tables, false));
  return Kusto.KustoCode.ParseAndAnalyze(query, globals);
}

/** Every diagnostic of `query` against the registry's tables (plus the AKS audit tables with `withAudit`). */
export function analyseKql(query: string, options: { withAudit?: boolean } = {}): KDiagnostic[] {
  const list = analysed(query, options).GetDiagnostics();
  const out: KDiagnostic[] = [];
  for (let i = 0; i < list.Count; i++) out.push(list.getItem(i));
  return out;
}

/** The column names of the query's result, as the binder computes them. */
export function resultColumns(query: string, options: { withAudit?: boolean } = {}): string[] {
  const columns = analysed(query, options).ResultType?.Columns;
  const out: string[] = [];
  for (let i = 0; i < (columns?.Count ?? 0); i++) out.push(columns!.getItem(i).Name);
  return out;
}

export const describeDiagnostic = (d: KDiagnostic, text: string): string => `${d.Severity} ${d.Code}: ${d.Message} near "${text.slice(Math.max(0, d.Start - 30), d.Start + 30)}"`;
