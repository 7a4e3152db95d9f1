import { chmod, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportBundle } from '../../shared/evidence/export.js';
import { openLocalBundle, openLocalBundleAt } from '../../shared/evidence/localStore.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { ArtifactConflictError } from '../../shared/util/errors.js';
import { writeSampleBundle } from './sampleBundle.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-verify-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function sealedBundle(runId = 'run-1'): Promise<{ dir: string; sample: Awaited<ReturnType<typeof writeSampleBundle>> }> {
  const store = await openLocalBundle(root, runId);
  const sample = await writeSampleBundle(store, { runId, caseId: 'case-7' });
  return { dir: join(root, runId), sample };
}

/** Tamper as an attacker with file-system access would: make writable, change, leave. */
async function flipByte(file: string, offset: number): Promise<void> {
  await chmod(file, 0o644);
  const bytes = await readFile(file);
  bytes[offset] = (bytes[offset] ?? 0) ^ 0x01;
  await writeFile(file, bytes);
}

test('a sealed bundle verifies: every artifact re-hashed, manifest hash checked, custody counted', async () => {
  const { dir, sample } = await sealedBundle();
  const report = await verifyBundle(await openLocalBundleAt(dir));
  expect(report.ok).toBe(true);
  expect(report.problems).toEqual([]);
  expect(report.manifestHashMatches).toBe(true);
  expect(report.manifestSha256).toBe(sample.manifestSha256);
  expect(report.artifacts).toHaveLength(sample.manifest.artifacts.length);
  expect(report.artifacts.every((a) => a.status === 'ok' && a.actualSha256 === a.expectedSha256)).toBe(true);
  expect(report.unexpected).toEqual([]);
  expect(report.custodyRecords).toBe(4);
  expect(report.sealed).toBe(true);
  expect(report.custody.chainIntact).toBe(true);
  expect(report.runId).toBe('run-1');
  expect(report.protection?.store).toBe('local-directory');
});

test('one altered byte and one missing file: verify fails and names each, with the hashes', async () => {
  const { dir, sample } = await sealedBundle();
  const [first, second, third] = sample.manifest.artifacts;
  if (!first || !second || !third) throw new Error('sample too small');
  await flipByte(join(dir, first.path), 10);
  await unlink(join(dir, second.path));
  const report = await verifyBundle(await openLocalBundleAt(dir));
  expect(report.ok).toBe(false);
  expect(report.manifestHashMatches).toBe(true);
  const byPath = Object.fromEntries(report.artifacts.map((a) => [a.path, a]));
  expect(byPath[first.path]).toEqual(expect.objectContaining({ status: 'altered', expectedSha256: first.sha256 }));
  expect(byPath[first.path]?.actualSha256).not.toBe(first.sha256);
  expect(byPath[second.path]).toEqual(expect.objectContaining({ status: 'missing', expectedSha256: second.sha256 }));
  expect(byPath[third.path]?.status).toBe('ok');
  expect(report.problems).toEqual(expect.arrayContaining([expect.stringContaining(`ALTERED: ${first.path}`), expect.stringContaining(`MISSING: ${second.path}`)]));
});

test('a truncated artifact is a size mismatch; an extra file fails verify and is named', async () => {
  const { dir, sample } = await sealedBundle();
  const a = sample.manifest.artifacts[0];
  if (!a) throw new Error('sample too small');
  await chmod(join(dir, a.path), 0o644);
  await writeFile(join(dir, a.path), (await readFile(join(dir, a.path))).subarray(0, 5));
  await writeFile(join(dir, 'sources', 'planted.ndjson'), '{"fake":true}\n');
  const report = await verifyBundle(await openLocalBundleAt(dir));
  expect(report.ok).toBe(false);
  expect(report.manifestHashMatches).toBe(true);
  expect(report.artifacts.find((x) => x.path === a.path)).toEqual(expect.objectContaining({ status: 'size-mismatch', actualBytes: 5, expectedBytes: a.bytes }));
  expect(report.unexpected).toEqual(['sources/planted.ndjson']);
  expect(report.problems.join('\n')).toMatch(/UNEXPECTED: sources\/planted\.ndjson/);
});

