/**
 * Data collection rule (DCR) definitions derived from the table registry: the logical content
 * of the DCR resources (stream declarations, data flows). Pure data. infra/ turns it into ARM
 * JSON; the Logs Ingestion emulator (shared/simulator/logsIngestion.ts) validates requests against
 * exactly these definitions, so a column the DCR does not declare fails a test before any
 * deployment would.
 */
import { streamColumns, streamName, type ColumnType, type TableDefinition } from '../tables/table.js';
import type { IngestionTargetDocument } from './config.js';

/** Column types a DCR stream declaration accepts (no guid: guid columns are declared as string). */
export type DcrColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic';

export interface DcrColumn {
  name: string;
  type: DcrColumnType;
}

export interface DcrStreamDeclaration {
  columns: DcrColumn[];
}

export interface DcrDataFlow {
  /** Input stream(s): exactly one, `Custom-<table>`. */
  streams: string[];
  /** Logical destination names (see DCR_DESTINATION). */
  destinations: string[];
  /** Per-record KQL transformation. `source`: the input already matches the table. */
  transformKql: string;
  /** `Custom-<table>`: the custom table the rows land in. */
  outputStream: string;
}

/** The logical content of one DCR. */
export interface DcrDefinition {
  /** Logical name, stable across deployments: `<namePrefix>-<n>` (1-based). */
  name: string;
  /** The tables this DCR carries, in registry order. */
  tables: string[];
  streamDeclarations: Record<string, DcrStreamDeclaration>;
  dataFlows: DcrDataFlow[];
}

export interface BuildDcrDefinitionsOptions {
  /** Streams (= data flows) per DCR. The service allows at most 10. Default 10. */
  maxStreamsPerDcr?: number;
  /** Prefix of the logical DCR names. Default 'aks-evidence-dcr'. */
  namePrefix?: string;
}

/** The Log Analytics destination's logical name inside every DCR. */
export const DCR_DESTINATION = 'evidenceWorkspace';
/** The DCR limit on stream declarations / data flows per rule. */
export const MAX_STREAMS_PER_DCR = 10;
/** transformKql for every flow: rows are mapped to the table's exact shape before upload. */
export const PASSTHROUGH_TRANSFORM = 'source';

/** Column names Log Analytics reserves in custom tables. */
/**
 * Column names Log Analytics reserves, compared case-insensitively: the standard columns, and the
 * ones Microsoft's Logs Ingestion page lists (resource, resourceid, resourcename, resourcetype,
 * subscriptionid, tenantid).
 */
export const RESERVED_COLUMN_NAMES: readonly string[] = [
  '_ResourceId',
  'id',
  '_SubscriptionId',
  'TenantId',
  'Type',
  'UniqueId',
  'Title',
  'resource',
  'resourceid',
  'resourcename',
  'resourcetype',
  'subscriptionid',
];
const COLUMN_NAME = /^[A-Za-z][A-Za-z0-9_]{0,44}$/;
const TABLE_NAME = /^[A-Za-z][A-Za-z0-9_]*_CL$/;

export function dcrColumnType(type: ColumnType): DcrColumnType {
  return type === 'guid' ? 'string' : type;
}

/**
 * Problems that would make a deployment (or an upload) fail: bad table or column names,
 * reserved names, duplicates, a TimeGenerated that is not a datetime. Empty when valid.
 */
export function validateTableForDcr(table: TableDefinition): string[] {
  const problems: string[] = [];
  if (!TABLE_NAME.test(table.name)) problems.push(`table ${table.name}: a custom table name starts with a letter and ends with _CL`);
  const seen = new Set<string>();
  for (const col of streamColumns(table)) {
    if (!COLUMN_NAME.test(col.name)) {
      problems.push(`${table.name}.${col.name}: a column name starts with a letter, uses letters, digits and _ only, and has at most 45 characters`);
    }
    if (RESERVED_COLUMN_NAMES.some((r) => r.toLowerCase() === col.name.toLowerCase())) problems.push(`${table.name}.${col.name}: reserved column name in Log Analytics`);
    const key = col.name.toLowerCase();
    if (seen.has(key)) problems.push(`${table.name}.${col.name}: declared twice (column names are compared case-insensitively)`);
    seen.add(key);
  }
  const time = table.columns.find((col) => col.name === 'TimeGenerated');
  if (!time || time.type !== 'datetime') problems.push(`${table.name}: TimeGenerated must be declared as a datetime column`);
  return problems;
}

/**
 * The DCRs for `tables`, `maxStreamsPerDcr` streams each, in registry order. Throws when a
 * table could not be deployed (names, reserved columns, duplicates).
 */
export function buildDcrDefinitions(tables: readonly TableDefinition[], options: BuildDcrDefinitionsOptions = {}): DcrDefinition[] {
  const maxStreams = options.maxStreamsPerDcr ?? MAX_STREAMS_PER_DCR;
  if (!Number.isInteger(maxStreams) || maxStreams < 1 || maxStreams > MAX_STREAMS_PER_DCR) {
    throw new RangeError(`maxStreamsPerDcr must be an integer from 1 to ${MAX_STREAMS_PER_DCR} (the DCR limit), got ${maxStreams}`);
  }
  const prefix = options.namePrefix ?? 'aks-evidence-dcr';
  const problems = tables.flatMap(validateTableForDcr);
  if (problems.length) throw new Error(`the table registry cannot be deployed as DCR streams:\n  ${problems.join('\n  ')}`);

  const dcrs: DcrDefinition[] = [];
  for (let i = 0; i < tables.length; i += maxStreams) {
    const group = tables.slice(i, i + maxStreams);
    const streamDeclarations: Record<string, DcrStreamDeclaration> = {};
    const dataFlows: DcrDataFlow[] = [];
    for (const table of group) {
      const stream = streamName(table);
      streamDeclarations[stream] = { columns: streamColumns(table).map((col) => ({ name: col.name, type: dcrColumnType(col.type) })) };
      dataFlows.push({ streams: [stream], destinations: [DCR_DESTINATION], transformKql: PASSTHROUGH_TRANSFORM, outputStream: `Custom-${table.name}` });
    }
    dcrs.push({ name: `${prefix}-${dcrs.length + 1}`, tables: group.map((t) => t.name), streamDeclarations, dataFlows });
  }
  return dcrs;
}

/**
 * The ingestion target document (shared/ingestion/config.ts) for deployed DCRs: the DCE's
 * logs ingestion endpoint and, per table, the immutable id of the DCR that carries it and its
 * stream. infra/ produces the same document from deployment outputs.
 */
export function ingestionTargetDocument(endpoint: string, dcrs: readonly DcrDefinition[], immutableIdOf: (dcr: DcrDefinition) => string): IngestionTargetDocument {
  const tables: IngestionTargetDocument['tables'] = {};
  for (const dcr of dcrs) {
    const immutableId = immutableIdOf(dcr);
    for (const flow of dcr.dataFlows) {
      const table = flow.outputStream.replace(/^Custom-/, '');
      const stream = flow.streams[0];
      if (stream === undefined) continue;
      tables[table] = { dcrImmutableId: immutableId, streamName: stream };
    }
  }
  return { endpoint, tables };
}
