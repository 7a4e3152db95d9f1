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

/** Parse a request body as JSON; an empty or malformed body is a 400 problem naming the fix. */
export function parseJsonBody(text: string, what: string): { ok: true; value: unknown } | { ok: false; answer: HttpAnswer } {
  if (text.trim() === '') {
    return { ok: false, answer: problemAnswer(invalidRequestProblem([{ field: '', message: `the body is empty; send the ${what} as JSON (Content-Type: application/json)` }], what)) };
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
