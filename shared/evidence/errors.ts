import { AksEvidenceError } from '../util/errors.js';

/** An artifact path (or bundle id) that would escape the bundle or is not portable between stores. */
export class InvalidArtifactPathError extends AksEvidenceError {
  override name = 'InvalidArtifactPathError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super('ERR_ARTIFACT_PATH', `invalid evidence path ${JSON.stringify(path)}: ${reason}`);
  }
}

/** The artifact asked for is not in the bundle. */
export class ArtifactNotFoundError extends AksEvidenceError {
  override name = 'ArtifactNotFoundError';
  constructor(
    readonly path: string,
    location: string,
    options?: { cause?: unknown },
  ) {
    super('ERR_ARTIFACT_NOT_FOUND', `evidence artifact ${path} does not exist in ${location}`, options);
  }
}

/** A manifest that is missing, unreadable, or does not match the schema. */
export class ManifestError extends AksEvidenceError {
  override name = 'ManifestError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_MANIFEST', message, options);
  }
}

/** The evidence store (directory or Blob service) failed in a way the caller cannot fix by retrying the same input. */
export class EvidenceStoreError extends AksEvidenceError {
  override name = 'EvidenceStoreError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_EVIDENCE_STORE', message, options);
  }
}
