import { InvalidArtifactPathError } from './errors.js';

const MAX_PATH_LENGTH = 900; // Blob names may be 1024 chars; leave room for <caseId>/<runId>/.

/**
 * Check an artifact path against the bundle contract: relative, "/"-separated, no "." or ".."
 * segments, no backslash, no control characters. Returns the path unchanged.
 */
export function validateArtifactPath(path: string): string {
  if (typeof path !== 'string' || path.length === 0) throw new InvalidArtifactPathError(String(path), 'empty path');
  if (path.length > MAX_PATH_LENGTH) throw new InvalidArtifactPathError(path.slice(0, 80) + '…', `longer than ${MAX_PATH_LENGTH} characters`);
  if (path.includes('\\')) throw new InvalidArtifactPathError(path, 'backslash is not allowed; use "/" between segments');
  if (path.startsWith('/')) throw new InvalidArtifactPathError(path, 'absolute paths are not allowed; paths are relative to the bundle');
  if (/^[A-Za-z]:/.test(path)) throw new InvalidArtifactPathError(path, 'drive-letter paths are not allowed');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(path)) throw new InvalidArtifactPathError(path, 'control characters are not allowed');
  for (const segment of path.split('/')) {
    if (segment === '') throw new InvalidArtifactPathError(path, 'empty segment ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') throw new InvalidArtifactPathError(path, `"${segment}" segments are not allowed`);
  }
  return path;
}

/** Check a single-segment bundle id (runId, caseId): it becomes a directory or blob-name segment. */
export function validateBundleId(kind: 'runId' | 'caseId', id: string): string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidArtifactPathError(String(id), `${kind} is empty`);
  if (id.length > 128) throw new InvalidArtifactPathError(id.slice(0, 80) + '…', `${kind} is longer than 128 characters`);
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(id)) {
    throw new InvalidArtifactPathError(id, `${kind} may only contain letters, digits, ".", "_" and "-" (and must start with a letter or digit)`);
  }
  if (id.includes('..')) throw new InvalidArtifactPathError(id, `${kind} may not contain ".."`);
  return id;
}
