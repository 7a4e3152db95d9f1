/**
 * The tamper suite: someone with write access to the evidence location tries to change a
 * sealed bundle, or to plant evidence in a run's path, on a local directory and on Blob
 * Storage (Azurite). Every attempt is prevented or detected; the consistent re-hash (manifest
 * and its .sha256 rewritten to agree) is detected by every configured anchor outside the
 * bundle: the hash the user kept, a real RFC 3161 timestamp (openssl ts -reply on loopback),
 * and the Log Analytics custody row (sent through the Logs Ingestion emulator, read back with
 * the real LogsQueryClient from the loopback query stub).
 */
import { ContainerClient } from '@azure/storage-blob';
import type { KubeConfig } from '@kubernetes/client-node';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openBlobBundle } from '../../shared/evidence/blobStore.js';
import { claimRunPath, PathInUseError } from '../../shared/evidence/claim.js';
import { collectorIdentity } from '../../shared/evidence/custody.js';
import { hashStream } from '../../shared/evidence/hash.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { manifestSha256FileContent } from '../../shared/evidence/manifest.js';
import type { EvidenceStore, Manifest } from '../../shared/evidence/types.js';
import { verifyBundle, type VerifyReport } from '../../shared/evidence/verify.js';
import { parseIngestionTarget } from '../../shared/ingestion/config.js';
import { logAnalyticsAnchor } from '../../shared/ingestion/custodyAnchor.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { anchorSeal } from '../../shared/pipeline/anchors.js';
import { collectRun, kubeconfigFacts } from '../../shared/pipeline/collectRun.js';
import { ManifestNotOursError } from '../../shared/pipeline/seal.js';
import { sealInterruptedRun } from '../../shared/pipeline/sealInterrupted.js';
import type { SealResult } from '../../shared/pipeline/types.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { FixtureCluster } from '../../shared/simulator/kube/scenario.js';
import { fixtureKubeConfig, startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { EMULATOR_TOKEN, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { ArtifactConflictError } from '../../shared/util/errors.js';
import { startLogAnalyticsStub, type LogAnalyticsStub } from '../fixtures/audit/logAnalyticsStub.js';
import { startTsa, type TsaServer } from '../fixtures/tsa/server.js';

const WORKSPACE = '0b6a5b9e-3c1d-4a7e-9f00-1234567890ab';

/** What someone with write access to the storage can do, behind the tool's back. */
interface Attacker {
  read(path: string): Promise<Buffer>;
  write(path: string, data: Buffer | string, metadata?: Record<string, string>): Promise<void>;
  remove(path: string): Promise<void>;
}

let cluster: FixtureCluster;
let kubeConfig: KubeConfig;
let azurite: AzuriteBlob;
let tsa: TsaServer;
let emulator: LogsIngestionEmulator;
let la: LogAnalyticsStub;
let root: string;
let n = 0;

beforeAll(async () => {
  [cluster, azurite, tsa, emulator] = await Promise.all([
    loadScenario('compromise').then((s) => startFixtureCluster(s, {})),
    startAzurite(),
    startTsa(),
    startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) }),
  ]);
  la = await startLogAnalyticsStub({ rows: [], token: EMULATOR_TOKEN, custodyRows: () => emulator.accepted('evidencecustody_CL') });
  kubeConfig = fixtureKubeConfig(cluster);
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-tamper-'));
});

afterAll(async () => {
  await Promise.all([cluster?.stop(), azurite?.stop(), tsa?.stop(), emulator?.stop(), la?.stop()]);
  if (root) await rm(root, { recursive: true, force: true });
});

interface Place {
  store: EvidenceStore;
  attacker: Attacker;
  runId: string;
}

type Kind = 'local' | 'azurite';

async function place(kind: Kind): Promise<Place> {
  const runId = `run-${++n}`;
  if (kind === 'local') {
    const dir = join(root, runId);
    const store = await openLocalBundle(root, runId);
    const file = (p: string) => join(dir, ...p.split('/'));
    return {
      store,
      runId,
      attacker: {
        read: (p) => readFile(file(p)),
        write: async (p, data) => {
          await mkdir(dirname(file(p)), { recursive: true });
          await chmod(file(p), 0o644).catch(() => undefined);
          await writeFile(file(p), data);
        },
        remove: (p) => unlink(file(p)),
      },
    };
  }
  const store = await openBlobBundle({ containerUrl: azurite.containerUrl('tamper'), caseId: 'case-t', runId, connectionString: azurite.connectionString, createContainer: true });
  const container = new ContainerClient(azurite.connectionString, 'tamper');
  const blob = (p: string) => container.getBlockBlobClient(`case-t/${runId}/${p}`);
  return {
    store,
    runId,
    attacker: {
      read: async (p) => blob(p).downloadToBuffer(),
      // Azurite has no WORM: an overwrite goes through, as it would on a container without a locked policy.
      write: async (p, data, metadata) => {
        const body = typeof data === 'string' ? Buffer.from(data) : data;
        await blob(p).upload(body, body.byteLength, metadata ? { metadata } : {});
      },
      remove: async (p) => {
        await blob(p).delete();
      },
    },
  };
}

