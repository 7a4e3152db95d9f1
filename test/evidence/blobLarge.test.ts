import { createHash, randomFillSync } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openBlobBundle } from '../../shared/evidence/blobStore.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';

/**
 * A large artifact streams through the Blob store with memory bounded by its blocks, not its
 * size. Memory is measured after a forced GC (so garbage awaiting collection is not counted),
 * as heap plus ArrayBuffer memory (where Buffers live).
 */

const MIB = 1024 * 1024;
const TOTAL_BYTES = 300 * MIB;
const BLOCK_BYTES = 4 * MIB;
const CHUNK_BYTES = 1 * MIB;
/** Generous: two blocks in the writer, the SDK's request copy, stream buffers, test chunk — far below the 300 MiB artifact. */
const ALLOWED_GROWTH = 16 * BLOCK_BYTES;

let azurite: AzuriteBlob;
let gc: () => void;

beforeAll(async () => {
  setFlagsFromString('--expose-gc');
  gc = runInNewContext('gc') as () => void;
  azurite = await startAzurite();
});
afterAll(async () => {
  await azurite?.stop();
});

function liveBytes(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test(`a ${TOTAL_BYTES / MIB} MiB artifact uploads and reads back with memory bounded by blocks`, async () => {
  const container = `large-${process.pid}`;
  const store = await openBlobBundle({
    containerUrl: azurite.containerUrl(container),
    caseId: 'big',
    runId: 'run-1',
    connectionString: azurite.connectionString,
    blockSizeBytes: BLOCK_BYTES,
    createContainer: true,
  });

  const baseline = liveBytes();
  const rssBefore = process.memoryUsage().rss;
  let peakGrowth = 0;
  const reference = createHash('sha256');
  const chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  const writer = await store.openWriter('sources/containerlogs/huge.rows.ndjson', { contentType: 'application/x-ndjson' });
  for (let written = 0; written < TOTAL_BYTES; written += CHUNK_BYTES) {
    randomFillSync(chunk); // generated on the fly; the writer must not keep a reference
    reference.update(chunk);
    await writer.write(chunk);
    if ((written / CHUNK_BYTES) % 16 === 0) peakGrowth = Math.max(peakGrowth, liveBytes() - baseline);
  }
  const result = await writer.close();
  peakGrowth = Math.max(peakGrowth, liveBytes() - baseline);
  const expected = reference.digest('hex');
  expect(result.bytes).toBe(TOTAL_BYTES);
  expect(result.sha256).toBe(expected);
  expect(peakGrowth).toBeLessThan(ALLOWED_GROWTH);

  // Reading it back streams too, and the stored bytes hash to the same value.
  const info = await store.stat(result.path);
  expect(info).toEqual(expect.objectContaining({ bytes: TOTAL_BYTES, recordedSha256: expected }));
  const readBaseline = liveBytes();
  let readPeak = 0;
  const readHash = createHash('sha256');
  let readBytes = 0;
  let n = 0;
  for await (const c of await store.read(result.path)) {
    readHash.update(c as Uint8Array);
    readBytes += (c as Uint8Array).byteLength;
    if (++n % 256 === 0) readPeak = Math.max(readPeak, liveBytes() - readBaseline);
  }
  expect(readBytes).toBe(TOTAL_BYTES);
  expect(readHash.digest('hex')).toBe(expected);
  expect(readPeak).toBeLessThan(ALLOWED_GROWTH);
  // Resident memory, allocator slack included, stays well under the artifact's size.
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(TOTAL_BYTES / 2);
});
