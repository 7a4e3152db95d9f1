/**
 * Source row → wire row: every registry column typed as the DCR stream declares it, the link
 * columns that tie the row to its run and evidence artifact, and the size limits applied so a
 * row never draws a 413. The full value of anything shortened stays in the evidence artifact.
 */
import { createHash } from 'node:crypto';
import { AksEvidenceError } from '../util/errors.js';
import { LINK_COLUMNS, type CollectionPhase, type ColumnType, type TableDefinition } from '../tables/table.js';

/** What ties a row to its run and the artifact line it was read from. */
export interface RowLinkContext {
  runId: string;
  caseId: string;
  /** AKS cluster ARM id, or the API server URL when collected from a kubeconfig. */
  clusterResourceId: string;
  /** EvidenceStore.location of the bundle (no SAS, no key). */
  evidenceLocation: string;
  /** Path of the rows artifact inside the bundle. */
  artifactPath: string;
  /** SHA-256 of that artifact as sealed in the manifest. */
  artifactSha256: string;
  /** 1-based line number of the row in the (decompressed) artifact. */
  lineNumber: number;
  /** TimeGenerated for a row that has none (the collection time), UTC RFC 3339. */
  fallbackTime?: string;
  /** The first collection (default) or an increment of the preservation window. */
  phase?: CollectionPhase;
}

export interface RowMappingOptions {
  /** 'error': a key the table does not declare throws (tests: catches registry drift). 'drop' (default): dropped and reported. */
  unknownColumns?: 'drop' | 'error';
  /** Longest string value in UTF-8 bytes before truncation. Default 32768 (the service truncates at 64 KB). */
  maxFieldBytes?: number;
  /** Largest serialized row in bytes; larger rows are shrunk further. Default 900000 (a request carries at most 1 MB). */
  maxRowBytes?: number;
}

export type WireRow = Record<string, unknown>;

export interface MappedRow {
  row: WireRow;
  recordId: string;
  /** UTF-8 bytes of JSON.stringify(row): exactly what the row adds to a request body. */
  bytes: number;
  /** Columns shortened to fit (also in the row's TruncatedColumns). */
  truncatedColumns: string[];
  /** Keys of the source row the table does not declare (dropped). */
  droppedColumns: string[];
  /** Columns whose value did not fit the column type (left empty on the wire; kept in the artifact). */
  invalidColumns: string[];
}

export const DEFAULT_MAX_FIELD_BYTES = 32 * 1024;
export const DEFAULT_MAX_ROW_BYTES = 900_000;
/** Smallest size a column is shrunk to when a row is still too large. */
const MIN_SHRUNK_FIELD_BYTES = 256;

/** A source row carries a key its table does not declare. */
export class UnknownColumnError extends AksEvidenceError {
  override name = 'UnknownColumnError';
  constructor(
    readonly table: string,
    readonly column: string,
  ) {
    super(
      'ERR_UNKNOWN_COLUMN',
      `row for ${table} has column "${column}", which the table registry does not declare; add it to shared/ingestion/tableRegistry.ts (and redeploy the DCR) or stop emitting it`,
    );
  }
}

/** Stable record id: sha256(runId, artifact path, line number), hex, first 32 characters. */
export function recordIdFor(runId: string, artifactPath: string, lineNumber: number): string {
  return createHash('sha256').update(`${runId}\n${artifactPath}\n${lineNumber}`).digest('hex').slice(0, 32);
}

/** The marker appended to a shortened value. */
export function truncationMarker(removedBytes: number): string {
  return `…[truncated ${removedBytes} bytes; full value in evidence artifact]`;
}

/**
 * Shorten `value` to at most `maxBytes` UTF-8 bytes including the marker, cutting on a
 * character boundary. Returns the value itself when it fits.
 */
