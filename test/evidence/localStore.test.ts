import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactNotFoundError, InvalidArtifactPathError } from '../../shared/evidence/errors.js';
import { openLocalBundle, openLocalBundleAt } from '../../shared/evidence/localStore.js';
import type { EvidenceStore, StoredArtifactInfo } from '../../shared/evidence/types.js';
import { ArtifactConflictError } from '../../shared/util/errors.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-local-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function readAll(store: EvidenceStore, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.read(path)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

async function listAll(store: EvidenceStore, prefix?: string): Promise<StoredArtifactInfo[]> {
  const out: StoredArtifactInfo[] = [];
  for await (const i of store.list(prefix)) out.push(i);
  return out;
}

const json = { contentType: 'application/json' };

test('the bundle is <out>/<runId> and location is a file URL without surprises', async () => {
  const store = await openLocalBundle(root, 'run-1');
  expect(fileURLToPath(store.location)).toBe(join(root, 'run-1'));
  expect((await stat(join(root, 'run-1'))).isDirectory()).toBe(true);
  await expect(openLocalBundle(root, '../escape')).rejects.toBeInstanceOf(InvalidArtifactPathError);
  await expect(openLocalBundleAt(join(root, 'nope'))).rejects.toThrow(/does not exist/);
});

test('an artifact is written once: same content again succeeds as alreadyExisted, different content is refused naming both hashes', async () => {
  const store = await openLocalBundle(root, 'run-1');
  const first = await store.writeArtifact('sources/events/a.json', '{"a":1}\n', json);
  expect(first).toEqual({ path: 'sources/events/a.json', sha256: createHash('sha256').update('{"a":1}\n').digest('hex'), bytes: 8 });

  const again = await store.writeArtifact('sources/events/a.json', '{"a":1}\n', json);
  expect(again.alreadyExisted).toBe(true);
  expect(again.sha256).toBe(first.sha256);

  const otherSha = createHash('sha256').update('{"a":2}\n').digest('hex');
  const refused = store.writeArtifact('sources/events/a.json', '{"a":2}\n', json);
  await expect(refused).rejects.toBeInstanceOf(ArtifactConflictError);
  await expect(store.writeArtifact('sources/events/a.json', '{"a":2}\n', json)).rejects.toThrow(new RegExp(`${first.sha256}.*${otherSha}`));
  // The original bytes are untouched and read-only.
  expect(await readFile(join(root, 'run-1', 'sources/events/a.json'), 'utf8')).toBe('{"a":1}\n');
  const mode = (await stat(join(root, 'run-1', 'sources/events/a.json'))).mode & 0o777;
  expect(mode).toBe(0o444);
  // No temp files are left behind.
  expect(await readdir(join(root, 'run-1'))).toEqual(['sources']);
});

test('concurrent writers of one path: exactly one publishes; identical content is idempotent, different content conflicts', async () => {
  const store = await openLocalBundle(root, 'run-1');
  const same = await Promise.all(Array.from({ length: 8 }, () => store.writeArtifact('x/same.txt', 'identical', json)));
  expect(same.filter((w) => !w.alreadyExisted)).toHaveLength(1);

  const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.writeArtifact('x/diff.txt', `content ${i}`, json)));
  const ok = results.filter((r) => r.status === 'fulfilled');
  const conflicts = results.filter((r) => r.status === 'rejected' && r.reason instanceof ArtifactConflictError);
  expect(ok).toHaveLength(1);
  expect(conflicts).toHaveLength(7);
});

test('the streaming hash equals crypto over the same bytes, across odd chunk sizes and the write buffer boundary', async () => {
  const store = await openLocalBundle(root, 'run-1');
  const writer = await store.openWriter('big/blob.bin', { contentType: 'application/octet-stream' });
  const reference = createHash('sha256');
  let total = 0;
  const sizes = [1, 7, 4096, 262_143, 262_144, 262_145, 1_000_003, 13, 0, 65_536];
  for (const size of sizes) {
    const chunk = randomBytes(size);
    reference.update(chunk);
    total += size;
    await writer.write(chunk);
  }
  const written = await writer.close();
  expect(written.sha256).toBe(reference.digest('hex'));
  expect(written.bytes).toBe(total);
  const back = await readAll(store, 'big/blob.bin');
  expect(createHash('sha256').update(back).digest('hex')).toBe(written.sha256);
  expect(await store.stat('big/blob.bin')).toEqual({ path: 'big/blob.bin', bytes: total });
});

