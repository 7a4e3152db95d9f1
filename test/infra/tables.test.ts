/**
 * The Log Analytics tables and DCRs in the template against the table registry: every table,
 * every column, the types mapped, streams split within the 10-stream limit, output streams
 * naming deployed tables, names Log Analytics accepts.
 */
import { buildTemplate } from '../../infra/template.js';
import { SOURCES, SourceRegistry } from '../../shared/sources/registry.js';
import { streamColumns, streamName, type ColumnType, type TableDefinition } from '../../shared/tables/table.js';
import { evaluateValue } from './armExpression.js';
import { committedTemplate, contextFor, nestedWith, resourcesOfType, type Obj, type Resource } from './templateModel.js';

const template = committedTemplate();
const tables = SOURCES.tables.tables;
const { template: workspaceTemplate } = nestedWith(template, 'Microsoft.OperationalInsights/workspaces/tables');
const tableResources = workspaceTemplate.resources.filter((r) => r.type === 'Microsoft.OperationalInsights/workspaces/tables');
const dcrs = resourcesOfType(template, 'Microsoft.Insights/dataCollectionRules');

/** Expected types, written out here rather than imported: Log Analytics tables API / DCR stream declarations. */
const TABLE_TYPE: Record<ColumnType, string> = {
  string: 'string',
  int: 'int',
  long: 'long',
  real: 'real',
  boolean: 'boolean',
  datetime: 'dateTime',
  dynamic: 'dynamic',
  guid: 'guid',
};
const STREAM_TYPE: Record<ColumnType, string> = { ...TABLE_TYPE, datetime: 'datetime', guid: 'string' };
/** Compared case-insensitively by Log Analytics; the Logs Ingestion page adds the resource* names. */
const RESERVED = ['_ResourceId', 'id', '_SubscriptionId', 'TenantId', 'Type', 'UniqueId', 'Title', 'resource', 'resourceid', 'resourcename', 'resourcetype', 'subscriptionid'].map(
  (n) => n.toLowerCase(),
);

interface Column {
  name: string;
  type: string;
}
const schemaOf = (r: Resource): { name: string; columns: Column[] } => (r.properties as { schema: { name: string; columns: Column[] } }).schema;
const tableName = (r: Resource): string => schemaOf(r).name;
interface DcrProps {
  streamDeclarations: Record<string, { columns: Column[] }>;
  dataFlows: { streams: string[]; destinations: string[]; outputStream: string; transformKql: string }[];
  destinations: { logAnalytics: { name: string; workspaceResourceId: string }[] };
  dataCollectionEndpointId?: string;
  dataSources?: unknown;
}
const props = (dcr: Resource): DcrProps => dcr.properties as unknown as DcrProps;

describe('Log Analytics custom tables', () => {
  it('the registry has tables to deploy, the custody table the run writes at every seal among them', () => {
    expect(tables.length).toBeGreaterThanOrEqual(8);
    expect(tableResources.map(tableName)).toContain('evidencecustody_CL');
  });

  it('one table resource per registry table, nothing else', () => {
    expect(tableResources.map(tableName).sort()).toEqual(tables.map((t) => t.name).sort());
  });

  it.each(tables.map((t) => [t.name, t] as const))('%s: columns = the registry stream columns, types mapped, Analytics plan', (name, table) => {
    const resource = tableResources.find((r) => tableName(r) === name) as Resource;
    expect(resource.name).toBe(`[format('{0}/{1}', parameters('workspaceName'), '${name}')]`);
    expect((resource.properties as Obj).plan).toBe('Analytics');
    expect(schemaOf(resource).columns.map((c) => ({ name: c.name, type: c.type }))).toEqual(streamColumns(table).map((c) => ({ name: c.name, type: TABLE_TYPE[c.type] })));
  });

  it('every column name is one Log Analytics accepts: starts with a letter, at most 45 characters, not reserved, unique', () => {
    for (const r of tableResources) {
      const names = schemaOf(r).columns.map((c) => c.name);
      expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
      for (const n of names) {
        expect({ table: tableName(r), column: n }).toEqual({ table: tableName(r), column: expect.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,44}$/) });
        expect(RESERVED).not.toContain(n.toLowerCase());
      }
      expect(tableName(r)).toMatch(/^[A-Za-z][A-Za-z0-9_]*_CL$/);
      expect(schemaOf(r).columns.find((c) => c.name === 'TimeGenerated')?.type).toBe('dateTime');
    }
  });

  it('the generator refuses a table Log Analytics would reject, naming the column', () => {
    const events = SOURCES.get('events');
    const bad: TableDefinition = {
      ...events.tables[0]!,
      name: 'broken_CL',
      source: 'broken',
      columns: [...events.tables[0]!.columns, { name: 'TenantId', type: 'string', description: 'reserved' }, { name: '9lives', type: 'string', description: 'bad start' }],
    };
    const registry = new SourceRegistry([...SOURCES.sources, { ...events, name: 'broken', tables: [bad] }]);
    expect(() => buildTemplate(registry)).toThrow(/broken_CL\.TenantId[\s\S]*broken_CL\.9lives/);
  });
});

