/**
 * The report without a browser: the report written at sealing is an artifact the manifest
 * lists and verify re-hashes; `aks-evidence report` verifies first and says what failed; it
 * reads Blob runs by URL (Azurite); a report that cannot be written at sealing is a gap, not a
 * failed seal; a retried seal never overwrites the earlier report; the page holds the highest
 * ranked entries when a bundle has more than it can show.
 */
import { chmod, cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../../shared/cli/main.js';
import { openLocalBundleAt } from '../../shared/evidence/localStore.js';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import type { Manifest } from '../../shared/evidence/types.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { buildReportModel, reportPriority } from '../../shared/report/model.js';
import { addSealedReport, SEALED_REPORT_PATH } from '../../shared/report/seal.js';
import { verificationAtSealing, verificationFromVerifyResult } from '../../shared/report/verification.js';
import { startAzurite } from '../../shared/simulator/azurite.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import { startFixtureCluster } from '../../shared/simulator/kube/server.js';
import { buildTimeline } from '../../shared/timeline/build.js';
import { captureIo } from './captureIo.js';
import { collectCompromiseRun, type CompromiseRun } from './compromiseRun.js';

let dir: string;
let run: CompromiseRun;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-report-'));
  run = await collectCompromiseRun(dir);
}, 120_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
/** The timeline data embedded in a report page. */
function pageItems(html: string): unknown[] {
  const m = /<script type="application\/json" id="timeline-data">(.*?)<\/script>/s.exec(html);
  if (!m?.[1]) throw new Error('no timeline data in the page');
  return (JSON.parse(m[1]) as { items: unknown[] }).items;
}
const clone = (m: Manifest): Manifest => JSON.parse(JSON.stringify(m)) as Manifest;

describe('the report written at sealing', () => {
  test('is listed in the manifest with its SHA-256, and the bundle verifies with it', async () => {
    const ref = run.manifest.artifacts.find((a) => a.path === SEALED_REPORT_PATH);
    expect(ref).toMatchObject({ source: 'report', kind: 'other', contentType: 'text/html; charset=utf-8' });
    const html = await readFile(join(run.dir, SEALED_REPORT_PATH));
    expect(ref!.sha256).toBe(sha256(html));
    expect(ref!.bytes).toBe(html.length);
    expect(run.sealed.reportPath).toBe(SEALED_REPORT_PATH);
    const verified = await verifyBundle(run.store);
    expect(verified.ok).toBe(true);
    expect(verified.unexpected).toEqual([]);
    expect(verified.artifacts.find((a) => a.path === SEALED_REPORT_PATH)?.status).toBe('ok');
  });

  test('says it was written at sealing and does not claim a verification it could not run', async () => {
    const html = (await readFile(join(run.dir, SEALED_REPORT_PATH))).toString('utf8');
    expect(html).toContain('data-status="not-checked"');
    expect(html).toContain('written at sealing');
    expect(html).not.toContain(run.sealed.manifestSha256); // it precedes the manifest
    expect(pageItems(html)).toHaveLength((await buildTimeline(run.store)).entries.length);
    expect(html).toContain('soc-analyst@contoso.example');
  });

  test('a retried seal writes report.attempt-2.html next to the first report, never over it', async () => {
    const copy = join(dir, 'retry');
    await cp(run.dir, copy, { recursive: true });
    const store = await openLocalBundleAt(copy);
    const before = await readFile(join(copy, SEALED_REPORT_PATH));
    const manifest = clone(run.manifest);
    await addSealedReport(store, manifest);
    expect(manifest.artifacts.filter((a) => a.source === 'report').map((a) => a.path)).toEqual(['report.attempt-2.html', 'report.html']);
    expect(await readFile(join(copy, SEALED_REPORT_PATH))).toEqual(before);
    expect(manifest.gaps).toEqual(run.manifest.gaps);
  });

  test('a report that cannot be written is a run-level gap naming the command that writes it later; the seal goes on', async () => {
    const empty = await mkdtemp(join(dir, 'empty-'));
    const store = await openLocalBundleAt(empty);
    const manifest = clone(run.manifest); // its artifacts are not in this store: the report cannot be built
    const artifacts = manifest.artifacts.length;
    await addSealedReport(store, manifest);
    expect(manifest.artifacts).toHaveLength(artifacts);
    expect(manifest.gaps.at(-1)).toMatchObject({ source: 'report', reason: 'error', detail: expect.stringContaining('aks-evidence report <bundle>') });
  });
});

