import { BlobServiceClient, type ContainerClient } from '@azure/storage-blob';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBlobBundle } from '../../shared/evidence/blobStore.js';
import { parseBlobRunUrl, parseBlobUrl } from '../../shared/evidence/blobUrl.js';
import { claimRunPath } from '../../shared/evidence/claim.js';
import { walkCustodyChain } from '../../shared/evidence/chainWalk.js';
import { CustodyLog, readCustodyLog } from '../../shared/evidence/custody.js';
import { ArtifactNotFoundError } from '../../shared/evidence/errors.js';
import { exportBundle } from '../../shared/evidence/export.js';
import { readManifest } from '../../shared/evidence/manifest.js';
import { readNdjson } from '../../shared/evidence/ndjson.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { ArtifactConflictError } from '../../shared/util/errors.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { writeSampleBundle } from './sampleBundle.js';

let azurite: AzuriteBlob;
let service: BlobServiceClient;
let tmp: string;

beforeAll(async () => {
  azurite = await startAzurite();
  service = BlobServiceClient.fromConnectionString(azurite.connectionString);
  tmp = await mkdtemp(join(tmpdir(), 'aks-evidence-blob-'));
});
afterAll(async () => {
  await azurite?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

let containerSeq = 0;
async function freshContainer(): Promise<{ name: string; client: ContainerClient; url: string }> {
  const name = `evidence-${process.pid}-${++containerSeq}`;
  const client = service.getContainerClient(name);
  await client.create();
  return { name, client, url: azurite.containerUrl(name) };
}

async function open(url: string, extra: Partial<Parameters<typeof openBlobBundle>[0]> = {}): Promise<EvidenceStore> {
  return openBlobBundle({ containerUrl: url, caseId: 'INC-7', runId: 'run-1', connectionString: azurite.connectionString, ...extra });
}

async function readAll(store: EvidenceStore, path: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await store.read(path)) chunks.push(Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}

const sha = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

test('a full run uploads to <container>/<caseId>/<runId>/ and verifies; location carries no key', async () => {
  const { client, url } = await freshContainer();
  const store = await open(url);
  expect(store.location).toBe(`${url}/INC-7/run-1`);
  expect(store.location).not.toMatch(/AccountKey|sig=|Eby8/);

  const sample = await writeSampleBundle(store, { runId: 'run-1', caseId: 'INC-7' });
  const names: string[] = [];
  for await (const b of client.listBlobsFlat()) names.push(b.name);
  expect(names).toEqual(
    expect.arrayContaining(['INC-7/run-1/manifest.json', 'INC-7/run-1/manifest.json.sha256', 'INC-7/run-1/custody/claim.json', 'INC-7/run-1/custody/0001.json']),
  );
  expect(names.every((n) => n.startsWith('INC-7/run-1/'))).toBe(true);

  // Metadata and index tags were set at write time; content headers too.
  const rows = sample.manifest.artifacts.find((a) => a.kind === 'rows');
  if (!rows) throw new Error('no rows artifact');
  const blob = client.getBlockBlobClient(`INC-7/run-1/${rows.path}`);
  const props = await blob.getProperties();
  expect(props.metadata).toEqual(expect.objectContaining({ sha256: rows.sha256, runid: 'run-1', caseid: 'INC-7', source: rows.source, kind: 'rows' }));
  expect(props.contentEncoding).toBe('gzip');
  expect(props.contentType).toBe('application/x-ndjson');
  expect((await blob.getTags()).tags).toEqual(expect.objectContaining({ sha256: rows.sha256, runId: 'run-1', caseId: 'INC-7', source: rows.source }));
  expect(await store.stat(rows.path)).toEqual(expect.objectContaining({ bytes: rows.bytes, recordedSha256: rows.sha256, contentEncoding: 'gzip' }));

  // Reading back through the same contract.
  const back: unknown[] = [];
  for await (const r of readNdjson(store, rows.path)) back.push(r);
  expect(back).toEqual(sample.rows.get(rows.path));
  expect((await readCustodyLog(store)).map((r) => r.step)).toEqual(['collection-started', 'artifacts-sealed', 'artifacts-sealed', 'manifest-sealed']);

  // verify through a fresh store opened from the run's URL, as `aks-evidence verify <url>` does.
  const reopened = await openEvidenceLocation(store.location, { storage: { connectionString: azurite.connectionString } });
  const report = await verifyBundle(reopened);
  expect(report.problems).toEqual([]);
  expect(report.ok).toBe(true);
  expect(report.manifestSha256).toBe(sample.manifestSha256);
  expect(report.artifacts.every((a) => a.status === 'ok' && a.recordedSha256 === a.expectedSha256)).toBe(true);
  expect(report.unexpected).toEqual([]);
  expect(await readManifest(reopened)).toEqual(sample.manifest);
});

test('write-once: same content again is alreadyExisted; different content is refused naming both hashes; nothing is visible before close', async () => {
  const { client, url } = await freshContainer();
  const store = await open(url);
  const first = await store.writeArtifact('sources/a.json', 'first', { contentType: 'application/json' });
  expect(first.sha256).toBe(sha('first'));
  expect((await store.writeArtifact('sources/a.json', 'first', { contentType: 'application/json' })).alreadyExisted).toBe(true);
  const refused = store.writeArtifact('sources/a.json', 'second', { contentType: 'application/json' });
  await expect(refused).rejects.toBeInstanceOf(ArtifactConflictError);
  await expect(store.writeArtifact('sources/a.json', 'second', { contentType: 'application/json' })).rejects.toThrow(
    new RegExp(`already exists with sha256 ${sha('first')}.*different content \\(sha256 ${sha('second')}\\)`),
  );
  expect((await readAll(store, 'sources/a.json')).toString()).toBe('first');

  // A blob without our metadata (written by something else): the store re-hashes its content to compare.
  await client.getBlockBlobClient('INC-7/run-1/foreign.txt').upload('foreign', 7);
  expect((await store.writeArtifact('foreign.txt', 'foreign', { contentType: 'text/plain' })).alreadyExisted).toBe(true);
  await expect(store.writeArtifact('foreign.txt', 'other', { contentType: 'text/plain' })).rejects.toThrow(new RegExp(sha('foreign')));

  // Concurrent writers of one name: exactly one commits.
  const results = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => store.writeArtifact('race.txt', `writer ${i}`, { contentType: 'text/plain' })));
  expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  expect(results.filter((r) => r.status === 'rejected' && r.reason instanceof ArtifactConflictError)).toHaveLength(4);

  const pending = await store.openWriter('pending.bin', { contentType: 'application/octet-stream' });
  await pending.write(randomBytes(300_000));
  expect(await store.stat('pending.bin')).toBeUndefined();
  await pending.abort();
  expect(await store.stat('pending.bin')).toBeUndefined();
  await expect(store.read('pending.bin')).rejects.toBeInstanceOf(ArtifactNotFoundError);
});

