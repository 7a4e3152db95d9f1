import { z } from 'zod';
import { validateArtifactPath } from './paths.js';

/** The field schemas the manifest and its increments' manifest parts share. */

export const sha256 = z.string().regex(/^[0-9a-f]{64}$/, 'must be a lowercase hex SHA-256');
export const utc = z.iso.datetime({ message: 'must be a UTC RFC 3339 time ending in Z' });
export const count = z.number().int().nonnegative();
export const artifactPath = z.string().superRefine((value, ctx) => {
  try {
    validateArtifactPath(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

export const artifactSchema = z.object({
  path: artifactPath,
  source: z.string().min(1),
  kind: z.enum(['rows', 'raw', 'custody', 'receipt', 'findings', 'audit', 'other']),
  sha256,
  bytes: count,
  records: count,
  contentType: z.string().min(1),
  contentEncoding: z.literal('gzip').optional(),
  table: z.string().optional(),
  shard: z.string().optional(),
});
