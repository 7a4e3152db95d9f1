import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { redactAuditEvent } from './redact.js';
import type { AuditEvent, AuditObjectRef, AuditResponseStatus, AuditUser } from './types.js';

/**
 * Normalize audit events from every shape AKS gives them in, to audit.k8s.io/v1 Event:
 *
 *   audit-event            a raw Event (kube-apiserver audit log line)
 *   aks-diagnostic         a diagnostic-setting record (storage account / Event Hub export):
 *                          {time, resourceId, category: kube-audit[-admin], properties: {log, stream, pod}}
 *                          with properties.log a JSON string or an object; also {records: [...]}
 *   aks-audit-row          an AKSAudit / AKSAuditAdmin row (resource-specific tables): AuditId,
 *                          Stage, Verb, User, ObjectRef, ... as objects (query API) or JSON strings (exports)
 *   azure-diagnostics-row  an AzureDiagnostics row: Category kube-audit[-admin], the event in log_s
 *   la-response            a saved Log Analytics query API response {tables: [{columns, rows}]}
 *
 * Every event comes out with its Secret values redacted (./redact.ts).
 */
export type AuditInputShape = 'audit-event' | 'aks-diagnostic' | 'aks-audit-row' | 'azure-diagnostics-row' | 'la-response';

/** A record that could not be read; never carries the record's content (it may hold secrets). */
export interface AuditParseProblem {
  /** 1-based line (NDJSON/CSV) or array index + 1 (JSON array), when known. */
  line?: number;
  message: string;
}

export class AuditParseError extends Error {
  override name = 'AuditParseError';
  readonly code = 'ERR_AUDIT_PARSE';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Column/property lookup that ignores case and the portal export's " [UTC]" / " [Local Time]" suffixes. */
function columnMap(row: Record<string, unknown>): Map<string, unknown> {
  const m = new Map<string, unknown>();
  for (const [k, v] of Object.entries(row)) m.set(k.replace(/\s*\[[^\]]*\]\s*$/, '').trim().toLowerCase(), v);
  return m;
}

/** Which shape a parsed JSON value (or CSV row object) is; undefined when none. */
export function detectAuditShape(record: unknown): AuditInputShape | undefined {
  if (!isRecord(record)) return undefined;
  if (typeof record.auditID === 'string' && (record.kind === 'Event' || 'stage' in record || 'verb' in record)) return 'audit-event';
  if (Array.isArray(record.tables)) return 'la-response';
  if (Array.isArray(record.records)) return 'aks-diagnostic';
  if (isRecord(record.properties) && 'log' in record.properties) return 'aks-diagnostic';
  const cols = columnMap(record);
  if (cols.has('auditid')) return 'aks-audit-row';
  if (cols.has('log_s')) return 'azure-diagnostics-row';
  return undefined;
}

/** Parse a dynamic column value: objects as they are, JSON text parsed, empty → undefined. */
function dynamic(value: unknown): unknown {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'string') {
    const t = value.trim();
    if (t === '') return undefined;
    if (t[0] === '{' || t[0] === '[' || t[0] === '"') {
      try {
        return JSON.parse(t);
      } catch {
        return value;
      }
    }
    return value;
  }
  return value;
}

const US_DATE = /^(\d{1,2})\/(\d{1,2})\/(\d{4}),?\s+(\d{1,2}):(\d{2}):(\d{2})(\.\d+)?\s*(AM|PM)?$/i;

/** A datetime column value as UTC RFC 3339 (Date from the SDK, ISO text, or the portal's "M/D/YYYY, h:mm:ss.fff AM"). */
function datetime(value: unknown): string | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.toISOString();
  if (typeof value !== 'string') return undefined;
  const t = value.trim();
  const us = US_DATE.exec(t);
  if (us) {
    let hour = Number(us[4]);
    const ampm = us[8]?.toUpperCase();
    if (ampm === 'PM' && hour < 12) hour += 12;
    if (ampm === 'AM' && hour === 12) hour = 0;
    const ms = us[7] ? Math.round(Number(`0${us[7]}`) * 1000) : 0;
    const d = new Date(Date.UTC(Number(us[3]), Number(us[1]) - 1, Number(us[2]), hour, Number(us[5]), Number(us[6]), ms));
    return d.toISOString();
  }
  // ISO text keeps its own precision (the API server writes microseconds) when already UTC.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/.test(t)) return t;
  const ms = Date.parse(t);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function str(value: unknown): string | undefined {
  if (value === null || value === undefined) return undefined;
  const s = String(value);
  return s === '' ? undefined : s;
}

/** AKS tables store the event's sub-objects with the event's own (camelCase) keys; accept PascalCase too. */
function camelKeys(value: unknown): Record<string, unknown> | undefined {
  const v = dynamic(value);
  if (!isRecord(v)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(v)) out[k.length > 0 ? k[0]!.toLowerCase() + k.slice(1) : k] = val;
  return out;
}

function stringArray(value: unknown): string[] | undefined {
  const v = dynamic(value);
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === 'string' && v !== '') return v.split(',').map((s) => s.trim()).filter(Boolean);
  return undefined;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  const v = dynamic(value);
  if (!isRecord(v) || Object.keys(v).length === 0) return undefined;
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, typeof val === 'string' ? val : JSON.stringify(val)]));
}

