import { redactSecrets } from './redact.js';

/**
 * The project's error model (after sindresorhus/got): every unexpected failure is an
 * AksEvidenceError with a stable `code`, a message that names the problem and the fix, and
 * the original error as `cause`. Messages never carry tokens, kubeconfigs, SAS or Secret values.
 */
export class AksEvidenceError extends Error {
  override name = 'AksEvidenceError';
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}

/** Invalid user input (flag, request body, config document). `field` names what to fix. */
export class InputError extends AksEvidenceError {
  override name = 'InputError';
  readonly field: string;
  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('ERR_INPUT', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** An evidence artifact already exists with different content: evidence is never overwritten. */
export class ArtifactConflictError extends AksEvidenceError {
  override name = 'ArtifactConflictError';
  constructor(
    readonly path: string,
    readonly existingSha256: string,
    readonly newSha256: string,
  ) {
    super('ERR_ARTIFACT_CONFLICT', `evidence artifact ${path} already exists with sha256 ${existingSha256}; refusing to overwrite it with different content (sha256 ${newSha256})`);
  }
}

/** Strip credentials from a URL before it is shown anywhere (query string = SAS, userinfo). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = u.search ? '?<redacted>' : '';
    return u.toString();
  } catch {
    return url.replace(/\?.*$/, '?<redacted>');
  }
}

/**
 * A description of any thrown value, safe to print: the message only (no stack, no request
 * objects), with credentials an SDK or fetch may quote (URLs with userinfo or a query, bearer
 * tokens, keys) redacted.
 */
export function describeError(error: unknown): string {
  return redactSecrets(error instanceof Error ? error.message : String(error));
}