describe('data collection endpoint and rules', () => {
  it('splits the streams over DCRs of at most 10 streams and 10 data flows each', () => {
    expect(dcrs.length).toBe(Math.ceil(tables.length / 10));
    for (const dcr of dcrs) {
      expect(Object.keys(props(dcr).streamDeclarations).length).toBeLessThanOrEqual(10);
      expect(props(dcr).dataFlows.length).toBeLessThanOrEqual(10);
    }
  });

  it('declares every registry table as exactly one stream with every column, types mapped for DCRs', () => {
    const declared = new Map<string, Column[]>();
    for (const dcr of dcrs) {
      for (const [stream, decl] of Object.entries(props(dcr).streamDeclarations)) {
        expect(declared.has(stream)).toBe(false);
        declared.set(stream, decl.columns);
      }
    }
    expect([...declared.keys()].sort()).toEqual(tables.map((t) => streamName(t)).sort());
    for (const t of tables) {
      expect({ stream: streamName(t), columns: declared.get(streamName(t)) }).toEqual({
        stream: streamName(t),
        columns: streamColumns(t).map((c) => ({ name: c.name, type: STREAM_TYPE[c.type] })),
      });
    }
  });

  it('every data flow reads a declared stream and writes a custom table the template deploys, to a declared destination', () => {
    const deployed = new Set(tableResources.map((r) => `Custom-${tableName(r)}`));
    const flows = dcrs.flatMap((dcr) => props(dcr).dataFlows.map((f) => ({ dcr, f })));
    expect(flows.length).toBe(tables.length);
    for (const { dcr, f } of flows) {
      expect(f.streams).toHaveLength(1);
      expect(Object.keys(props(dcr).streamDeclarations)).toContain(f.streams[0]);
      expect(deployed.has(f.outputStream)).toBe(true);
      expect(f.outputStream).toBe(f.streams[0]);
      const destinations = props(dcr).destinations.logAnalytics.map((d) => d.name);
      for (const d of f.destinations) expect(destinations).toContain(d);
      // Within what a DCR transformation allows; the rows are already in the table's shape.
      expect(f.transformKql).toBe('source');
    }
  });

  it('sends through the DCE to the workspace: no Direct kind, no leftover data sources', () => {
    const ctx = contextFor(template);
    const dce = resourcesOfType(template, 'Microsoft.Insights/dataCollectionEndpoints');
    expect(dce).toHaveLength(1);
    for (const dcr of dcrs) {
      expect(dcr.kind).toBeUndefined();
      expect(props(dcr).dataSources).toBeUndefined();
      expect(props(dcr).dataCollectionEndpointId).toBe(`[resourceId('Microsoft.Insights/dataCollectionEndpoints', variables('dceName'))]`);
      expect(props(dcr).destinations.logAnalytics.map((d) => evaluateValue(d.workspaceResourceId, ctx))).toEqual([evaluateValue("[variables('workspaceId')]", ctx)]);
      // The DCR is created after the tables it writes to.
      expect(dcr.dependsOn).toContain(
        `[resourceId(variables('workspaceSubscriptionId'), variables('workspaceResourceGroup'), 'Microsoft.Resources/deployments', variables('workspaceDeploymentName'))]`,
      );
    }
  });
});
