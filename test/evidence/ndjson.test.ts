import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as setTimeoutPromise } from 'node:timers/promises';
import v8 from 'node:v8';
import { gunzipSync } from 'node:zlib';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { createNdjsonArtifact, readNdjson } from '../../shared/evidence/ndjson.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-ndjson-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function collect(it: AsyncIterable<unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const records = Array.from({ length: 5000 }, (_, i) => ({ i, ns: i % 2 ? 'default' : 'kube-system', msg: `line ${i} ✓ "quoted" \n newline`, nested: { a: [i, null, true] } }));

test('gzip NDJSON round-trips, counts records, and its hash is the hash of the stored bytes', async () => {
  const store = await openLocalBundle(root, 'run');
  const w = await createNdjsonArtifact(store, 'sources/x/x.rows.ndjson.gz', { gzip: true });
  for (const r of records) await w.write(r);
  expect(w.records).toBe(records.length);
  const written = await w.close();
  expect(written.records).toBe(records.length);
  const stored = await readFile(join(root, 'run', 'sources/x/x.rows.ndjson.gz'));
  expect(stored.byteLength).toBe(written.bytes);
  expect(createHash('sha256').update(stored).digest('hex')).toBe(written.sha256);
  // The stored bytes are real gzip of one JSON document per line.
  const lines = gunzipSync(stored).toString('utf8').split('\n');
  expect(lines.pop()).toBe('');
  expect(lines.map((l) => JSON.parse(l) as unknown)).toEqual(records);
  expect(await collect(readNdjson(store, written.path))).toEqual(records);
});

test('the same records give the same bytes and hash (a retried write is idempotent)', async () => {
  const hashes: string[] = [];
  for (const run of ['a', 'b']) {
    const store = await openLocalBundle(root, run);
    const w = await createNdjsonArtifact(store, 'r.ndjson.gz', { gzip: true });
    for (const r of records) await w.write(r);
    hashes.push((await w.close()).sha256);
  }
  expect(hashes[0]).toBe(hashes[1]);
  const store = await openLocalBundle(root, 'a');
  const retry = await createNdjsonArtifact(store, 'r.ndjson.gz', { gzip: true });
  for (const r of records) await retry.write(r);
  const again = await retry.close();
  expect(again.alreadyExisted).toBe(true);
});

test('writeMany gives the bytes write() gives, however the records are batched (the hash does not depend on chunking)', async () => {
  const big = Array.from({ length: 30_000 }, (_, i) => ({ i, message: `${'x'.repeat(i % 300)} ✓ ${i}` }));
  const store = await openLocalBundle(root, 'run');
  const one = await createNdjsonArtifact(store, 'one.ndjson.gz', { gzip: true });
  for (const r of big) await one.write(r);
  const a = await one.close();
  const many = await createNdjsonArtifact(store, 'many.ndjson.gz', { gzip: true });
  for (let i = 0, n = 1; i < big.length; i += n, n = (n * 7) % 997) await many.writeMany(big.slice(i, i + n));
  const b = await many.close();
  expect(b.records).toBe(big.length);
  expect(b.sha256).toBe(a.sha256);
  expect(b.bytes).toBe(a.bytes);
  await expect(many.writeMany([{ late: true }])).rejects.toThrow('the artifact is closed');
});

test('plain NDJSON, empty artifacts, and gzip detection by content encoding or .gz', async () => {
  const store = await openLocalBundle(root, 'run');
  const plain = await createNdjsonArtifact(store, 'plain.ndjson');
  await plain.write({ a: 1 });
  await plain.write('text');
  await plain.close();
  expect(await readFile(join(root, 'run', 'plain.ndjson'), 'utf8')).toBe('{"a":1}\n"text"\n');
  expect(await collect(readNdjson(store, 'plain.ndjson'))).toEqual([{ a: 1 }, 'text']);

  const empty = await createNdjsonArtifact(store, 'empty.ndjson.gz', { gzip: true });
  const e = await empty.close();
  expect(e.records).toBe(0);
  expect(await collect(readNdjson(store, 'empty.ndjson.gz'))).toEqual([]);
  // A gzip artifact without .gz: the caller says so.
  const noExt = await createNdjsonArtifact(store, 'gz-without-ext', { gzip: true });
  await noExt.write({ z: 1 });
  await noExt.close();
  expect(await collect(readNdjson(store, 'gz-without-ext', { gzip: true }))).toEqual([{ z: 1 }]);
});

test('a record that is not JSON is refused; a corrupt or truncated artifact fails loudly with the line or cause', async () => {
  const store = await openLocalBundle(root, 'run');
  const w = await createNdjsonArtifact(store, 'x.ndjson');
  await expect(w.write(undefined)).rejects.toThrow(/JSON-serializable/);
  await w.abort();
  expect(await store.stat('x.ndjson')).toBeUndefined();

  await store.writeArtifact('bad.ndjson', '{"ok":1}\n{not json}\n', { contentType: 'application/x-ndjson' });
  await expect(collect(readNdjson(store, 'bad.ndjson'))).rejects.toThrow(/bad\.ndjson line 2 is not valid JSON/);

  const full = await createNdjsonArtifact(store, 'full.ndjson.gz', { gzip: true });
  for (const r of records) await full.write(r);
  await full.close();
  const bytes = await readFile(join(root, 'run', 'full.ndjson.gz'));
  await writeRaw(store, 'truncated.ndjson.gz', bytes.subarray(0, bytes.byteLength - 20));
  await expect(collect(readNdjson(store, 'truncated.ndjson.gz'))).rejects.toThrow(/unexpected end of file/);
});