/** Validate and complete a raw audit.k8s.io Event. */
function fromRawEvent(value: unknown): AuditEvent {
  if (!isRecord(value)) throw new AuditParseError('audit event is not a JSON object');
  if (typeof value.auditID !== 'string' || value.auditID === '') throw new AuditParseError('audit event has no auditID');
  if (value.kind !== undefined && value.kind !== 'Event') throw new AuditParseError(`not an audit Event (kind ${String(value.kind)})`);
  const event = { ...value } as unknown as AuditEvent;
  event.kind = 'Event';
  event.apiVersion = 'audit.k8s.io/v1';
  if (!isRecord(event.user)) event.user = {};
  if (typeof event.verb !== 'string') event.verb = '';
  if (typeof event.requestURI !== 'string') event.requestURI = '';
  if (typeof event.stage !== 'string') event.stage = '';
  if (typeof event.level !== 'string') event.level = '';
  return event;
}

function fromAksAuditRow(row: Record<string, unknown>): AuditEvent {
  const c = columnMap(row);
  const auditID = str(c.get('auditid'));
  if (!auditID) throw new AuditParseError('AKSAudit row has an empty AuditId');
  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: str(c.get('level')) ?? '',
    auditID,
    stage: str(c.get('stage')) ?? '',
    requestURI: str(c.get('requesturi')) ?? '',
    verb: str(c.get('verb')) ?? '',
    user: (camelKeys(c.get('user')) as AuditUser | undefined) ?? {},
  };
  const impersonated = camelKeys(c.get('impersonateduser'));
  if (impersonated && Object.keys(impersonated).length) event.impersonatedUser = impersonated as AuditUser;
  const ips = stringArray(c.get('sourceips'));
  if (ips?.length) event.sourceIPs = ips;
  const ua = str(c.get('useragent'));
  if (ua) event.userAgent = ua;
  const ref = camelKeys(c.get('objectref'));
  if (ref && Object.keys(ref).length) event.objectRef = ref as AuditObjectRef;
  const status = camelKeys(c.get('responsestatus'));
  if (status && Object.keys(status).length) {
    if (typeof status.code === 'string' && /^\d+$/.test(status.code)) status.code = Number(status.code);
    event.responseStatus = status as AuditResponseStatus;
  }
  const req = dynamic(c.get('requestobject'));
  if (req !== undefined) event.requestObject = req;
  const res = dynamic(c.get('responseobject'));
  if (res !== undefined) event.responseObject = res;
  const received = datetime(c.get('requestreceivedtime')) ?? datetime(c.get('timegenerated'));
  if (received) event.requestReceivedTimestamp = received;
  const stageTime = datetime(c.get('stagereceivedtime'));
  if (stageTime) event.stageTimestamp = stageTime;
  const annotations = stringRecord(c.get('annotations'));
  if (annotations) event.annotations = annotations;
  return event;
}

function fromLogField(log: unknown, what: string): AuditEvent {
  const value = typeof log === 'string' ? parseJsonOrThrow(log, `${what} is not valid JSON (truncated?)`) : log;
  return fromRawEvent(value);
}

function parseJsonOrThrow(text: string, message: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new AuditParseError(message);
  }
}

const AUDIT_CATEGORIES = new Set(['kube-audit', 'kube-audit-admin']);

/** A Log Analytics query API response body → row objects keyed by column name. */
export function laResponseRows(response: unknown): Record<string, unknown>[] {
  if (!isRecord(response) || !Array.isArray(response.tables)) return [];
  const out: Record<string, unknown>[] = [];
  for (const table of response.tables) {
    if (!isRecord(table) || !Array.isArray(table.rows)) continue;
    const cols = (Array.isArray(table.columns) ? table.columns : Array.isArray(table.columnDescriptors) ? table.columnDescriptors : []) as unknown[];
    const names = cols.map((col) => (isRecord(col) ? String(col.name) : String(col)));
    for (const r of table.rows) {
      if (!Array.isArray(r)) continue;
      out.push(Object.fromEntries(names.map((n, i) => [n, r[i]])));
    }
  }
  return out;
}

/**
 * Normalize one record of any supported shape to zero or more audit Events (a diagnostic
 * `records` wrapper or a query response holds many; a non-audit diagnostic category holds
 * none). Throws AuditParseError for a record that is none of the shapes.
 */
