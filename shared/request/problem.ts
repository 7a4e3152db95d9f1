/**
 * Problem details (RFC 9457) for every error an HTTP endpoint answers: a stable `type`, a
 * short `title`, the `status`, a `detail` saying what to do, and for validation failures
 * `errors[]` naming every invalid field with its fix. Bodies never carry secrets.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface FieldProblem {
  /** JSON path of the field, e.g. "cluster.resourceGroup" or "sources[2]"; "" for the body itself. */
  field: string;
  /** What is wrong and how to fix it. */
  message: string;
}

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  errors?: FieldProblem[];
  [extension: string]: unknown;
}

const TYPE_BASE = 'urn:aks-evidence:problem:';

export const PROBLEM_TYPES = {
  invalidRequest: `${TYPE_BASE}invalid-request`,
  noCluster: `${TYPE_BASE}no-cluster-in-incident`,
  runNotFound: `${TYPE_BASE}run-not-found`,
  runConflict: `${TYPE_BASE}run-exists`,
  unavailable: `${TYPE_BASE}orchestration-unavailable`,
  unsupportedMediaType: `${TYPE_BASE}unsupported-media-type`,
  tooLarge: `${TYPE_BASE}body-too-large`,
  noPreservation: `${TYPE_BASE}no-preservation-window`,
} as const;

/** At most this many field problems are answered; the rest are counted (a 200,000-entry array must not answer 200,000 errors). */
export const MAX_FIELD_PROBLEMS = 100;

/** Keep the first MAX_FIELD_PROBLEMS problems and say how many more there were. */
export function capProblems(problems: FieldProblem[]): FieldProblem[] {
  if (problems.length <= MAX_FIELD_PROBLEMS) return problems;
  const kept = problems.slice(0, MAX_FIELD_PROBLEMS);
  kept.push({ field: '', message: `${problems.length - MAX_FIELD_PROBLEMS} more invalid fields are not listed; fix the ones above first` });
  return kept;
}

export function invalidRequestProblem(errors: FieldProblem[], what = 'collection request'): ProblemDetails {
  const n = errors.length;
  return {
    type: PROBLEM_TYPES.invalidRequest,
    title: `Invalid ${what}`,
    status: 400,
    detail: `${n} field${n === 1 ? '' : 's'} of the ${what} ${n === 1 ? 'is' : 'are'} invalid; nothing was started. Fix each entry of "errors" and send it again.`,
    errors,
  };
}

export function runNotFoundProblem(runId: string): ProblemDetails {
  return {
    type: PROBLEM_TYPES.runNotFound,
    title: 'Collection run not found',
    status: 404,
    detail: `No collection run has the id "${runId}". Use the runId returned by POST /api/collections or POST /api/incidents/sentinel.`,
    runId,
  };
}

export function unavailableProblem(detail: string): ProblemDetails {
  return {
    type: PROBLEM_TYPES.unavailable,
    title: 'Durable Functions task hub unavailable',
    status: 503,
    detail,
  };
}

/** DELETE /api/collections/{runId}/preservation on a run whose window is not running. */
export function noPreservationProblem(runId: string, detail: string): ProblemDetails {
  return {
    type: PROBLEM_TYPES.noPreservation,
    title: 'No preservation window running',
    status: 409,
    detail,
    runId,
  };
}