test('write() applies backpressure: when the store stops taking bytes, write() stops resolving after a bounded amount', async () => {
  const store = await openLocalBundle(root, 'run');
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let delivered = 0;
  const stalled: EvidenceStore = {
    ...store,
    location: store.location,
    openWriter: async (path, options) => {
      const inner = await store.openWriter(path, options);
      return {
        path,
        write: async (chunk) => {
          await gate; // the store is stuck until released
          delivered += chunk.byteLength;
          await inner.write(chunk);
        },
        close: () => inner.close(),
        abort: () => inner.abort(),
      };
    },
  };
  const w = await createNdjsonArtifact(stalled, 'bp.ndjson');
  const line = { pad: 'y'.repeat(1000) };
  const lineBytes = JSON.stringify(line).length + 1;
  let accepted = 0;
  let blocked: Promise<void> | undefined;
  for (let i = 0; i < 10_000; i++) {
    const p = w.write(line);
    const settled = await Promise.race([p.then(() => true), new Promise<boolean>((r) => setImmediate(() => r(false)))]);
    if (!settled) {
      blocked = p;
      break;
    }
    accepted++;
  }
  expect(blocked).toBeDefined();
  // One 1 MiB batch plus stream buffers, never the 10 MB the loop would have written.
  expect(accepted * lineBytes).toBeLessThan(3 * 1024 * 1024);
  expect(delivered).toBe(0);
  release();
  await blocked;
  const total = 5_000;
  for (let i = accepted + 1; i < total; i++) await w.write(line);
  const written = await w.close();
  expect(written.records).toBe(total);
  expect(written.bytes).toBe(total * lineBytes);
  expect(delivered).toBe(written.bytes);
});

async function writeRaw(store: EvidenceStore, path: string, data: Uint8Array): Promise<void> {
  await store.writeArtifact(path, data, { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
}

test('writeNdjson: serialized bytes, small (copied) and large (handed to zlib as they are), interleaved with records, give the bytes write() gives; every buffer is released after use', async () => {
  const store = await openLocalBundle(root, 'run');
  const reference = await createNdjsonArtifact(store, 'a.ndjson.gz', { gzip: true });
  for (const r of records) await reference.write(r);
  const ref = await reference.close();
  for (const gzip of [true, false]) {
    const w = await createNdjsonArtifact(store, `b-${gzip}.ndjson${gzip ? '.gz' : ''}`, { gzip });
    const held = new Set<Buffer>();
    let released = 0;
    let i = 0;
    for (const size of [1, 7, 400, 3, 900, 1, 2000, 1688]) {
      const slice = records.slice(i, i + size);
      i += size;
      if (size === 1) {
        await w.write(slice[0]);
        continue;
      }
      const bytes = Buffer.from(slice.map((r) => `${JSON.stringify(r)}\n`).join(''));
      held.add(bytes);
      await w.writeNdjson(bytes, slice.length, () => {
        released++;
        held.delete(bytes);
      });
    }
    expect(i).toBe(records.length);
    expect(w.records).toBe(records.length);
    const written = await w.close();
    expect(held.size).toBe(0);
    expect(released).toBe(6);
    const stored = await readFile(join(root, 'run', written.path));
    expect(createHash('sha256').update(stored).digest('hex')).toBe(written.sha256);
    // Compressed bytes do not depend on how the input reached zlib: the same hash as write().
    if (gzip) expect(written.sha256).toBe(ref.sha256);
    expect(await collect(readNdjson(store, written.path))).toEqual(records);
  }
});

/** Promises alive after a full GC, of this test's realm and of Node's own (streams, zlib). */
function livePromises(): number {
  const nodeRealm = Object.getPrototypeOf(setTimeoutPromise(0)) as { constructor: PromiseConstructor };
  const count = (ctor: PromiseConstructor) => v8.queryObjects(ctor, { format: 'count' });
  return count(Promise) + (nodeRealm.constructor === Promise ? 0 : count(nodeRealm.constructor));
}

test('waiting for zlib holds nothing per wait: an artifact open for a whole run does not grow with what was written through it', async () => {
  // Each writeNdjson of a large buffer waits once the bytes in zlib pass 1 MB, and write() waits
  // for a free batch buffer: thousands of waits per GB of logs. A wait that left a reaction on a
  // promise living as long as the artifact (its pipeline) kept a closure per wait: ~1 MB per
  // second of collection, seen in the 1 GB benchmark's heap.
  const store = await openLocalBundle(root, 'run');
  const w = await createNdjsonArtifact(store, 'long.ndjson.gz', { gzip: true });
  const chunk = Buffer.from(`${'{"message":"x"}\n'.repeat(4096)}`);
  const line = { message: 'y'.repeat(2000) };
  const round = async (n: number) => {
    for (let i = 0; i < n; i++) {
      await w.writeNdjson(chunk, 4096);
      for (let j = 0; j < 40; j++) await w.write(line);
    }
  };
  await round(200);
  const before = livePromises();
  await round(2000);
  const after = livePromises();
  await w.close();
  expect(after - before).toBeLessThan(200);
});