async function sealedRun(kind: Kind, options: { claimNonce?: string } = {}): Promise<Place & { sealed: SealResult & { manifest: Manifest } }> {
  const p = await place(kind);
  const sealed = await collectRun({
    kubeConfig,
    store: p.store,
    runId: p.runId,
    request: { caseId: 'case-t', sources: ['events', 'serviceaccounts'], sinceSeconds: 86400, requester: 'soc@contoso.test' },
    collector: collectorIdentity({ runtime: 'test' }),
    facts: kubeconfigFacts({ server: cluster.server, name: 'fixture' }),
    ...(options.claimNonce ? { claimNonce: options.claimNonce } : {}),
    afterSeal: async (result, custody) => {
      const anchors = await anchorSeal({
        store: p.store,
        sealed: result,
        custody,
        tsaUrl: tsa.url,
        ingestion: { target: parseIngestionTarget(emulator.targetDocument), credential: emulator.credential, clientOptions: emulator.clientOptions },
      });
      expect(anchors.timestamp.status).toBe('anchored');
      expect(anchors.logAnalytics.status).toBe('anchored');
    },
  });
  return { ...p, sealed };
}

function verifyWithAnchors(p: { store: EvidenceStore; sealed: { manifestSha256: string } }): Promise<VerifyReport> {
  return verifyBundle(p.store, {
    expectedManifestSha256: p.sealed.manifestSha256,
    tsaCaPem: tsa.caPem,
    anchors: [
      logAnalyticsAnchor({
        workspaceId: WORKSPACE,
        credential: emulator.credential,
        endpoint: la.endpoint,
        clientOptions: { tlsOptions: { ca: la.caPem }, retryOptions: { maxRetries: 0 }, credentials: { scopes: ['https://monitor.azure.com/.default'] } },
      }),
    ],
  });
}

const anchorStatus = (r: VerifyReport) => Object.fromEntries(r.anchors.map((a) => [a.anchor, a.status]));
const sha = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const rowsOf = (m: Manifest, source: string) => m.artifacts.find((a) => a.source === source && a.kind === 'rows')!;

