import { createHash } from 'node:crypto';
import type { EvidenceStore } from '../evidence/types.js';

/** SHA-256 of an artifact's stored bytes, streamed. */
export async function sha256Of(store: EvidenceStore, path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of await store.read(path)) hash.update(chunk as Uint8Array);
  return hash.digest('hex');
}
