import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walkCustodyChain } from '../../shared/evidence/chainWalk.js';
import { claimRunPath, PathInUseError } from '../../shared/evidence/claim.js';
import { CustodyLog, collectorIdentity, readCustodyLog, readGitCommit } from '../../shared/evidence/custody.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import type { EvidenceStore } from '../../shared/evidence/types.js';
import { steppingClock } from './sampleBundle.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-custody-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const collector = { tool: 'aks-evidence' as const, version: '0.1.0', host: 'host-a', identity: 'analyst', runtime: 'test' };

async function paths(store: EvidenceStore, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const i of store.list(prefix)) out.push(i.path);
  return out;
}

test("records are numbered in order, write-once, each naming its predecessor's hash (the first: the claim's)", async () => {
  const store = await openLocalBundle(root, 'run');
  const claim = await claimRunPath(store, { runId: 'run', caseId: 'case', collector, clock: steppingClock() });
  expect(claim.claim.nonce).toMatch(/^[0-9a-f]{64}$/);
  const log = new CustodyLog(store, { runId: 'run', caseId: 'case', collector, clock: steppingClock() });
  const a = await log.record('collection-started', { request: { sources: ['events'] } });
  const b = await log.record('artifacts-sealed', { path: 'sources/x', sha256: 'f'.repeat(64) });
  const c = await log.record('manifest-sealed', { manifestSha256: 'e'.repeat(64) });
  expect([a.path, b.path, c.path]).toEqual(['custody/0001.json', 'custody/0002.json', 'custody/0003.json']);
  expect([a.prev, b.prev, c.prev]).toEqual([claim.sha256, a.sha256, b.sha256]);
  const records = await readCustodyLog(store);
  expect(records.map((r) => [r.seq, r.step])).toEqual([
    [1, 'collection-started'],
    [2, 'artifacts-sealed'],
    [3, 'manifest-sealed'],
  ]);
  expect(records[0]).toEqual({
    schemaVersion: 2,
    seq: 1,
    step: 'collection-started',
    at: '2026-11-22T10:00:01.000Z',
    runId: 'run',
    caseId: 'case',
    actor: collector,
    host: 'host-a',
    prev: claim.sha256,
    id: expect.stringMatching(/^[0-9a-f]{16}$/),
    details: { request: { sources: ['events'] } },
    sha256: a.sha256,
    path: 'custody/0001.json',
  });
  expect((await walkCustodyChain(store)).problems).toEqual([]);
  await expect(log.record('Bad Step', {})).rejects.toThrow(/custody step/);
});

test('concurrent writers in separate logs (as separate activities) never fork the chain and lose nothing', async () => {
  const store = await openLocalBundle(root, 'run');
  await claimRunPath(store, { runId: 'run', caseId: 'case', collector });
  // Each "process" opens its own store and log on the same bundle.
  const logs = await Promise.all(
    Array.from({ length: 6 }, async (_, i) => new CustodyLog(await openLocalBundle(root, 'run'), { runId: 'run', caseId: 'case', collector: { ...collector, host: `host-${i}` } })),
  );
  const results = await Promise.all(logs.flatMap((log, i) => Array.from({ length: 5 }, (_, j) => log.record('artifacts-sealed', { writer: i, n: j }))));
  const seqs = results.map((r) => r.seq).sort((x, y) => x - y);
  expect(seqs).toEqual(Array.from({ length: 30 }, (_, k) => k + 1));
  const records = await readCustodyLog(store);
  expect(records).toHaveLength(30);
  expect(new Set(records.map((r) => `${r.host}/${String((r.details as { n: number }).n)}`)).size).toBe(30);
  expect((await paths(store, 'custody/')).filter((p) => /^custody\/\d{4}\.json$/.test(p))).toHaveLength(30);
  // One line: each record names the one before it.
  const walk = await walkCustodyChain(store);
  expect(walk.problems).toEqual([]);
  for (let i = 1; i < records.length; i++) expect(records[i]!.prev).toBe(records[i - 1]!.sha256);

  // A log opened later continues after the newest record.
  const late = new CustodyLog(store, { runId: 'run', caseId: 'case', collector });
  expect((await late.record('ingestion-attempt', { table: 'kubeevents_CL' })).path).toBe('custody/0031.json');
});

test('a path that holds anything is refused; a retried claim with the same nonce is its own', async () => {
  const store = await openLocalBundle(root, 'run');
  await store.writeArtifact('manifest.json', '{"planted":true}', { contentType: 'application/json' });
  await expect(claimRunPath(store, { runId: 'run', caseId: 'case', collector })).rejects.toThrow(
    /refusing .*already holds objects this run did not write \(found manifest\.json\)/,
  );

  const fresh = await openLocalBundle(root, 'run-2');
  const nonce = 'ab'.repeat(32);
  const first = await claimRunPath(fresh, { runId: 'run-2', caseId: 'case', collector, nonce, claimedAt: '2026-11-22T10:00:00.000Z' });
  const again = await claimRunPath(fresh, { runId: 'run-2', caseId: 'case', collector: { ...collector, host: 'other' }, nonce, claimedAt: '2026-11-22T10:00:05.000Z' });
  expect(again.sha256).toBe(first.sha256);
  await expect(claimRunPath(fresh, { runId: 'run-2', caseId: 'case', collector })).rejects.toBeInstanceOf(PathInUseError);
});

test('collectorIdentity: package version, git commit of a checkout (refs, packed refs, detached), host, user; tolerates no .git', async () => {
  const id = collectorIdentity({ runtime: 'cli' });
  expect(id.tool).toBe('aks-evidence');
  expect(id.version).toMatch(/^\d+\.\d+\.\d+/);
  expect(id.runtime).toBe('cli');
  expect(id.host.length).toBeGreaterThan(0);
  expect(collectorIdentity({ runtime: 'azure-functions', identity: 'mi-client-id' }).identity).toBe('mi-client-id');

  const install = join(root, 'install');
  await mkdir(join(install, '.git', 'refs', 'heads'), { recursive: true });
  await writeFile(join(install, 'package.json'), JSON.stringify({ name: 'aks-evidence', version: '9.8.7' }));
  expect(collectorIdentity({ runtime: 'cli', installDir: install }).gitCommit).toBeUndefined();
  await writeFile(join(install, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  await writeFile(join(install, '.git', 'packed-refs'), `# pack-refs\n${'b'.repeat(40)} refs/heads/main\n`);
  expect(readGitCommit(install)).toBe('b'.repeat(40));
  await writeFile(join(install, '.git', 'refs', 'heads', 'main'), `${'a'.repeat(40)}\n`);
  const withGit = collectorIdentity({ runtime: 'cli', installDir: install });
  expect(withGit.version).toBe('9.8.7');
  expect(withGit.gitCommit).toBe('a'.repeat(40));
  await writeFile(join(install, '.git', 'HEAD'), `${'c'.repeat(40)}\n`);
  expect(readGitCommit(install)).toBe('c'.repeat(40));
  expect(collectorIdentity({ runtime: 'cli', installDir: join(root, 'nowhere') })).toEqual(expect.objectContaining({ version: 'unknown', tool: 'aks-evidence' }));
});
