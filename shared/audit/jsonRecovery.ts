import { Allow, parse as parsePartialJson } from 'partial-json';

/**
 * Reading what is left of damaged JSON, record by record. Audit exports get cut: AzureDiagnostics
 * keeps at most 32,766 characters of log_s, diagnostic records cut properties.log of large
 * RequestResponse events, downloads stop midway. One cut record must not take its neighbours
 * with it, and the fields before a cut (who did what to which object) are still evidence.
 *
 * The scanner below is hand-written because no JSON library resumes after a bad element of an
 * array (streaming parsers stop at the first error); the cut record itself is completed by
 * partial-json with partial strings and numbers refused, so a value is either whole or absent,
 * never a truncated username or a 20 that was a 201.
 */

/**
 * Where the JSON value that starts at `from` ends (the index after it), or -1 when the text ends
 * inside it. Only brackets, braces and strings are tracked: a scalar value ends at the next
 * delimiter. Tolerates anything else (it is a locator, not a validator).
 */
export function valueEnd(text: string, from: number): number {
  let depth = 0;
  let inString = false;
  for (let i = from; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 92 /* \ */) i++;
      else if (ch === 34 /* " */) {
        inString = false;
        if (depth === 0) return i + 1;
      }
      continue;
    }
    if (ch === 34) inString = true;
    else if (ch === 123 /* { */ || ch === 91 /* [ */) depth++;
    else if (ch === 125 /* } */ || ch === 93 /* ] */) {
      depth--;
      if (depth <= 0) return i + 1;
    } else if (depth === 0 && (ch === 44 /* , */ || ch === 10 || ch === 13)) return i;
  }
  return -1;
}

/** True when `text` stops inside its first JSON value (a cut record), false when that value is complete. */
export function isCutJson(text: string): boolean {
  const start = firstNonSpace(text, 0);
  return start >= 0 && (text[start] === '{' || text[start] === '[') && valueEnd(text, start) < 0;
}

function firstNonSpace(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch !== 32 && ch !== 9 && ch !== 10 && ch !== 13 && ch !== 0xfeff) return i;
  }
  return -1;
}

/**
 * The object a cut JSON text began, with every complete member kept and the member the cut ran
 * through left out (strings and numbers are never completed). Undefined when the text is not a
 * cut object (complete, garbage, or not an object).
 */
export function salvageCutObject(text: string): Record<string, unknown> | undefined {
  if (!isCutJson(text)) return undefined;
  try {
    const value = parsePartialJson(text.trim(), Allow.OBJ | Allow.ARR) as unknown;
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

export interface JsonElement {
  /** The element's text. */
  text: string;
  /** 1-based line of the document where the element starts. */
  line: number;
  /** True for an element the document ends inside of. */
  cut: boolean;
}

export interface SplitDocument {
  /** The elements of the document's record array, in order. */
  elements: JsonElement[];
  /** 'array' = the document is an array; 'records' = {"records": [...]}; undefined = no record array found. */
  container?: 'array' | 'records';
}

/**
 * The elements of a (possibly damaged) JSON document's record array: a top-level array, or the
 * "records" array of a diagnostic-settings blob. Each element is its own text, so a bad one can
 * be reported and skipped and a cut last one salvaged.
 */
export function splitRecordArray(text: string): SplitDocument {
  const start = firstNonSpace(text, 0);
  if (start < 0) return { elements: [] };
  let open = -1;
  let container: SplitDocument['container'];
  if (text[start] === '[') {
    open = start;
    container = 'array';
  } else if (text[start] === '{') {
    const m = /^\{\s*"records"\s*:\s*\[/.exec(text.slice(start, start + 200));
    if (m) {
      open = start + m[0].length - 1;
      container = 'records';
    }
  }
  if (open < 0) return { elements: [] };
  const elements: JsonElement[] = [];
  let line = 1 + countNewlines(text, 0, open);
  let at = open + 1;
  for (;;) {
    const s = firstNonSpace(text, at);
    if (s < 0) break;
    line += countNewlines(text, at, s);
    const ch = text[s];
    if (ch === ']') break;
    if (ch === ',') {
      at = s + 1;
      continue;
    }
    const end = valueEnd(text, s);
    if (end < 0) {
      elements.push({ text: text.slice(s), line, cut: true });
      break;
    }
    elements.push({ text: text.slice(s, end), line, cut: false });
    line += countNewlines(text, s, end);
    at = end;
  }
  return { elements, ...(container ? { container } : {}) };
}

function countNewlines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = from; i < to; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
