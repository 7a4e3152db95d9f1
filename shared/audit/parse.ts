import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { isCutJson, salvageCutObject, splitRecordArray } from './jsonRecovery.js';
import { redactAuditEvent } from './redact.js';
import type { AuditEvent, AuditParseNote, AuditUser } from './types.js';

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

/**
 * A record that could not be read whole; never carries the record's content (it may hold secrets).
 *
 *   unreadable  the record is lost (not JSON, none of the shapes, cut before it said what was done)
 *   partial     the record was cut: the event holds the fields before the cut, the rest is lost
 *   incomplete  the record lacks fields every audit event has (auditID, stage, timestamps...):
 *               it is kept and labelled, and the missing fields are named; nothing was lost
 */
export interface AuditParseProblem {
  kind: 'unreadable' | 'partial' | 'incomplete';
  /** 1-based line of the input (NDJSON/CSV line, or where a JSON array element starts), when known. */
  line?: number;
  /** 1-based position inside a JSON array, a {"records": [...]} wrapper or a query response. */
  index?: number;
  message: string;
  /** Fields the event lacks (incomplete, partial). */
  missing?: string[];
}

/** "line 4, record 2" — where a problem is, for messages. */
export function problemLocation(p: Pick<AuditParseProblem, 'line' | 'index'>): string {
  return [p.line !== undefined ? `line ${p.line}` : '', p.index !== undefined ? `record ${p.index}` : ''].filter(Boolean).join(', ');
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
  for (const [k, v] of Object.entries(row))
    m.set(
      k
        .replace(/\s*\[[^\]]*\]\s*$/, '')
        .trim()
        .toLowerCase(),
      v,
    );
  return m;
}

/** Which shape a parsed JSON value (or CSV row object) is; undefined when none. */
export function detectAuditShape(record: unknown): AuditInputShape | undefined {
  if (!isRecord(record)) return undefined;
  if (typeof record.auditID === 'string' && (record.kind === 'Event' || 'stage' in record || 'verb' in record)) return 'audit-event';
  if (record.kind === 'Event' && typeof record.apiVersion === 'string' && record.apiVersion.startsWith('audit.k8s.io/')) return 'audit-event';
  if (Array.isArray(record.tables)) return 'la-response';
  if (Array.isArray(record.records)) return 'aks-diagnostic';
  if (isRecord(record.properties) && 'log' in record.properties) return 'aks-diagnostic';
  // Hand-made samples and third-party exports often drop auditID: an object that says who did
  // which verb to what is still an audit event.
  if ((typeof record.verb === 'string' || typeof record.requestURI === 'string') && ('user' in record || 'objectRef' in record || 'requestURI' in record)) return 'audit-event';
  const cols = columnMap(record);
  if (cols.has('auditid') || (cols.has('verb') && cols.has('requesturi'))) return 'aks-audit-row';
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
  if (typeof v === 'string' && v !== '')
    return v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  return undefined;
}

function stringRecord(value: unknown): Record<string, string> | undefined {
  const v = dynamic(value);
  if (!isRecord(v) || Object.keys(v).length === 0) return undefined;
  return Object.fromEntries(Object.entries(v).map(([k, val]) => [k, typeof val === 'string' ? val : JSON.stringify(val)]));
}

/** Where a record sits in its input, for problems. */
interface At {
  line?: number;
  index?: number;
}

type Report = (problem: AuditParseProblem) => void;

/** Fields every audit event written by the API server has; a record without them is kept, and they are named. */
function missingFields(event: AuditEvent): string[] {
  const missing: string[] = [];
  if (!event.auditID) missing.push('auditID');
  if (!event.stage) missing.push('stage');
  if (!event.level) missing.push('level');
  if (!event.user?.username) missing.push('user.username');
  if (!event.verb) missing.push('verb');
  if (!event.requestReceivedTimestamp) missing.push('requestReceivedTimestamp');
  if (!event.stageTimestamp) missing.push('stageTimestamp');
  return missing;
}