export function truncateUtf8(value: string, maxBytes: number): { value: string; removedBytes: number } {
  const buf = Buffer.from(value, 'utf8');
  if (buf.length <= maxBytes) return { value, removedBytes: 0 };
  // The marker grows with the digits of the count; the full length bounds it.
  let keep = Math.max(0, maxBytes - Buffer.byteLength(truncationMarker(buf.length)));
  while (keep > 0 && ((buf[keep] ?? 0) & 0xc0) === 0x80) keep--;
  const removedBytes = buf.length - keep;
  return { value: buf.subarray(0, keep).toString('utf8') + truncationMarker(removedBytes), removedBytes };
}

const RFC3339 = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:?\d{2})$/;

/**
 * UTC RFC 3339 for a datetime column, keeping up to 7 fractional digits (Log Analytics
 * stores 100 ns ticks; container log timestamps carry nanoseconds and lines within one
 * millisecond must keep their order). undefined when the value is not a time.
 */
export function toWireDateTime(value: unknown): string | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value === 'number') return Number.isFinite(value) ? new Date(value).toISOString() : undefined;
  if (typeof value !== 'string') return undefined;
  const m = RFC3339.exec(value.trim());
  if (!m) {
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : new Date(t).toISOString();
  }
  const [, date, time, fraction, zone] = m;
  const whole = Date.parse(`${date}T${time}${zone === 'z' ? 'Z' : zone}`);
  if (Number.isNaN(whole)) return undefined;
  const base = new Date(whole).toISOString().slice(0, 19);
  const frac = (fraction ?? '').slice(0, 7).padEnd(3, '0');
  return `${base}.${frac}Z`;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function toInteger(value: unknown, min: number, max: number): number | undefined {
  let n: number | undefined;
  if (typeof value === 'number') n = value;
  else if (typeof value === 'bigint') n = value >= BigInt(min) && value <= BigInt(max) ? Number(value) : undefined;
  else if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) n = Number(value);
  return n !== undefined && Number.isInteger(n) && n >= min && n <= max ? n : undefined;
}

function toReal(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string' && value.trim() !== '') {
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  return undefined;
}

