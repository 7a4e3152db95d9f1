/**
 * The ingestion target document: where rows go. One JSON document, the same the infra
 * deployment outputs, given as an app setting, a CLI flag (inline JSON) or a file:
 *
 *   { "endpoint": "https://<dce>.<region>-1.ingest.monitor.azure.com",
 *     "tables": { "kubelogs_CL": { "dcrImmutableId": "dcr-…", "streamName": "Custom-kubelogs_CL" }, … },
 *     "maxConcurrency": 4,                          (optional)
 *     "retry": { "attempts": 6, "maxDelayMs": 30000 },  (optional)
 *     "audience": "https://monitor.azure.com" }     (optional, sovereign clouds)
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { stripUndefined } from '../util/objects.js';

/** Where one table's rows go. */
export interface IngestionTableTarget {
  /** Immutable id of the DCR that declares the table's stream, `dcr-` + 32 hex digits. */
  dcrImmutableId: string;
  /** The DCR input stream, `Custom-<table>`. */
  streamName: string;
}

/** The document as written by infra/ (and by infra/dcr.ts ingestionTargetDocument). */
export interface IngestionTargetDocument {
  endpoint: string;
  tables: Record<string, IngestionTableTarget>;
  maxConcurrency?: number;
  retry?: Partial<RetryBudget>;
  audience?: string;
}

/** How hard to retry rows the service did not acknowledge (429 without Retry-After, 5xx, dropped connections). */
export interface RetryBudget {
  /** Re-send rounds after the first send. Default 6. */
  attempts: number;
  /** Longest wait between rounds, in ms (Retry-After is honoured up to this). Default 30000. */
  maxDelayMs: number;
  /** First backoff delay in ms, doubled each round (with jitter). Default 1000. */
  baseDelayMs: number;
}

/** A validated, frozen ingestion target. */
export interface IngestionTarget {
  /** DCE logs ingestion endpoint, https, no trailing slash, no query. */
  readonly endpoint: string;
  readonly tables: Readonly<Record<string, Readonly<IngestionTableTarget>>>;
  /** Requests in flight per table. Default 4. */
  readonly maxConcurrency: number;
  readonly retry: Readonly<RetryBudget>;
  /** Token audience (scope = audience + '/.default'). Default https://monitor.azure.com. */
  readonly audience: string;
}

export const DEFAULT_MAX_CONCURRENCY = 4;
export const DEFAULT_RETRY_BUDGET: Readonly<RetryBudget> = Object.freeze({ attempts: 6, maxDelayMs: 30_000, baseDelayMs: 1_000 });
export const DEFAULT_AUDIENCE = 'https://monitor.azure.com';

const DCR_IMMUTABLE_ID = /^dcr-[0-9a-f]{32}$/;

const httpsUrl = (what: string) =>
  z.string().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: `not a URL; expected ${what}` });
      return;
    }
    if (url.protocol !== 'https:') ctx.addIssue({ code: 'custom', message: `must use https (the Logs Ingestion API refuses tokens over http); expected ${what}` });
    if (url.username || url.password || url.search || url.hash) {
      ctx.addIssue({ code: 'custom', message: 'must not carry credentials, a query string or a fragment: give the bare endpoint' });
    }
  });

const tableTargetSchema = z.strictObject({
  dcrImmutableId: z
    .string()
    .regex(DCR_IMMUTABLE_ID, 'expected the DCR immutable id ("dcr-" followed by 32 hex digits), not its name or ARM id; see the DCR\'s JSON view (properties.immutableId)'),
  streamName: z.string().regex(/^Custom-[A-Za-z][A-Za-z0-9_]*$/, 'expected the DCR input stream name, "Custom-<table>"'),
});

const documentSchema = z.strictObject({
  endpoint: httpsUrl("the data collection endpoint's logs ingestion URL, e.g. https://my-dce-abcd.westeurope-1.ingest.monitor.azure.com"),
  tables: z
    .record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*_CL$/, 'table names are custom table names ending in _CL'), tableTargetSchema)
    .refine((t) => Object.keys(t).length > 0, 'no table configured: add at least one "<table>_CL": { dcrImmutableId, streamName }'),
  maxConcurrency: z.number().int().min(1).max(64).optional(),
  retry: z
    .strictObject({
      attempts: z.number().int().min(0).max(20).optional(),
      maxDelayMs: z.number().int().min(0).max(600_000).optional(),
      baseDelayMs: z.number().int().min(0).max(60_000).optional(),
    })
    .optional(),
  audience: httpsUrl('the Azure Monitor audience, e.g. https://monitor.azure.us').optional(),
});

function fieldPath(path: readonly PropertyKey[]): string {
  return path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[')
    : '(document)';
}

/**
 * Validate an ingestion target document (already parsed JSON). Throws InputError naming the
 * field and the fix; `origin` (e.g. the file path or "--config") prefixes the field.
 */
export function parseIngestionTarget(input: unknown, origin = 'ingestion target'): IngestionTarget {
  const parsed = documentSchema.safeParse(input);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    const all = parsed.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`);
    throw new InputError(`${origin}${first && first.path.length ? ` ${fieldPath(first.path)}` : ''}`, all.join('; '), { cause: parsed.error });
  }
  const doc = parsed.data;
  const tables: Record<string, Readonly<IngestionTableTarget>> = {};
  for (const [name, t] of Object.entries(doc.tables)) tables[name] = Object.freeze({ dcrImmutableId: t.dcrImmutableId, streamName: t.streamName });
  return Object.freeze({
    endpoint: doc.endpoint.replace(/\/+$/, ''),
    tables: Object.freeze(tables),
    maxConcurrency: doc.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    retry: Object.freeze({ ...DEFAULT_RETRY_BUDGET, ...stripUndefined(doc.retry ?? {}) }),
    audience: (doc.audience ?? DEFAULT_AUDIENCE).replace(/\/+$/, ''),
  });
}

/** Parse a JSON string (inline document). */
export function parseIngestionTargetJson(text: string, origin = 'ingestion target'): IngestionTarget {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InputError(origin, `not valid JSON (${(error as Error).message}); give the document the deployment outputs, or a path to a file holding it`, { cause: error });
  }
  return parseIngestionTarget(value, origin);
}

/**
 * Load the target from what a user gives: an object, inline JSON (starts with "{"), or a file
 * path (relative to `cwd`).
 */
export async function loadIngestionTarget(spec: string | object, options: { cwd?: string; origin?: string } = {}): Promise<IngestionTarget> {
  if (typeof spec !== 'string') return parseIngestionTarget(spec, options.origin);
  const text = spec.trim();
  if (text.startsWith('{')) return parseIngestionTargetJson(text, options.origin ?? 'ingestion target (inline JSON)');
  const file = resolve(options.cwd ?? '.', text);
  let content: string;
  try {
    content = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new InputError(options.origin ?? 'ingestion target', `cannot read ${file} (${code ?? (error as Error).message}); give a path to the JSON document or the JSON itself`, {
      cause: error,
    });
  }
  return parseIngestionTargetJson(content, options.origin ?? file);
}

/** The endpoint as it may be printed or stored in a receipt (no userinfo, no query). */
export function printableEndpoint(target: Pick<IngestionTarget, 'endpoint'>): string {
  const u = new URL(target.endpoint);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}