test('blocks: a multi-block artifact (small block size) and an empty one hash and read back exactly', async () => {
  const { client, url } = await freshContainer();
  const store = await open(url, { blockSizeBytes: 64 * 1024 });
  const writer = await store.openWriter('multi.bin', { contentType: 'application/octet-stream' });
  const reference = createHash('sha256');
  let total = 0;
  for (const size of [1, 65_535, 65_536, 65_537, 200_000, 7, 131_072]) {
    const chunk = randomBytes(size);
    reference.update(chunk);
    total += size;
    await writer.write(chunk);
  }
  const written = await writer.close();
  expect(written).toEqual({ path: 'multi.bin', sha256: reference.digest('hex'), bytes: total });
  const blocks = await client.getBlockBlobClient('INC-7/run-1/multi.bin').getBlockList('committed');
  expect(blocks.committedBlocks?.length).toBe(Math.ceil(total / 65_536));
  expect(sha(await readAll(store, 'multi.bin'))).toBe(written.sha256);

  const empty = await store.writeArtifact('empty.txt', '', { contentType: 'text/plain' });
  expect(empty).toEqual({ path: 'empty.txt', sha256: sha(''), bytes: 0 });
  expect((await readAll(store, 'empty.txt')).byteLength).toBe(0);
});

test('tampering behind the store (raw SDK overwrite, delete) is caught by verify, which names each blob', async () => {
  const { client, url } = await freshContainer();
  const store = await open(url);
  const sample = await writeSampleBundle(store, { runId: 'run-1', caseId: 'INC-7' });
  const [altered, deleted] = sample.manifest.artifacts;
  if (!altered || !deleted) throw new Error('sample too small');

  // An attacker with a key overwrites one blob (unconditionally, fresh metadata) and deletes another.
  const forged = Buffer.from('{"nothing":"to see"}\n');
  await client.getBlockBlobClient(`INC-7/run-1/${altered.path}`).upload(forged, forged.byteLength, { metadata: { sha256: altered.sha256 } });
  await client.getBlockBlobClient(`INC-7/run-1/${deleted.path}`).delete();

  const report = await verifyBundle(await openEvidenceLocation(store.location, { storage: { connectionString: azurite.connectionString } }));
  expect(report.ok).toBe(false);
  const byPath = Object.fromEntries(report.artifacts.map((a) => [a.path, a]));
  expect(byPath[altered.path]).toEqual(expect.objectContaining({ status: 'size-mismatch', actualSha256: sha(forged), expectedSha256: altered.sha256 }));
  expect(byPath[deleted.path]).toEqual(expect.objectContaining({ status: 'missing' }));
  expect(report.problems).toEqual(expect.arrayContaining([expect.stringContaining(altered.path), expect.stringContaining(`MISSING: ${deleted.path}`)]));
  expect(report.artifacts.filter((a) => a.status === 'ok')).toHaveLength(sample.manifest.artifacts.length - 2);

  // Same-size overwrite: caught by hash, not size.
  const third = sample.manifest.artifacts[2];
  if (!third) throw new Error('sample too small');
  const original = await readAll(store, third.path);
  const flipped = Buffer.from(original);
  flipped[0] = (flipped[0] ?? 0) ^ 0xff;
  await client.getBlockBlobClient(`INC-7/run-1/${third.path}`).upload(flipped, flipped.byteLength);
  const again = await verifyBundle(store);
  expect(again.artifacts.find((a) => a.path === third.path)).toEqual(expect.objectContaining({ status: 'altered', actualSha256: sha(flipped) }));
});

