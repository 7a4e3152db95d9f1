import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManifestError } from '../../shared/evidence/errors.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { buildManifest, parseManifestSha256File, readManifest, readManifestWithHash, serializeManifest, validateManifest, writeManifest } from '../../shared/evidence/manifest.js';
import type { Manifest } from '../../shared/evidence/types.js';
import { ArtifactConflictError } from '../../shared/util/errors.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'aks-evidence-manifest-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

function sample(overrides: Partial<Manifest> = {}): Manifest {
  return buildManifest({
    runId: '20261122T100000Z-abcd1234',
    caseId: 'INC-42',
    cluster: { server: 'https://aks.example.test:443', name: 'prod', resourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/prod' },
    collector: { tool: 'aks-evidence', version: '0.1.0', host: 'h', runtime: 'cli', identity: 'me' },
    request: { caseId: 'INC-42', sources: ['events'], sinceSeconds: 86400, requester: 'soc', reason: 'alert', incidentId: 'inc/1' },
    startedAt: '2026-11-22T10:00:00.000Z',
    endedAt: '2026-11-22T10:05:00.000Z',
    artifacts: [
      {
        path: 'sources/z.rows.ndjson.gz',
        source: 'events',
        kind: 'rows',
        sha256: sha('z'),
        bytes: 1,
        records: 1,
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
        table: 'kubeevents_CL',
      },
      { path: 'sources/a.raw.ndjson.gz', source: 'events', kind: 'raw', sha256: sha('a'), bytes: 1, records: 1, contentType: 'application/x-ndjson', contentEncoding: 'gzip' },
    ],
    sources: {
      events: {
        status: 'partial',
        records: 1,
        rawObjects: 1,
        gaps: [{ source: 'events', reason: 'forbidden', detail: '403 on events in ns x' }],
        artifacts: ['sources/z.rows.ndjson.gz'],
      },
    },
    gaps: [{ source: 'audit', reason: 'not-enabled', detail: 'kube-audit diagnostic setting is off' }],
    actions: [
      {
        kind: 'exec',
        at: '2026-11-22T10:01:00.000Z',
        namespace: 'default',
        pod: 'web',
        container: 'nginx',
        command: ['sh', '-c', 'cat ~/.bash_history'],
        outcome: 'ok',
        exitCode: 0,
      },
    ],
    protection: { store: 'local-directory', versionLevelImmutability: false, notes: ['n'] },
    clusterFacts: { zeta: 1, alpha: { b: 2, a: 1 } },
    ...overrides,
  });
}

test('buildManifest sorts artifacts; serialize is stable: fixed top-level order, sorted nested keys, 2-space JSON, trailing newline', () => {
  const m = sample();
  expect(m.schemaVersion).toBe(1);
  expect(m.artifacts.map((a) => a.path)).toEqual(['sources/a.raw.ndjson.gz', 'sources/z.rows.ndjson.gz']);
  const text = serializeManifest(m);
  expect(text.endsWith('}\n')).toBe(true);
  expect(text.startsWith('{\n  "schemaVersion": 1,\n  "runId": ')).toBe(true);
  expect(text).toContain('"clusterFacts": {\n    "alpha": {\n      "a": 1,\n      "b": 2\n    },\n    "zeta": 1\n  }');
  // Same content built with keys in another order serializes identically.
  const shuffled = JSON.parse(JSON.stringify(m), (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).reverse()) : v,
  ) as Manifest;
  expect(Object.keys(shuffled)).not.toEqual(Object.keys(JSON.parse(text) as object));
  expect(serializeManifest(shuffled)).toBe(text);
});

test('write once, read back with validation; the .sha256 file is "<hex>  manifest.json"', async () => {
  const store = await openLocalBundle(root, 'run');
  const m = sample();
  const written = await writeManifest(store, m);
  const bytes = await readFile(join(root, 'run', 'manifest.json'));
  expect(written.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  expect(await readFile(join(root, 'run', 'manifest.json.sha256'), 'utf8')).toBe(`${written.sha256}  manifest.json\n`);
  expect(parseManifestSha256File(`${written.sha256}  manifest.json\n`)).toBe(written.sha256);
  expect(await readManifest(store)).toEqual(m);
  expect((await readManifestWithHash(store)).sha256).toBe(written.sha256);

  // Sealing the same manifest again is idempotent; a different one is refused.
  expect((await writeManifest(store, m)).alreadyExisted).toBe(true);
  await expect(writeManifest(store, sample({ endedAt: '2026-11-22T11:00:00.000Z' }))).rejects.toBeInstanceOf(ArtifactConflictError);
});

test('validation names the field that is wrong', () => {
  const m = sample();
  expect(() => validateManifest({ ...m, startedAt: '2026-11-22 10:00' })).toThrow(/manifest\.startedAt: must be a UTC RFC 3339 time/);
  expect(() => validateManifest({ ...m, artifacts: [{ ...m.artifacts[0], sha256: 'XYZ' }] })).toThrow(/manifest\.artifacts\[0\]\.sha256: must be a lowercase hex SHA-256/);
  expect(() => validateManifest({ ...m, artifacts: [{ ...m.artifacts[0], path: '../etc/passwd' }] })).toThrow(/manifest\.artifacts\[0\]\.path: invalid evidence path/);
  expect(() => validateManifest({ ...m, artifacts: [m.artifacts[0], m.artifacts[0]] })).toThrow(/lists artifact sources\/a\.raw\.ndjson\.gz twice/);
  expect(() => validateManifest({ ...m, schemaVersion: 2 })).toThrow(ManifestError);
  expect(() => validateManifest({ ...m, gaps: [{ source: 's', reason: 'bogus', detail: '' }] })).toThrow(/manifest\.gaps\[0\]\.reason/);
  expect(() => validateManifest({ ...m, request: { ...m.request, caseId: 'other' } })).toThrow(/differs from request\.caseId/);
  // Fields unknown to this version are kept, not dropped.
  const extended = { ...m, futureField: { x: 1 } };
  expect(validateManifest(extended)).toBe(extended);
  expect(serializeManifest(extended as Manifest)).toContain('"futureField"');
});

test('readManifest explains a missing, non-JSON or invalid manifest', async () => {
  const store = await openLocalBundle(root, 'run');
  await expect(readManifest(store)).rejects.toThrow(/has no manifest\.json/);
  await store.writeArtifact('manifest.json', '{ not json', { contentType: 'application/json' });
  await expect(readManifest(store)).rejects.toThrow(/manifest\.json in .* is not valid JSON/);
  const other = await openLocalBundle(root, 'run2');
  await other.writeArtifact('manifest.json', '{"schemaVersion":1}', { contentType: 'application/json' });
  await expect(readManifest(other)).rejects.toThrow(/manifest\.runId/);
});