/** Validate and complete a raw audit.k8s.io Event (audit lines, diagnostic `log`, AzureDiagnostics `log_s`). */
function fromRawEvent(value: unknown): AuditEvent {
  if (!isRecord(value)) throw new AuditParseError('audit event is not a JSON object');
  if (value.kind !== undefined && value.kind !== 'Event') throw new AuditParseError(`not an audit Event (kind ${String(value.kind)})`);
  if (typeof value.verb !== 'string' && typeof value.requestURI !== 'string') throw new AuditParseError('not an audit event: it has neither verb nor requestURI');
  const event = { ...value } as unknown as AuditEvent;
  event.kind = 'Event';
  event.apiVersion = 'audit.k8s.io/v1';
  if (typeof event.auditID !== 'string') event.auditID = '';
  if (!isRecord(event.user)) event.user = {};
  if (typeof event.verb !== 'string') event.verb = '';
  if (typeof event.requestURI !== 'string') event.requestURI = '';
  if (typeof event.stage !== 'string') event.stage = '';
  if (typeof event.level !== 'string') event.level = '';
  for (const k of ['requestReceivedTimestamp', 'stageTimestamp'] as const) {
    if (event[k] === undefined) continue;
    const t = datetime(event[k]);
    if (t) event[k] = t;
    else delete event[k];
  }
  if (isRecord(event.responseStatus) && typeof event.responseStatus.code === 'string' && /^\d+$/.test(event.responseStatus.code)) {
    event.responseStatus = { ...event.responseStatus, code: Number(event.responseStatus.code) };
  }
  return event;
}

function fromAksAuditRow(row: Record<string, unknown>): AuditEvent {
  const c = columnMap(row);
  const event: AuditEvent = {
    kind: 'Event',
    apiVersion: 'audit.k8s.io/v1',
    level: str(c.get('level')) ?? '',
    auditID: str(c.get('auditid')) ?? '',
    stage: str(c.get('stage')) ?? '',
    requestURI: str(c.get('requesturi')) ?? '',
    verb: str(c.get('verb')) ?? '',
    user: (camelKeys(c.get('user')) as AuditUser | undefined) ?? {},
  };
  if (!event.verb && !event.requestURI) throw new AuditParseError('AKSAudit row has neither Verb nor RequestUri');
  const impersonated = camelKeys(c.get('impersonateduser'));
  if (impersonated && Object.keys(impersonated).length) event.impersonatedUser = impersonated;
  const ips = stringArray(c.get('sourceips'));
  if (ips?.length) event.sourceIPs = ips;
  const ua = str(c.get('useragent'));
  if (ua) event.userAgent = ua;
  const ref = camelKeys(c.get('objectref'));
  if (ref && Object.keys(ref).length) event.objectRef = ref;
  const status = camelKeys(c.get('responsestatus'));
  if (status && Object.keys(status).length) {
    if (typeof status.code === 'string' && /^\d+$/.test(status.code)) status.code = Number(status.code);
    event.responseStatus = status;
  }
  const req = dynamic(c.get('requestobject'));
  if (req !== undefined) event.requestObject = req;
  const res = dynamic(c.get('responseobject'));
  if (res !== undefined) event.responseObject = res;
  const received = datetime(c.get('requestreceivedtime'));
  if (received) event.requestReceivedTimestamp = received;
  const stageTime = datetime(c.get('stagereceivedtime'));
  if (stageTime) event.stageTimestamp = stageTime;
  const annotations = stringRecord(c.get('annotations'));
  if (annotations) event.annotations = annotations;
  return event;
}

/** What the lines of a cut record lose: every top-level field it had not reached. */
const EVENT_FIELD_ORDER = ['auditID', 'stage', 'requestURI', 'verb', 'user', 'sourceIPs', 'objectRef', 'responseStatus', 'requestReceivedTimestamp', 'stageTimestamp'];

/**
 * The event in a `log` / `log_s` string. A string cut short (AzureDiagnostics keeps 32,766
 * characters; large RequestResponse events are cut in diagnostic records too) yields the fields
 * before the cut, marked partial; one that is not an audit event at all is unreadable.
 */