test('legal hold and retention on Azurite: attempted, refused with 501, and reported as NOT applied — never claimed', async () => {
  const { url } = await freshContainer();
  const store = await open(url, { legalHold: true, retentionDays: 30 });
  const sample = await writeSampleBundle(store, { runId: 'run-1', caseId: 'INC-7' });
  // The protection recorded in the manifest (computed at seal time) is honest.
  const recorded = sample.manifest.protection;
  expect(recorded.store).toBe('azure-blob');
  expect(recorded.versionLevelImmutability).toBe('unknown');
  expect(recorded.legalHold).toEqual(expect.objectContaining({ requested: true, applied: false }));
  expect(recorded.legalHold?.detail).toMatch(/setLegalHold answered 501 APINotImplemented/);
  expect(recorded.legalHold?.detail).toMatch(/0 of \d+ blob\(s\) in the bundle report a legal hold/);
  expect(recorded.retentionPolicy).toEqual(expect.objectContaining({ requested: true, applied: false }));
  expect(recorded.retentionPolicy?.detail).toMatch(/setImmutabilityPolicy answered 501/);
  expect(recorded.notes.join('\n')).toMatch(/Legal hold was requested but is NOT in place/);
  expect(recorded.notes.join('\n')).toMatch(/Version-level immutability is unknown/);

  // A different process (e.g. the seal activity) with no memory of the attempts still reports the truth.
  const other = await open(url, { legalHold: true });
  const p = await other.protection();
  expect(p.legalHold?.applied).toBe(false);
  expect(p.legalHold?.detail).toMatch(/501/);
  expect(p.retentionPolicy).toBeUndefined();

  // Nothing was requested: nothing is claimed.
  const plain = await (await open(url)).protection();
  expect(plain.legalHold).toBeUndefined();
  expect(plain.versionLevelImmutability).toBe('unknown');
});

