import { AppSettingsError } from '../config/appSettings.js';
import { redactSecrets } from '../util/redact.js';
import { describeError } from '../util/errors.js';
import { PROBLEM_CONTENT_TYPE, PROBLEM_TYPES, invalidRequestProblem, unavailableProblem, type ProblemDetails } from './problem.js';

/**
 * Plain HTTP answers for the functions (structurally an @azure/functions HttpResponseInit;
 * shared/ does not import the runtime).
 */
export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export function problemAnswer(problem: ProblemDetails): HttpAnswer {
  return { status: problem.status, headers: { 'Content-Type': PROBLEM_CONTENT_TYPE }, body: JSON.stringify(problem) };
}

export function jsonAnswer(status: number, value: unknown, headers: Record<string, string> = {}): HttpAnswer {
  return { status, headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(value) };
}

/** Largest body POST /api/collections accepts (bytes): a request is a few hundred bytes; 500 namespaces fit easily. */
export const MAX_COLLECTION_REQUEST_BYTES = 256 * 1024;
/**
 * Largest body POST /api/incidents/sentinel accepts (bytes). A Sentinel incident groups at
 * most 150 alerts; with their descriptions and entities the trigger body stays in the low
 * megabytes.
 */
export const MAX_INCIDENT_BODY_BYTES = 16 * 1024 * 1024;

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/**
 * Only JSON is read: a form post or text body answers 415 naming the fix, before anything is
 * parsed. `application/json` with parameters (charset) and `+json` types count as JSON.
 */
export function requireJsonContentType(contentType: string | null | undefined, what: string): HttpAnswer | undefined {
  const media = (contentType ?? '').split(';')[0]?.trim() ?? '';
  if (JSON_MEDIA_TYPE.test(media)) return undefined;
  return problemAnswer({
    type: PROBLEM_TYPES.unsupportedMediaType,
    title: 'Unsupported media type',
    status: 415,
    detail: `${media ? `Content-Type "${media.slice(0, 100)}" is not JSON` : 'the request has no Content-Type'}; send the ${what} as JSON with "Content-Type: application/json". Nothing was started.`,
  });
}

/** A body larger than `maxBytes` (by its Content-Length, or once read) answers 413 naming the limit. */
export function bodyTooLarge(bytes: number, maxBytes: number, what: string): HttpAnswer | undefined {
  if (!(bytes > maxBytes)) return undefined;
  return problemAnswer({
    type: PROBLEM_TYPES.tooLarge,
    title: 'Request body too large',
    status: 413,
    detail: `The ${what} is larger than ${maxBytes.toLocaleString('en-US')} bytes; nothing was started.`,
  });
}

/**
 * Read a JSON body within limits: 415 for a non-JSON content type, 413 over `maxBytes`, 400
 * for empty or malformed JSON.
 */
export async function readJsonBody(
  request: { headers: { get(name: string): string | null }; text(): Promise<string> },
  what: string,
  maxBytes: number,
): Promise<{ ok: true; value: unknown } | { ok: false; answer: HttpAnswer }> {
  const unsupported = requireJsonContentType(request.headers.get('content-type'), what);
  if (unsupported) return { ok: false, answer: unsupported };
  const declared = Number(request.headers.get('content-length') ?? NaN);
  const early = Number.isFinite(declared) ? bodyTooLarge(declared, maxBytes, what) : undefined;
  if (early) return { ok: false, answer: early };
  const text = await request.text();
  const late = bodyTooLarge(Buffer.byteLength(text), maxBytes, what);
  if (late) return { ok: false, answer: late };
  return parseJsonBody(text, what);
}

/** Parse a request body as JSON; an empty or malformed body is a 400 problem naming the fix. */
export function parseJsonBody(text: string, what: string): { ok: true; value: unknown } | { ok: false; answer: HttpAnswer } {
  if (text.trim() === '') {
    return {
      ok: false,
      answer: problemAnswer(invalidRequestProblem([{ field: '', message: `the body is empty; send the ${what} as JSON (Content-Type: application/json)` }], what)),
    };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    return {
      ok: false,
      answer: problemAnswer(invalidRequestProblem([{ field: '', message: `the body is not valid JSON (${describeError(error)}); send the ${what} as a JSON object` }], what)),
    };
  }
}

/**
 * An unexpected failure answered to the caller: misconfiguration names the settings to fix
 * (500); anything else (task hub unreachable) is 503 with a redacted one-line reason.
 */
export function failureAnswer(error: unknown): HttpAnswer {
  if (error instanceof AppSettingsError) {
    return problemAnswer({
      type: `${PROBLEM_TYPES.invalidRequest.replace(/invalid-request$/, 'misconfigured')}`,
      title: 'The Function App is misconfigured',
      status: 500,
      detail: 'Fix these app settings and restart the app; nothing was started.',
      settings: error.problems.map((p) => ({ setting: p.setting, message: redactSecrets(p.message) })),
    });
  }
  const message = redactSecrets(describeError(error).split('\n')[0] ?? '').slice(0, 300);
  return problemAnswer(unavailableProblem(`The Durable Functions task hub did not answer as expected (${message}); nothing may have been started. Try again.`));
}