function fromLogField(log: unknown, what: string, at: At, report: Report | undefined): AuditEvent {
  if (typeof log !== 'string') return fromRawEvent(log);
  try {
    return fromRawEvent(JSON.parse(log));
  } catch (error) {
    if (error instanceof AuditParseError) throw error;
  }
  const salvaged = salvageCutObject(log);
  if (!salvaged) {
    throw new AuditParseError(
      isCutJson(log) ? `${what} was cut after ${log.length.toLocaleString('en-US')} characters, before any field of the event` : `${what} is not valid JSON`,
    );
  }
  let event: AuditEvent;
  try {
    event = fromRawEvent(salvaged);
  } catch {
    throw new AuditParseError(`${what} was cut after ${log.length.toLocaleString('en-US')} characters, before the request was described`);
  }
  const lost = EVENT_FIELD_ORDER.filter((k) => salvaged[k] === undefined);
  event.parseNote = { cutAt: log.length };
  report?.({
    kind: 'partial',
    ...at,
    message: `${what} was cut after ${log.length.toLocaleString('en-US')} characters: the event keeps the fields before the cut${lost.length ? `; missing: ${lost.join(', ')}` : ''}`,
    missing: lost,
  });
  return event;
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
 * Finish one event: time from the record around it when the event has none (the diagnostic
 * record's `time`, the row's TimeGenerated), missing fields named, secrets redacted.
 */
function finish(event: AuditEvent, at: At, report: Report | undefined, recordTime?: string): AuditEvent {
  const note: AuditParseNote = { ...event.parseNote };
  const missing = missingFields(event);
  if (!event.requestReceivedTimestamp && !event.stageTimestamp && recordTime) {
    event.stageTimestamp = recordTime;
    note.timeFrom = 'the time of the record that carried it';
  }
  if (missing.length) note.missing = missing;
  if (Object.keys(note).length) event.parseNote = note;
  // A cut record was reported as partial already; name the absent fields of a whole one.
  if (missing.length && note.cutAt === undefined) {
    const reported = missing.filter((m) => !(m === 'requestReceivedTimestamp' && event.stageTimestamp) && !(m === 'stageTimestamp' && event.requestReceivedTimestamp));
    if (reported.length) {
      report?.({
        kind: 'incomplete',
        ...at,
        message: `kept without ${reported.join(', ')}${note.timeFrom ? ` (time taken from ${note.timeFrom})` : !event.requestReceivedTimestamp && !event.stageTimestamp ? ' (no time: listed apart from the timeline)' : ''}`,
        missing: reported,
      });
    }
  }
  return redactAuditEvent(event);
}

function childAt(at: At, index: number): At {
  // A wrapper inside a numbered record (NDJSON line, array element) keeps the line; the index is the child's.
  return { ...(at.line !== undefined ? { line: at.line } : {}), index };
}

/**
 * Normalize one record of any supported shape to zero or more audit Events (a diagnostic
 * `records` wrapper or a query response holds many; a non-audit diagnostic category holds
 * none). Throws AuditParseError for a record that is none of the shapes or cannot be read.
 *
 * With `onProblem`, a bad child of a wrapper is reported (with its index) and its neighbours are
 * kept; cut records kept in part and records lacking fields are reported too. Without it, a bad
 * child throws.
 */
export function normalizeAuditRecord(record: unknown, options: { onProblem?: Report; at?: At } = {}): AuditEvent[] {
  const at = options.at ?? {};
  const report = options.onProblem;
  const shape = detectAuditShape(record);
  if (!shape || !isRecord(record)) throw new AuditParseError('not an audit record: expected an audit Event, an AKS diagnostic record, an AKSAudit row or an AzureDiagnostics row');
  const children = (list: unknown[]): AuditEvent[] => {
    const out: AuditEvent[] = [];
    list.forEach((child, i) => {
      const where = childAt(at, i + 1);
      try {
        out.push(...normalizeAuditRecord(child, { ...(report ? { onProblem: report } : {}), at: where }));
      } catch (error) {
        if (!(error instanceof AuditParseError) || !report) throw error;
        report({ kind: 'unreadable', ...where, message: error.message });
      }
    });
    return out;
  };
  switch (shape) {
    case 'audit-event':
      return [finish(fromRawEvent(record), at, report)];
    case 'la-response':
      return children(laResponseRows(record));
    case 'aks-diagnostic': {
      if (Array.isArray(record.records)) return children(record.records);
      const category = str(record.category ?? record.Category);
      if (category && !AUDIT_CATEGORIES.has(category)) return [];
      const props = record.properties as Record<string, unknown>;
      return [finish(fromLogField(props.log, 'properties.log', at, report), at, report, datetime(record.time ?? record.timeStamp))];
    }
    case 'aks-audit-row': {
      const c = columnMap(record);
      return [finish(fromAksAuditRow(record), at, report, datetime(c.get('timegenerated')))];
    }
    case 'azure-diagnostics-row': {
      const c = columnMap(record);
      const category = str(c.get('category'));
      if (category && !AUDIT_CATEGORIES.has(category)) return [];
      const log = c.get('log_s');
      if (log === undefined || log === null || log === '') throw new AuditParseError('AzureDiagnostics row has an empty log_s');
      return [finish(fromLogField(log, 'log_s', at, report), at, report, datetime(c.get('timegenerated')))];
    }
  }
}

// ---------------------------------------------------------------------------------------
// Text and streams

export interface ParseAuditOptions {
  /** Called for every record that could not be read whole (the parse goes on). */
  onProblem?: (problem: AuditParseProblem) => void;
}

/** One event with where it was read: the input line (NDJSON, CSV, JSON array element) and the position inside a wrapper. */
export interface LocatedAuditEvent {
  event: AuditEvent;
  line?: number;
  index?: number;
  /** The shape of the record the event came from. */
  shape?: AuditInputShape;
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
 *
 * Per record: a record that cannot be read is reported (line or index, reason) and skipped,
 * never its neighbours; a cut record is kept in part; a record lacking fields is kept and the
 * fields are named. A damaged JSON document is read element by element.
 */
export async function* parseAuditInput(input: Input, options: ParseAuditOptions = {}): AsyncGenerator<AuditEvent> {
  for await (const located of parseAuditRecords(input, options)) yield located.event;
}

/** parseAuditInput, with where each event was read (for corpus evaluation and messages). */
export async function* parseAuditRecords(input: Input, options: ParseAuditOptions = {}): AsyncGenerator<LocatedAuditEvent> {
  const lines = createInterface({ input: toReadable(input), crlfDelay: Infinity });
  const report: Report = (p) => options.onProblem?.(p);
  let mode: 'ndjson' | 'document' | 'csv' | undefined;
  let lineNo = 0;
  let header: string[] | undefined;
  let pendingCsv = '';
  let pendingCsvStart = 0;
  const documentLines: string[] = [];

  const emit = function* (record: unknown, at: At): Generator<LocatedAuditEvent> {
    let events: AuditEvent[];
    try {
      events = normalizeAuditRecord(record, { onProblem: report, at });
    } catch (error) {
      if (!(error instanceof AuditParseError)) throw error;
      report({ kind: 'unreadable', ...at, message: error.message });
      return;
    }
    // A wrapper's events carry their own index; a single record's event its line.
    const shape = detectAuditShape(record);
    for (let i = 0; i < events.length; i++) yield { event: events[i]!, ...at, ...(events.length > 1 || isWrapper(record) ? { index: i + 1 } : {}), ...(shape ? { shape } : {}) };
  };

  /** A line (or array element) that is not valid JSON: the cut start of an audit event, or lost. */
  const salvage = function* (text: string, at: AtLine): Generator<LocatedAuditEvent> {
    const partial = salvageCutObject(text);
    if (partial && detectAuditShape(partial) === 'audit-event') {
      let event: AuditEvent;
      try {
        event = fromRawEvent(partial);
      } catch {
        report({ kind: 'unreadable', ...at, message: `record was cut after ${text.length.toLocaleString('en-US')} characters, before the request was described` });
        return;
      }
      const lost = EVENT_FIELD_ORDER.filter((k) => partial[k] === undefined);
      event.parseNote = { cutAt: text.length };
      report({
        kind: 'partial',
        ...at,
        message: `record was cut after ${text.length.toLocaleString('en-US')} characters: the event keeps the fields before the cut${lost.length ? `; missing: ${lost.join(', ')}` : ''}`,
        missing: lost,
      });
      yield { event: finish(event, at, report), ...at, shape: 'audit-event' };
      return;
    }
    report({
      kind: 'unreadable',
      ...at,
      message: isCutJson(text)
        ? `record was cut after ${text.length.toLocaleString('en-US')} characters (${partial ? 'a cut wrapper keeps no event' : 'nothing readable before the cut'})`
        : 'not valid JSON',
    });
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
          // One line that is not JSON by itself: a pretty-printed document, or a cut first NDJSON line.
          mode = /^\{\s*"[^"]*"\s*:\s*[^{[\s]/.test(t) && !t.endsWith(',') && t.length > 200 ? 'ndjson' : 'document';
          if (mode === 'ndjson') {
            yield* salvage(t, { line: lineNo });
            continue;
          }
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
        yield* salvage(t, { line: lineNo });
        continue;
      }
      yield* emit(value, { line: lineNo });
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
    yield* emit(row, { line: pendingCsvStart });
  }
  if (mode === 'csv' && pendingCsv !== '') report({ kind: 'unreadable', line: pendingCsvStart, message: 'unterminated quoted CSV field at end of input' });
  if (mode === 'document') {
    const text = documentLines.join('\n');
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      yield* recoverDocument(text);
      return;
    }
    if (Array.isArray(doc)) {
      for (let i = 0; i < doc.length; i++) yield* emit(doc[i], { index: i + 1 });
    } else yield* emit(doc, {});
  }

  /** A document that is not valid JSON as a whole: its record array element by element. */
  function* recoverDocument(text: string): Generator<LocatedAuditEvent> {
    const split = splitRecordArray(text);
    if (!split.container) {
      report({ kind: 'unreadable', message: 'input is neither NDJSON, CSV, nor one valid JSON document' });
      return;
    }
    let index = 0;
    for (const el of split.elements) {
      index++;
      const at = { line: el.line, index };
      let value: unknown;
      try {
        value = JSON.parse(el.text);
      } catch {
        if (el.cut) yield* salvage(el.text, at);
        else report({ kind: 'unreadable', ...at, message: 'not valid JSON' });
        continue;
      }
      yield* emit(value, at);
    }
  }
}

type AtLine = At;

function isWrapper(record: unknown): boolean {
  return isRecord(record) && (Array.isArray(record.records) || Array.isArray(record.tables));
}
