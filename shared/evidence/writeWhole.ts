import type { ArtifactWriteOptions, EvidenceStore, WrittenArtifact } from './types.js';

/** Write a small artifact in one call through the store's own write-once writer. */
export async function writeWhole(store: Pick<EvidenceStore, 'openWriter'>, path: string, data: Uint8Array | string, options: ArtifactWriteOptions): Promise<WrittenArtifact> {
  const writer = await store.openWriter(path, options);
  try {
    await writer.write(typeof data === 'string' ? Buffer.from(data, 'utf8') : data);
  } catch (error) {
    await writer.abort();
    throw error;
  }
  return writer.close();
}