test('credentials: a SAS with delete rights is refused; a mismatched connection string is refused; no secret in errors', async () => {
  const { url } = await freshContainer();
  await expect(openBlobBundle({ containerUrl: `${url}?sv=2024-08-04&sp=racwdl&sig=SECRETSIG`, caseId: 'c', runId: 'r' })).rejects.toThrow(/grants delete rights \(sp contains d\)/);
  await expect(openBlobBundle({ containerUrl: `${url}?sv=2024-08-04&sp=racwdl&sig=SECRETSIG`, caseId: 'c', runId: 'r' })).rejects.not.toThrow(/SECRETSIG/);
  await expect(openBlobBundle({ containerUrl: url, caseId: 'c', runId: 'r' })).rejects.toThrow(/no credential/);
  await expect(openBlobBundle({ containerUrl: 'https://other.blob.core.windows.net/x', caseId: 'c', runId: 'r', connectionString: azurite.connectionString })).rejects.toThrow(
    /connection string points at http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/x, but the evidence location is https:\/\/other/,
  );
  await expect(openBlobBundle({ containerUrl: url, caseId: 'c', runId: 'r', connectionString: 'garbage;AccountKey=SECRETKEY' })).rejects.not.toThrow(/SECRETKEY/);
  await expect(open(`${url}/sub/dir`)).rejects.toThrow(/is not a container URL/);
  await expect(open(url, { runId: '../x' })).rejects.toThrow(/runId may only contain/);

  // A missing container is a clear error at first write.
  const missing = await open(azurite.containerUrl('does-not-exist'));
  await expect(missing.writeArtifact('a.txt', 'a', { contentType: 'text/plain' })).rejects.toThrow(/container does not exist/);
  const created = await open(azurite.containerUrl(`created-${process.pid}`), { createContainer: true });
  expect((await created.writeArtifact('a.txt', 'a', { contentType: 'text/plain' })).bytes).toBe(1);
});

test('export copies a Blob run byte for byte to a local directory and verifies the copy', async () => {
  const { url } = await freshContainer();
  const store = await open(url);
  const sample = await writeSampleBundle(store, { runId: 'run-1', caseId: 'INC-7' });
  const source = await openEvidenceLocation(`${url}/INC-7/run-1`, { storage: { connectionString: azurite.connectionString } });
  const report = await exportBundle(source, join(tmp, 'export'));
  expect(report.ok).toBe(true);
  expect(report.source).toBe(`${url}/INC-7/run-1`);
  expect(report.manifestSha256).toBe(sample.manifestSha256);
  for (const a of sample.manifest.artifacts) {
    const local = await readFile(join(tmp, 'export', 'run-1', a.path));
    expect(sha(local)).toBe(a.sha256);
  }
  expect(report.custodyRecords).toBe(4);
});

test('URL parsing: Azurite path-style and Azure host-style, runs with or without /manifest.json', () => {
  expect(parseBlobUrl('http://127.0.0.1:10000/devstoreaccount1/c/a/b')).toEqual(
    expect.objectContaining({ accountUrl: 'http://127.0.0.1:10000/devstoreaccount1', accountName: 'devstoreaccount1', container: 'c', rest: ['a', 'b'], pathStyle: true }),
  );
  expect(parseBlobUrl('https://acct.blob.core.windows.net/evidence?sv=1&sig=x')).toEqual(
    expect.objectContaining({ accountUrl: 'https://acct.blob.core.windows.net', accountName: 'acct', container: 'evidence', rest: [], pathStyle: false }),
  );
  expect(parseBlobRunUrl('https://acct.blob.core.windows.net/evidence/INC-1/20261122T100000Z-ab/manifest.json')).toEqual({
    containerUrl: 'https://acct.blob.core.windows.net/evidence',
    caseId: 'INC-1',
    runId: '20261122T100000Z-ab',
  });
  expect(() => parseBlobRunUrl('https://acct.blob.core.windows.net/evidence/INC-1')).toThrow(/<caseId>\/<runId>/);
});

test('custody writers in separate processes share one numbering on Blob too', async () => {
  const { url } = await freshContainer();
  const collector = { tool: 'aks-evidence' as const, version: '0', host: 'h', runtime: 'test' };
  await claimRunPath(await open(url), { runId: 'run-1', caseId: 'INC-7', collector });
  const logs = await Promise.all(Array.from({ length: 4 }, async () => new CustodyLog(await open(url), { runId: 'run-1', caseId: 'INC-7', collector })));
  const written = await Promise.all(logs.flatMap((log) => [log.record('artifact-sealed', {}), log.record('ingestion-attempt', {})]));
  expect(written.map((w) => w.seq).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  // One linear chain: every record names its predecessor's hash.
  const walk = await walkCustodyChain(await open(url));
  expect(walk.problems).toEqual([]);
  expect(walk.records.map((r) => r.record.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
});