describe.each<Kind>(['local', 'azurite'])('tampering with a sealed bundle (%s)', (kind) => {
  test('untouched: verified, the chain seals the manifest, every anchor passes', async () => {
    const run = await sealedRun(kind);
    const r = await verifyWithAnchors(run);
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.sealed).toBe(true);
    expect(r.custody.steps).toEqual(['collection-started', 'artifacts-sealed', 'artifacts-sealed', 'manifest-sealed', 'timestamp-anchored', 'log-analytics-anchored']);
    expect(anchorStatus(r)).toMatchObject({ 'expected-sha256': 'passed', 'rfc3161-timestamp': 'passed', 'log-analytics': 'passed' });
    expect(r.anchors.find((a) => a.anchor === 'worm')?.status).toBe(kind === 'local' ? 'not-configured' : 'unknown');
  });

  test('a flipped byte, a truncated gzip, a deleted artifact, an extra file: each named', async () => {
    const run = await sealedRun(kind);
    const events = rowsOf(run.sealed.manifest, 'events');
    const sas = rowsOf(run.sealed.manifest, 'serviceaccounts');
    const summary = run.sealed.manifest.artifacts.find((a) => a.path.endsWith('.summary.json'))!;
    const flipped = await run.attacker.read(events.path);
    flipped[20] = (flipped[20] ?? 0) ^ 0x01;
    await run.attacker.write(events.path, flipped);
    await run.attacker.write(sas.path, (await run.attacker.read(sas.path)).subarray(0, 30));
    await run.attacker.remove(summary.path);
    await run.attacker.write('sources/events/extra.rows.ndjson.gz', 'planted\n');
    const r = await verifyWithAnchors(run);
    expect(r.ok).toBe(false);
    const text = r.problems.join('\n');
    expect(text).toContain(`ALTERED: ${events.path} (expected sha256 ${events.sha256}`);
    expect(text).toContain(`ALTERED: ${sas.path} is 30 bytes`);
    expect(text).toContain(`MISSING: ${summary.path}`);
    expect(text).toContain('UNEXPECTED: sources/events/extra.rows.ndjson.gz');
    // The manifest itself is untouched: the anchors still vouch for it.
    expect(anchorStatus(r)).toMatchObject({ 'expected-sha256': 'passed', 'rfc3161-timestamp': 'passed', 'log-analytics': 'passed' });
  });

  test('a consistent manifest re-hash (manifest and .sha256 rewritten to agree) is caught by the chain and by every anchor', async () => {
    const run = await sealedRun(kind);
    const forged = (await run.attacker.read('manifest.json')).toString('utf8').replace('soc@contoso.test', 'someone-else@contoso.test');
    await run.attacker.write('manifest.json', forged);
    await run.attacker.write('manifest.json.sha256', manifestSha256FileContent(sha(forged)));
    const r = await verifyWithAnchors(run);
    expect(r.ok).toBe(false);
    expect(r.manifestHashMatches).toBe(true); // the bundle agrees with itself…
    expect(r.problems.join('\n')).toMatch(/not the manifest this run sealed: custody record 4 seals sha256/);
    expect(anchorStatus(r)).toMatchObject({ 'expected-sha256': 'failed', 'rfc3161-timestamp': 'failed', 'log-analytics': 'failed' });
  });

  test('an artifact replaced with the manifest re-hashed to match: caught by the chain and every anchor', async () => {
    const run = await sealedRun(kind);
    const events = rowsOf(run.sealed.manifest, 'events');
    const fake = Buffer.from('{"message":"nothing happened"}\n');
    await run.attacker.write(events.path, fake);
    const manifest = (await run.attacker.read('manifest.json'))
      .toString('utf8')
      .replace(events.sha256, sha(fake))
      .replace(`"bytes": ${events.bytes},`, `"bytes": ${fake.byteLength},`);
    await run.attacker.write('manifest.json', manifest);
    await run.attacker.write('manifest.json.sha256', manifestSha256FileContent(sha(manifest)));
    const r = await verifyWithAnchors(run);
    expect(r.artifacts.find((a) => a.path === events.path)?.status).toBe('ok');
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/not the manifest this run sealed/);
    expect(anchorStatus(r)).toMatchObject({ 'expected-sha256': 'failed', 'rfc3161-timestamp': 'failed', 'log-analytics': 'failed' });
  });

  test('custody records edited, deleted, inserted, reordered: each breaks a named link', async () => {
    const edited = await sealedRun(kind);
    const rec2 = (await edited.attacker.read('custody/0002.json')).toString('utf8').replace('"status": "complete"', '"status": "partial"');
    await edited.attacker.write('custody/0002.json', rec2);
    expect((await verifyWithAnchors(edited)).problems.join('\n')).toMatch(/custody\/0003\.json does not follow custody\/0002\.json/);

    const deleted = await sealedRun(kind);
    await deleted.attacker.remove('custody/0003.json');
    const d = await verifyWithAnchors(deleted);
    expect(d.ok).toBe(false);
    expect(d.problems.join('\n')).toMatch(/custody record custody\/0003\.json is missing/);

    const inserted = await sealedRun(kind);
    // Shift 0003… up by one and put a forged record, correctly linked to 0002, at 0003.
    for (let i = 6; i >= 3; i--) {
      const body = (await inserted.attacker.read(`custody/000${i}.json`)).toString('utf8').replace(`"seq": ${i},`, `"seq": ${i + 1},`);
      await inserted.attacker.write(`custody/000${i + 1}.json`, body);
    }
    const prev = sha(await inserted.attacker.read('custody/0002.json'));
    const forged = JSON.parse((await inserted.attacker.read('custody/0002.json')).toString('utf8')) as Record<string, unknown>;
    await inserted.attacker.write('custody/0003.json', JSON.stringify({ ...forged, seq: 3, step: 'artifacts-sealed', prev, details: { note: 'inserted' } }, null, 2) + '\n');
    const i = await verifyWithAnchors(inserted);
    expect(i.ok).toBe(false);
    expect(i.problems.join('\n')).toMatch(/custody\/0004\.json does not follow custody\/0003\.json/);

    const reordered = await sealedRun(kind);
    const [a, b] = [await reordered.attacker.read('custody/0002.json'), await reordered.attacker.read('custody/0003.json')];
    await reordered.attacker.write('custody/0002.json', b);
    await reordered.attacker.write('custody/0003.json', a);
    const o = await verifyWithAnchors(reordered);
    expect(o.ok).toBe(false);
    expect(o.problems.join('\n')).toMatch(/custody\/0002\.json says it is record 3: renamed or reordered/);
  });

  test('a forged ingestion receipt is not vouched for by the chain', async () => {
    const run = await sealedRun(kind);
    await run.attacker.write('ingestion/receipt-0001.json', JSON.stringify({ kind: 'ingestion-receipt', status: 'complete' }));
    const r = await verifyWithAnchors(run);
    expect(r.ok).toBe(false);
    expect(r.problems.join('\n')).toMatch(/FORGED\?: ingestion\/receipt-0001\.json is an ingestion receipt that no custody record vouches for/);
  });

  test('a run killed between its manifest and its seal record: sealing again records the seal of that manifest, and only of a manifest built on the chain as it stands', async () => {
    const collect = async () => {
      const p = await place(kind);
      const sealed = await collectRun({
        kubeConfig,
        store: p.store,
        runId: p.runId,
        request: { caseId: 'case-t', sources: ['events'], sinceSeconds: 3600 },
        collector: collectorIdentity({ runtime: 'test' }),
        facts: kubeconfigFacts({ server: cluster.server }),
      });
      // The state a crash right after writing manifest.json leaves: the seal record never written.
      const records: string[] = [];
      for await (const i of p.store.list('custody/')) if (/^custody\/\d{4}\.json$/.test(i.path)) records.push(i.path);
      const last = records.sort().at(-1)!;
      expect(JSON.parse((await p.attacker.read(last)).toString('utf8')).step).toBe('manifest-sealed');
      await p.attacker.remove(last);
      expect((await verifyBundle(p.store)).ok).toBe(false);
      return { ...p, sealed, last };
    };

    const crashed = await collect();
    const resealed = await sealInterruptedRun({ store: crashed.store, collector: collectorIdentity({ runtime: 'test' }), reason: 'the collecting process died' });
    expect(resealed.kind).toBe('sealed');
    expect(resealed.sealed.manifestSha256).toBe(crashed.sealed.manifestSha256);
    const r = await verifyBundle(crashed.store, { expectedManifestSha256: crashed.sealed.manifestSha256 });
    expect(r.problems).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.custody.steps.at(-1)).toBe('manifest-sealed');

    // Something recorded after the manifest: it is no longer the last thing the run did, and is refused.
    const stale = await collect();
    const { CustodyLog } = await import('../../shared/evidence/custody.js');
    await new CustodyLog(stale.store, { runId: stale.runId, caseId: 'case-t', collector: collectorIdentity({ runtime: 'test' }) }).record('note', { detail: 'after the manifest' });
    await expect(sealInterruptedRun({ store: stale.store, collector: collectorIdentity({ runtime: 'test' }), reason: 'the collecting process died' })).rejects.toThrow(
      ManifestNotOursError,
    );
  });

  test('a manifest planted before the run: the run refuses the path, writes nothing, adopts nothing', async () => {
    const p = await place(kind);
    const planted = JSON.stringify({ schemaVersion: 1, runId: p.runId, artifacts: [], request: { requester: 'forged' } });
    await p.attacker.write('manifest.json', planted);
    await expect(
      collectRun({
        kubeConfig,
        store: p.store,
        runId: p.runId,
        request: { caseId: 'case-t', sources: ['events'], sinceSeconds: 3600 },
        collector: collectorIdentity({ runtime: 'test' }),
        facts: kubeconfigFacts({ server: cluster.server }),
      }),
    ).rejects.toThrow(PathInUseError);
    const paths: string[] = [];
    for await (const i of p.store.list()) paths.push(i.path);
    expect(paths).toEqual(['manifest.json']);
    expect((await p.attacker.read('manifest.json')).toString('utf8')).toBe(planted);
    const r = await verifyBundle(p.store);
    expect(r.ok).toBe(false);
  });

  test('an artifact planted mid-run with a forged hash in its metadata is never adopted: the task writes its own next attempt; the planted file is named with its content hash', async () => {
    const p = await place(kind);
    const nonce = randomBytes(32).toString('hex');
    await claimRunPath(p.store, { runId: p.runId, caseId: 'case-t', collector: collectorIdentity({ runtime: 'test' }), nonce });
    const planted = Buffer.from('{"message":"planted"}\n');
    await p.attacker.write('sources/events/all.rows.ndjson.gz', planted, { sha256: 'f'.repeat(64), runId: p.runId });
    const sealed = await collectRun({
      kubeConfig,
      store: p.store,
      runId: p.runId,
      request: { caseId: 'case-t', sources: ['events'], sinceSeconds: 86400 },
      collector: collectorIdentity({ runtime: 'test' }),
      facts: kubeconfigFacts({ server: cluster.server }),
      claimNonce: nonce,
    });
    const rows = rowsOf(sealed.manifest, 'events');
    expect(rows.path).toBe('sources/events/all.attempt-2.rows.ndjson.gz');
    expect(rows.records).toBeGreaterThan(0);
    expect(sealed.manifest.unattributed).toEqual([expect.objectContaining({ path: 'sources/events/all.rows.ndjson.gz', sha256: sha(planted), bytes: planted.byteLength })]);
    const r = await verifyBundle(p.store);
    expect(r.problems).toEqual([]);
    expect(r.warnings.join('\n')).toMatch(/not evidence of a finished task/);

    // At the store: "already existed" is decided by the content, never the metadata's claim.
    const content = Buffer.from('{"the":"collector\'s bytes"}\n');
    await p.attacker.write('sources/x/claimed.json', 'planted bytes', { sha256: sha(content) });
    await expect(p.store.writeArtifact('sources/x/claimed.json', content, { contentType: 'application/json' })).rejects.toBeInstanceOf(ArtifactConflictError);
  });

  test("a summary planted without the run's nonce is not adopted by a retried task", async () => {
    const p = await place(kind);
    const nonce = randomBytes(32).toString('hex');
    await claimRunPath(p.store, { runId: p.runId, caseId: 'case-t', collector: collectorIdentity({ runtime: 'test' }), nonce });
    await p.attacker.write(
      'sources/events/all.summary.json',
      JSON.stringify({
        schemaVersion: 1,
        runId: p.runId,
        source: 'events',
        status: 'complete',
        records: 0,
        rawObjects: 0,
        apiRequests: 0,
        gaps: [],
        actions: [],
        coverage: [],
        artifacts: [],
        startedAt: '2026-01-01T00:00:00Z',
        endedAt: '2026-01-01T00:00:00Z',
      }),
    );
    const sealed = await collectRun({
      kubeConfig,
      store: p.store,
      runId: p.runId,
      request: { caseId: 'case-t', sources: ['events'], sinceSeconds: 86400 },
      collector: collectorIdentity({ runtime: 'test' }),
      facts: kubeconfigFacts({ server: cluster.server }),
      claimNonce: nonce,
    });
    expect(sealed.manifest.sources.events?.records).toBeGreaterThan(0);
    expect(rowsOf(sealed.manifest, 'events').path).toBe('sources/events/all.attempt-2.rows.ndjson.gz');
    expect(sealed.manifest.unattributed?.map((u) => u.path)).toEqual(['sources/events/all.summary.json']);
  });
});