function toBoolean(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.trim().toLowerCase();
    if (v === 'true') return true;
    if (v === 'false') return false;
  }
  return undefined;
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : value.toISOString();
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The wire value for a column type; undefined = leave the column empty (value kept in the artifact). */
export function toWireValue(type: ColumnType, value: unknown): unknown {
  switch (type) {
    case 'datetime':
      return toWireDateTime(value);
    case 'int':
      return toInteger(value, INT32_MIN, INT32_MAX);
    case 'long':
      return toInteger(value, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
    case 'real':
      return toReal(value);
    case 'boolean':
      return toBoolean(value);
    case 'dynamic':
      return typeof value === 'bigint' ? value.toString() : value;
    case 'string':
    case 'guid':
      return toText(value);
  }
}

const LINK_NAMES = new Set(LINK_COLUMNS.map((c) => c.name));
const DECLARED = new WeakMap<TableDefinition, Set<string>>();

function declaredColumns(table: TableDefinition): Set<string> {
  let names = DECLARED.get(table);
  if (!names) {
    names = new Set(table.columns.map((c) => c.name));
    DECLARED.set(table, names);
  }
  return names;
}

/**
 * Map one source row to its wire row. Throws UnknownColumnError only with
 * `unknownColumns: 'error'`.
 */
export function mapRow(table: TableDefinition, source: Record<string, unknown>, link: RowLinkContext, options: RowMappingOptions = {}): MappedRow {
  const maxFieldBytes = options.maxFieldBytes ?? DEFAULT_MAX_FIELD_BYTES;
  const maxRowBytes = options.maxRowBytes ?? DEFAULT_MAX_ROW_BYTES;
  const declared = declaredColumns(table);

  const droppedColumns: string[] = [];
  for (const key of Object.keys(source)) {
    if (declared.has(key) && !LINK_NAMES.has(key)) continue;
    if (options.unknownColumns === 'error') throw new UnknownColumnError(table.name, key);
    droppedColumns.push(key);
  }

  const row: WireRow = {};
  const invalidColumns: string[] = [];
  /** Full-length text of every string-valued column, to shorten from (never re-truncate a marker). */
  const originals = new Map<string, string>();
  const truncated = new Map<string, number>();

  for (const col of table.columns) {
    if (LINK_NAMES.has(col.name)) continue;
    const raw = source[col.name];
    if (raw === undefined || raw === null) continue;
    let value = toWireValue(col.type, raw);
    if (value === undefined) {
      invalidColumns.push(col.name);
      continue;
    }
    if (col.type === 'dynamic' && typeof value !== 'string') {
      const json = JSON.stringify(value);
      if (json === undefined) {
        invalidColumns.push(col.name);
        continue;
      }
      // A dynamic value too large to send goes as (truncated) JSON text.
      if (Buffer.byteLength(json) > maxFieldBytes) value = json;
    }
    if (typeof value === 'string') {
      originals.set(col.name, value);
      const t = truncateUtf8(value, maxFieldBytes);
      if (t.removedBytes > 0) truncated.set(col.name, maxFieldBytes);
      value = t.value;
    }
    row[col.name] = value;
  }

  let timeGenerated = row['TimeGenerated'] as string | undefined;
  if (timeGenerated === undefined && link.fallbackTime !== undefined) {
    timeGenerated = toWireDateTime(link.fallbackTime);
    if (timeGenerated !== undefined) row['TimeGenerated'] = timeGenerated;
  }

  const recordId = recordIdFor(link.runId, link.artifactPath, link.lineNumber);
  const eventTime = toWireDateTime(source['TimeGenerated']);
  if (eventTime !== undefined) row['EventTime'] = eventTime;
  row['RunId'] = link.runId;
  row['CaseId'] = link.caseId;
  row['ClusterResourceId'] = link.clusterResourceId;
  row['EvidencePath'] = `${link.evidenceLocation.replace(/\/+$/, '')}/${link.artifactPath}`;
  row['EvidenceSha256'] = link.artifactSha256;
  row['RecordId'] = recordId;
  row['TruncatedColumns'] = '';
  row['CollectionPhase'] = link.phase ?? 'initial';

  // Still too large (many long columns, or JSON escaping): shrink the largest column, again and again.
  let bytes = rowBytes(row, truncated);
  while (bytes > maxRowBytes) {
    let largest: string | undefined;
    let largestBytes = 0;
    for (const [name] of originals) {
      const b = Buffer.byteLength(JSON.stringify(row[name]));
      if (b > largestBytes) [largest, largestBytes] = [name, b];
    }
    if (largest === undefined || largestBytes <= MIN_SHRUNK_FIELD_BYTES) {
      throw new AksEvidenceError('ERR_ROW_TOO_LARGE', `a ${table.name} row cannot be shrunk below ${maxRowBytes} bytes (${bytes} bytes after truncation); record ${recordId}`);
    }
    const current = Buffer.byteLength(row[largest] as string);
    // JSON escaping can make a column larger on the wire than in UTF-8: scale the cut accordingly.
    const ratio = largestBytes / Math.max(1, current);
    const target = Math.max(MIN_SHRUNK_FIELD_BYTES, Math.floor(current - (bytes - maxRowBytes) / ratio) - 64);
    row[largest] = truncateUtf8(originals.get(largest) ?? '', target).value;
    truncated.set(largest, target);
    bytes = rowBytes(row, truncated);
  }

  const truncatedColumns = table.columns.map((c) => c.name).filter((n) => truncated.has(n));
  row['TruncatedColumns'] = truncatedColumns.join(',');
  bytes = Buffer.byteLength(JSON.stringify(row));
  return { row, recordId, bytes, truncatedColumns, droppedColumns, invalidColumns };
}

/** Serialized size with TruncatedColumns filled in as it will be. */
function rowBytes(row: WireRow, truncated: Map<string, number>): number {
  const names = [...truncated.keys()].join(',');
  return Buffer.byteLength(JSON.stringify(row)) + Buffer.byteLength(JSON.stringify(names)) - 2;
}
