import { createHash } from 'node:crypto';
import type { EvidenceStore } from './types.js';

/** SHA-256 and byte count of a stream, read to the end without buffering it. */
export async function hashStream(
  stream: NodeJS.ReadableStream | AsyncIterable<Uint8Array | string>,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ sha256: string; bytes: number }> {
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Uint8Array | string>) {
    options.abortSignal?.throwIfAborted();
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    hash.update(buf);
    bytes += buf.byteLength;
  }
  return { sha256: hash.digest('hex'), bytes };
}

/** SHA-256 hex of bytes in memory. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function isSha256Hex(value: unknown): value is string {
  return typeof value === 'string' && /^[0-9a-f]{64}$/.test(value);
}

/** SHA-256 hex of an artifact's stored bytes, streamed. */
export async function artifactSha256(store: EvidenceStore, path: string): Promise<string> {
  return (await hashStream(await store.read(path))).sha256;
}