test('re-staged uncommitted blocks (Azurite): what the attacker slipped in is detected by the hash the writer computed', async () => {
  const store = await openBlobBundle({
    containerUrl: azurite.containerUrl('tamper'),
    caseId: 'case-t',
    runId: 'restage',
    connectionString: azurite.connectionString,
    createContainer: true,
    blockSizeBytes: 64 * 1024,
  });
  const writer = await store.openWriter('sources/big/all.raw.ndjson.gz', { contentType: 'application/octet-stream' });
  const ours = randomBytes(200 * 1024);
  await writer.write(ours);
  // The attacker lists the blob's uncommitted blocks and re-stages one under our block id.
  const blob = new ContainerClient(azurite.connectionString, 'tamper').getBlockBlobClient('case-t/restage/sources/big/all.raw.ndjson.gz');
  let staged: { name: string; size: number }[] = [];
  for (let i = 0; i < 50 && staged.length === 0; i++) {
    staged = (await blob.getBlockList('uncommitted')).uncommittedBlocks ?? [];
    if (!staged.length) await new Promise((r) => setTimeout(r, 20));
  }
  expect(staged.length).toBeGreaterThan(0);
  const victim = staged[0]!;
  await blob.stageBlock(victim.name, Buffer.alloc(victim.size, 0x41), victim.size);
  const written = await writer.close();
  expect(written.sha256).toBe(sha(ours));
  // The stored content is not what the writer hashed: verify's re-hash against the recorded hash names it.
  const stored = await hashStream(await store.read('sources/big/all.raw.ndjson.gz'));
  expect(stored.sha256).not.toBe(written.sha256);
  // Small artifacts (custody records, summaries, manifests) are one Put Blob: nothing is ever staged for them.
  await store.writeArtifact('small.json', '{}', { contentType: 'application/json' });
  const small = new ContainerClient(azurite.connectionString, 'tamper').getBlockBlobClient('case-t/restage/small.json');
  expect(((await small.getBlockList('all')).committedBlocks ?? []).length).toBe(0);
});