test('an attacker who alters an artifact and rewrites its hash in the manifest is caught by the manifest hash', async () => {
  const { dir, sample } = await sealedBundle();
  const a = sample.manifest.artifacts[1];
  if (!a) throw new Error('sample too small');
  const forged = '{"forged":true}\n';
  await chmod(join(dir, a.path), 0o644);
  await writeFile(join(dir, a.path), forged);
  const { createHash } = await import('node:crypto');
  const forgedSha = createHash('sha256').update(forged).digest('hex');
  const manifestFile = join(dir, 'manifest.json');
  await chmod(manifestFile, 0o644);
  const text = (await readFile(manifestFile, 'utf8')).replace(a.sha256, forgedSha).replace(`"bytes": ${a.bytes},`, `"bytes": ${forged.length},`);
  await writeFile(manifestFile, text);
  const report = await verifyBundle(await openLocalBundleAt(dir));
  expect(report.artifacts.find((x) => x.path === a.path)?.status).toBe('ok');
  expect(report.manifestHashMatches).toBe(false);
  expect(report.ok).toBe(false);
  expect(report.problems.join('\n')).toMatch(/manifest\.json is altered: its sha256 is [0-9a-f]{64}, manifest\.json\.sha256 records [0-9a-f]{64}/);

  // Rewriting the .sha256 file too no longer passes: the custody chain's seal record names the sealed manifest.
  const { manifestSha256FileContent } = await import('../../shared/evidence/manifest.js');
  const shaFile = join(dir, 'manifest.json.sha256');
  await chmod(shaFile, 0o644);
  await writeFile(shaFile, manifestSha256FileContent(createHash('sha256').update(text).digest('hex')));
  const rehashed = await verifyBundle(await openLocalBundleAt(dir));
  expect(rehashed.ok).toBe(false);
  expect(rehashed.problems.join('\n')).toMatch(/not the manifest this run sealed/);
  const anchored = await verifyBundle(await openLocalBundleAt(dir), { expectedManifestSha256: sample.manifestSha256 });
  expect(anchored.ok).toBe(false);
  expect(anchored.anchors.find((a) => a.anchor === 'expected-sha256')?.status).toBe('failed');
  expect(anchored.problems.join('\n')).toMatch(/not the sealed manifest/);
});

test('a directory without a manifest, or without its .sha256, does not verify', async () => {
  const store = await openLocalBundle(root, 'unsealed');
  await store.writeArtifact('sources/x.ndjson', '{}\n', { contentType: 'application/x-ndjson' });
  const r1 = await verifyBundle(store);
  expect(r1.ok).toBe(false);
  expect(r1.problems[0]).toMatch(/manifest\.json is missing and there is no custody chain/);
  expect(r1.unexpected).toEqual(['sources/x.ndjson']);

  const { dir } = await sealedBundle('run-2');
  await unlink(join(dir, 'manifest.json.sha256'));
  const r2 = await verifyBundle(await openLocalBundleAt(dir));
  expect(r2.ok).toBe(false);
  expect(r2.problems[0]).toMatch(/manifest\.json\.sha256 is missing/);
});

test('export copies a run byte for byte to <dest>/<runId>, verifies the copy, and never overwrites', async () => {
  const { dir, sample } = await sealedBundle();
  const source = await openEvidenceLocation(dir);
  const dest = join(root, 'exported');
  const report = await exportBundle(source, dest);
  expect(report.ok).toBe(true);
  expect(report.destination).toMatch(/exported\/run-1$/);
  expect(report.copiedFiles).toBeGreaterThanOrEqual(sample.manifest.artifacts.length + 2 + 4);
  for (const a of sample.manifest.artifacts) {
    expect(await readFile(join(dest, 'run-1', a.path))).toEqual(await readFile(join(dir, a.path)));
  }
  expect(await readFile(join(dest, 'run-1', 'manifest.json'))).toEqual(await readFile(join(dir, 'manifest.json')));
  expect(report.custodyRecords).toBe(4);

  // Exporting again is idempotent.
  const again = await exportBundle(source, dest);
  expect(again.ok).toBe(true);
  expect(again.alreadyPresent).toBe(again.copiedFiles);

  // A tampered source cannot overwrite the earlier copy.
  const a = sample.manifest.artifacts[0];
  if (!a) throw new Error('sample too small');
  await flipByte(join(dir, a.path), 3);
  await expect(exportBundle(source, dest)).rejects.toBeInstanceOf(ArtifactConflictError);

  // Exported fresh, the copy carries the tampering faithfully and verify names it.
  const fresh = await exportBundle(source, join(root, 'exported-2'));
  expect(fresh.ok).toBe(false);
  expect(fresh.artifacts.filter((x) => x.status !== 'ok').map((x) => x.path)).toEqual([a.path]);
});
