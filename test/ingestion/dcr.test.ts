import { buildDcrDefinitions, ingestionTargetDocument, MAX_STREAMS_PER_DCR, validateTableForDcr } from '../../shared/ingestion/dcr.js';
import { parseIngestionTarget } from '../../shared/ingestion/config.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { streamColumns, streamName, type TableDefinition } from '../../shared/tables/table.js';

const fakeTable = (name: string, extra: TableDefinition['columns'] = []): TableDefinition => ({
  name,
  source: 'test',
  description: 'test table',
  columns: [{ name: 'TimeGenerated', type: 'datetime', description: 't' }, { name: 'message', type: 'string', description: 'm' }, ...extra],
  timeline: { eventType: 'Test', summary: 'message' },
});

describe('buildDcrDefinitions', () => {
  test('every registry table gets a stream with exactly its registry + link columns and a source flow to Custom-<table>', () => {
    const dcrs = buildDcrDefinitions(SOURCES.tables.tables);
    const tables = SOURCES.tables.tables;
    expect(dcrs.flatMap((d) => d.tables)).toEqual(tables.map((t) => t.name));
    for (const table of tables) {
      const dcr = dcrs.find((d) => d.tables.includes(table.name));
      const decl = dcr?.streamDeclarations[streamName(table)];
      expect(decl?.columns).toEqual(streamColumns(table).map((c) => ({ name: c.name, type: c.type === 'guid' ? 'string' : c.type })));
      const flow = dcr?.dataFlows.find((f) => f.outputStream === `Custom-${table.name}`);
      expect(flow).toEqual({ streams: [streamName(table)], destinations: ['evidenceWorkspace'], transformKql: 'source', outputStream: `Custom-${table.name}` });
    }
    for (const dcr of dcrs) {
      expect(Object.keys(dcr.streamDeclarations).length).toBeLessThanOrEqual(MAX_STREAMS_PER_DCR);
      expect(dcr.dataFlows.length).toBe(Object.keys(dcr.streamDeclarations).length);
    }
  });

  test('more than 10 tables split across DCRs, at most 10 streams each, order kept', () => {
    const tables = Array.from({ length: 23 }, (_, i) => fakeTable(`t${i}_CL`));
    const dcrs = buildDcrDefinitions(tables);
    expect(dcrs.map((d) => d.tables.length)).toEqual([10, 10, 3]);
    expect(dcrs.map((d) => d.name)).toEqual(['aks-evidence-dcr-1', 'aks-evidence-dcr-2', 'aks-evidence-dcr-3']);
    expect(dcrs.flatMap((d) => d.tables)).toEqual(tables.map((t) => t.name));
    expect(buildDcrDefinitions(tables, { maxStreamsPerDcr: 4 }).length).toBe(6);
    expect(() => buildDcrDefinitions(tables, { maxStreamsPerDcr: 11 })).toThrow(/at most|1 to 10/);
  });

  test('names the registry problems a deployment would reject', () => {
    expect(validateTableForDcr(fakeTable('ok_CL'))).toEqual([]);
    expect(validateTableForDcr(fakeTable('nosuffix'))).toEqual([expect.stringMatching(/_CL/)]);
    expect(validateTableForDcr(fakeTable('r_CL', [{ name: 'TenantId', type: 'string', description: '' }]))).toEqual([expect.stringMatching(/r_CL\.TenantId: reserved/)]);
    expect(validateTableForDcr(fakeTable('l_CL', [{ name: 'a'.repeat(46), type: 'string', description: '' }]))[0]).toMatch(/45 characters/);
    expect(validateTableForDcr(fakeTable('d_CL', [{ name: 'Message', type: 'string', description: '' }]))[0]).toMatch(/declared twice/);
    expect(validateTableForDcr(fakeTable('k_CL', [{ name: 'RunId', type: 'string', description: '' }]))[0]).toMatch(/k_CL\.RunId: declared twice/);
    expect(() => buildDcrDefinitions([fakeTable('bad-name_CL')])).toThrow(/cannot be deployed/);
  });

  test('ingestionTargetDocument maps every table to its DCR and stream, and parses as a config', () => {
    const dcrs = buildDcrDefinitions(SOURCES.tables.tables);
    const ids = new Map(dcrs.map((d, i) => [d.name, `dcr-${String(i).repeat(32).slice(0, 32)}`]));
    const doc = ingestionTargetDocument('https://dce-x.westeurope-1.ingest.monitor.azure.com', dcrs, (d) => ids.get(d.name) ?? '');
    expect(Object.keys(doc.tables).sort()).toEqual(SOURCES.tables.tables.map((t) => t.name).sort());
    for (const t of SOURCES.tables.tables) expect(doc.tables[t.name]?.streamName).toBe(`Custom-${t.name}`);
    expect(parseIngestionTarget(doc).tables['kubelogs_CL']?.dcrImmutableId).toMatch(/^dcr-[0-9a-f]{32}$/);
  });
});