describe('aks-evidence report', () => {
  test('verifies the bundle and writes ./<runId>.report.html, printing its path', async () => {
    const io = captureIo(dir);
    expect(await runCli(['report', run.dir], io)).toBe(0);
    const path = join(dir, `${run.manifest.runId}.report.html`);
    expect(io.out().trim()).toBe(path);
    expect(io.err()).toMatch(/verification: passed/);
    const html = await readFile(path, 'utf8');
    expect(html).toContain('data-status="passed"');
    expect(html).toContain(run.sealed.manifestSha256);
    expect(html).toMatch(/not configured<\/span><\/td><td>Independently recorded hash/);
  });

  test('a wrong expected hash fails verification (exit 1) and the report says so; a malformed one names the flag', async () => {
    const io = captureIo(dir);
    const out = join(dir, 'wrong-hash.html');
    expect(await runCli(['report', run.dir, '-o', out, '--expect-sha256', 'a'.repeat(64)], io)).toBe(1);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('data-status="failed"');
    expect(html).toContain(`the expected (independently recorded) hash is ${'a'.repeat(64)}`);
    const bad = captureIo(dir);
    expect(await runCli(['report', run.dir, '--expect-sha256', 'xyz'], bad)).toBe(2);
    expect(bad.err()).toMatch(/--expect-sha256: "xyz" is not a SHA-256 \(64 hex digits\)/);
  });

  test('an altered artifact: exit 1, and the report names it', async () => {
    const copy = join(dir, 'tampered');
    await cp(run.dir, copy, { recursive: true });
    const victim = run.manifest.artifacts.find((a) => a.source === 'commandhistory' && a.kind === 'rows')!.path;
    await chmod(join(copy, victim), 0o644);
    await writeFile(join(copy, victim), 'forged');
    const io = captureIo(dir);
    const out = join(dir, 'tampered.html');
    expect(await runCli(['report', copy, '-o', out], io)).toBe(1);
    expect(io.err()).toMatch(/verification: FAILED/);
    const html = await readFile(out, 'utf8');
    expect(html).toContain('data-status="failed"');
    expect(html).toContain(`ALTERED: ${victim}`);
    // Only what verified is described: the altered history is left out, and the page says so.
    expect(html).toContain(`left out of this report because they failed verification: ${victim}`);
    expect(pageItems(html).some((i) => (i as { s: string }).s === 'commandhistory')).toBe(false);
  });

  test('refuses to write into the sealed bundle', async () => {
    const io = captureIo(dir);
    expect(await runCli(['report', run.dir, '-o', join(run.dir, 'mine.html')], io)).toBe(2);
    expect(io.err()).toMatch(/-o: .* is inside the sealed bundle/);
  });

  test('reads a run in Blob Storage by URL (Azurite), whose sealed report is in the run', async () => {
    const azurite = await startAzurite();
    const cluster = await startFixtureCluster(await loadScenario('compromise'), {});
    const work = await mkdtemp(join(dir, 'blob-'));
    try {
      const kubeconfig = join(work, 'kubeconfig');
      await writeFile(kubeconfig, cluster.kubeconfigYaml, { mode: 0o600 });
      const env = { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString };
      const collect = captureIo(work, env);
      expect(
        await runCli(
          ['collect', '--kubeconfig', kubeconfig, '--out', azurite.containerUrl('evidence'), '--case', 'IR-9', '--sources', 'events,commandhistory,rbacfindings', '--json'],
          collect,
        ),
      ).toBe(0);
      const summary = JSON.parse(collect.out()) as { bundle: string; manifestSha256: string };
      const io = captureIo(work, env);
      expect(await runCli(['report', summary.bundle, '-o', 'blob.html', '--expect-sha256', summary.manifestSha256], io)).toBe(0);
      const html = await readFile(join(work, 'blob.html'), 'utf8');
      expect(html).toContain('data-status="passed"');
      expect(html).toContain(summary.bundle);
      expect(html).not.toContain(azurite.accountKey);
      const store = await openEvidenceLocation(summary.bundle, { storage: { connectionString: azurite.connectionString } });
      expect((await store.stat(SEALED_REPORT_PATH))?.contentType).toBe('text/html; charset=utf-8');
    } finally {
      await cluster.stop();
      await azurite.stop();
    }
  }, 120_000);
});

describe('what the page holds', () => {
  test('past its budget it keeps the highest-ranked entries and counts the rest per source', async () => {
    const all = (await buildTimeline(run.store)).entries;
    const budget = 40;
    const model = await buildReportModel(run.store, {
      kind: 'cli',
      verification: verificationAtSealing(run.manifest, run.store.location),
      generatorVersion: 'test',
      maxTimelineItems: budget,
    });
    expect(model.timeline.items).toHaveLength(budget);
    // Container logs do not fit whole: they are left out before anything is read, and counted.
    expect(model.timeline.omitted.containerlogs).toBe(run.manifest.sources.containerlogs!.records);
    expect(model.timeline.items.some((i) => i.s === 'containerlogs')).toBe(false);
    expect(Object.values(model.timeline.omitted).reduce((n, x) => n + x, 0)).toBe(all.length - budget);
    // Nothing left out ranks above anything kept.
    const kept = new Set(model.timeline.items.map((i) => `${i.e}|${i.t}`));
    const key = (e: (typeof all)[number]) => `${e.evidence.line ? `${e.evidence.path}:${e.evidence.line}` : e.evidence.path}|${e.time}`;
    const keptRanks = all.filter((e) => kept.has(key(e))).map(reportPriority);
    const droppedRanks = all.filter((e) => !kept.has(key(e)) && e.source !== 'containerlogs').map(reportPriority);
    expect(Math.max(...droppedRanks)).toBeLessThanOrEqual(Math.min(...keptRanks));
    expect(model.timeline.notes.join(' ')).toMatch(/container logs \(\d+ lines\) are not on this timeline/);
  });

  test('a verify result that already carries named checks is shown as it is (custody chain, anchors)', () => {
    const base = {
      ok: true,
      location: 'x',
      verifiedAt: '2026-01-01T00:00:00.000Z',
      sealed: true,
      manifestHashMatches: true,
      artifacts: [],
      unexpected: [],
      excluded: [],
      custody: { records: 3, chainIntact: true, steps: [] },
      custodyRecords: 3,
      anchors: [],
      problems: [],
      warnings: [],
    };
    const checks = [
      { id: 'custody-chain', name: 'Custody hash chain', status: 'passed' as const, detail: '7 records chained' },
      { id: 'tsa', name: 'RFC 3161 timestamp', status: 'not-configured' as const, detail: 'no --tsa-ca given' },
    ];
    expect(verificationFromVerifyResult({ ...base, checks }).checks).toEqual(checks);
    expect(verificationFromVerifyResult({ ...base, checks: [...checks, { id: 'la', name: 'Log Analytics custody row', status: 'failed', detail: 'hash differs' }] }).status).toBe(
      'failed',
    );
  });
});