test('nothing is visible before close, and abort leaves nothing behind', async () => {
  const store = await openLocalBundle(root, 'run-1');
  const writer = await store.openWriter('a/pending.txt', json);
  await writer.write(Buffer.from('half'));
  expect(await store.stat('a/pending.txt')).toBeUndefined();
  expect(await listAll(store)).toEqual([]);
  await writer.abort();
  await expect(writer.write(Buffer.from('more'))).rejects.toThrow(/aborted/);
  expect(await listAll(store)).toEqual([]);
  expect(await readdir(join(root, 'run-1'))).toEqual([]);
});

test('paths are validated with a clear error', async () => {
  const store = await openLocalBundle(root, 'run-1');
  for (const bad of ['/etc/passwd', '../x', 'a/../../x', 'a\\b', 'a//b', 'a/', '', 'a/./b', 'C:/x', 'a\u0000b']) {
    await expect(store.writeArtifact(bad, 'x', json)).rejects.toBeInstanceOf(InvalidArtifactPathError);
  }
  await expect(store.writeArtifact('../x', 'x', json)).rejects.toThrow(/invalid evidence path "\.\.\/x": "\.\." segments are not allowed/);
  await expect(store.read('/abs')).rejects.toBeInstanceOf(InvalidArtifactPathError);
  await expect(store.writeArtifact('ok.txt', 'x', { contentType: 'text/plain', metadata: { 'bad-key': 'v' } })).rejects.toThrow(/metadata key/);
  await expect(store.writeArtifact('ok.txt', 'x', { contentType: 'text/plain', metadata: { k: 'não-ascii' } })).rejects.toThrow(/ASCII/);
});

test('list is sorted, honours prefixes, skips temp files; read of a missing artifact is ArtifactNotFoundError', async () => {
  const store = await openLocalBundle(root, 'run-1');
  await store.writeArtifact('sources/b/2.json', '2', json);
  await store.writeArtifact('sources/a/1.json', '1', json);
  await store.writeArtifact('custody/0001-x.json', 'c', json);
  await store.writeArtifact('manifest.json', '{}', json);
  const pending = await store.openWriter('sources/c/pending.json', json);
  await pending.write(Buffer.from('p'));
  expect((await listAll(store)).map((i) => i.path)).toEqual(['custody/0001-x.json', 'manifest.json', 'sources/a/1.json', 'sources/b/2.json']);
  expect((await listAll(store, 'sources/')).map((i) => i.path)).toEqual(['sources/a/1.json', 'sources/b/2.json']);
  expect((await listAll(store, 'sources/a')).map((i) => i.path)).toEqual(['sources/a/1.json']);
  expect((await listAll(store, 'custody/')).map((i) => i.path)).toEqual(['custody/0001-x.json']);
  await pending.abort();
  await expect(store.read('sources/none.json')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  expect(await store.stat('sources/none.json')).toBeUndefined();
});

test('protection() says plainly that a directory is not WORM and cannot hold a legal hold', async () => {
  const store = await openLocalBundle(root, 'run-1', { legalHold: true, retentionDays: 30 });
  const p = await store.protection();
  expect(p.store).toBe('local-directory');
  expect(p.versionLevelImmutability).toBe(false);
  expect(p.legalHold).toEqual(expect.objectContaining({ requested: true, applied: false }));
  expect(p.retentionPolicy).toEqual(expect.objectContaining({ requested: true, applied: false }));
  expect(p.notes.join(' ')).toMatch(/NOT applied/);
});