export function normalizeAuditRecord(record: unknown): AuditEvent[] {
  const shape = detectAuditShape(record);
  if (!shape || !isRecord(record)) throw new AuditParseError('not an audit record: expected an audit Event, an AKS diagnostic record, an AKSAudit row or an AzureDiagnostics row');
  switch (shape) {
    case 'audit-event':
      return [redactAuditEvent(fromRawEvent(record))];
    case 'la-response':
      return laResponseRows(record).flatMap((row) => normalizeAuditRecord(row));
    case 'aks-diagnostic': {
      if (Array.isArray(record.records)) return record.records.flatMap((r) => normalizeAuditRecord(r));
      const category = str(record.category ?? record.Category);
      if (category && !AUDIT_CATEGORIES.has(category)) return [];
      const props = record.properties as Record<string, unknown>;
      return [redactAuditEvent(fromLogField(props.log, 'properties.log'))];
    }
    case 'aks-audit-row':
      return [redactAuditEvent(fromAksAuditRow(record))];
    case 'azure-diagnostics-row': {
      const c = columnMap(record);
      const category = str(c.get('category'));
      if (category && !AUDIT_CATEGORIES.has(category)) return [];
      const log = c.get('log_s');
      if (log === undefined || log === null || log === '') throw new AuditParseError('AzureDiagnostics row has an empty log_s');
      return [redactAuditEvent(fromLogField(log, 'log_s'))];
    }
  }
}

// ---------------------------------------------------------------------------------------
// Text and streams

export interface ParseAuditOptions {
  /** Called for every record that could not be read (the parse goes on). */
  onProblem?: (problem: AuditParseProblem) => void;
}

/**
 * Split one CSV record (RFC 4180: quoted fields, "" escapes). Hand-written because it is
 * twenty lines and the portal's export is plain RFC 4180; no CSV package is installed.
 */
export function splitCsvRecord(record: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < record.length; i++) {
    const ch = record[i]!;
    if (quoted) {
      if (ch === '"') {
        if (record[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      fields.push(field);
      field = '';
    } else field += ch;
  }
  fields.push(field);
  return fields;
}

function countQuotes(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 34) n++;
  return n;
}

type Input = string | Uint8Array | NodeJS.ReadableStream | AsyncIterable<string | Uint8Array>;

function toReadable(input: Input): NodeJS.ReadableStream {
  if (typeof input === 'string' || input instanceof Uint8Array) return Readable.from([input]);
  if (typeof (input as NodeJS.ReadableStream).pipe === 'function') return input as NodeJS.ReadableStream;
  return Readable.from(input as AsyncIterable<string | Uint8Array>);
}

/**
 * Parse audit input of any supported file format, streaming where the format allows:
 * NDJSON (any record shape per line) and CSV (portal export) are read line by line; a JSON
 * array or a single pretty-printed JSON document (e.g. {"records": [...]}, a saved query
 * response) is read whole. Yields normalized, redacted events in input order; duplicate and
 * stage selection are separate (./stages.ts).
 */
export async function* parseAuditInput(input: Input, options: ParseAuditOptions = {}): AsyncGenerator<AuditEvent> {
  const lines = createInterface({ input: toReadable(input), crlfDelay: Infinity });
  const problem = (p: AuditParseProblem) => options.onProblem?.(p);
  let mode: 'ndjson' | 'document' | 'csv' | undefined;
  let lineNo = 0;
  let header: string[] | undefined;
  let pendingCsv = '';
  let pendingCsvStart = 0;
  const documentLines: string[] = [];

  const emit = function* (record: unknown, line: number): Generator<AuditEvent> {
    try {
      yield* normalizeAuditRecord(record);
    } catch (error) {
      if (!(error instanceof AuditParseError)) throw error;
      problem({ line, message: error.message });
    }
  };

  for await (const raw of lines) {
    lineNo++;
    const text = lineNo === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (mode === undefined) {
      const t = text.trim();
      if (t === '') continue;
      if (t[0] === '[') mode = 'document';
      else if (t[0] === '{') {
        try {
          JSON.parse(t);
          mode = 'ndjson';
        } catch {
          mode = 'document';
        }
      } else {
        mode = 'csv';
        header = splitCsvRecord(text);
        continue;
      }
    }
    if (mode === 'document') {
      documentLines.push(text);
      continue;
    }
    if (mode === 'ndjson') {
      const t = text.trim();
      if (t === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(t);
      } catch {
        problem({ line: lineNo, message: 'line is not valid JSON' });
        continue;
      }
      yield* emit(value, lineNo);
      continue;
    }
    // CSV: a quoted field may hold newlines; gather lines until the quotes balance.
    if (pendingCsv === '') pendingCsvStart = lineNo;
    pendingCsv = pendingCsv === '' ? text : `${pendingCsv}\n${text}`;
    if (countQuotes(pendingCsv) % 2 === 1) continue;
    const record = pendingCsv;
    pendingCsv = '';
    if (record.trim() === '') continue;
    const fields = splitCsvRecord(record);
    const row = Object.fromEntries((header ?? []).map((h, i) => [h, fields[i] ?? '']));
    yield* emit(row, pendingCsvStart);
  }
  if (mode === 'csv' && pendingCsv !== '') problem({ line: pendingCsvStart, message: 'unterminated quoted CSV field at end of input' });
  if (mode === 'document') {
    let doc: unknown;
    try {
      doc = JSON.parse(documentLines.join('\n'));
    } catch {
      problem({ message: 'input is neither NDJSON, CSV, nor one valid JSON document' });
      return;
    }
    if (Array.isArray(doc)) {
      for (let i = 0; i < doc.length; i++) yield* emit(doc[i], i + 1);
    } else yield* emit(doc, 1);
  }
}
