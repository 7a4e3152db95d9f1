/**
 * `npm run demo` ends by writing the report of the demo bundle and printing its path: the last
 * line names an HTML file next to the bundle (not in it), verified, and the bundle still
 * verifies with nothing unlisted in it.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runCli } from '../../shared/cli/main.js';
import { openLocalBundleAt } from '../../shared/evidence/localStore.js';
import { verifyBundle } from '../../shared/evidence/verify.js';
import { captureIo } from './captureIo.js';

test('the demo ends with the path of its report', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-demo-'));
  try {
    const io = captureIo(dir);
    expect(await runCli(['demo', '--out', 'ev'], io)).toBe(0);
    const lines = io.out().trimEnd().split('\n');
    const last = lines.at(-1) ?? '';
    expect(last).toMatch(/^Report: \S+\.report\.html$/);
    const path = last.slice('Report: '.length);
    expect(dirname(path)).toBe(join(dir, 'ev'));
    const html = await readFile(path, 'utf8');
    expect(html).toContain('data-status="passed"');
    expect(html).toContain('demo-compromise');
    const runId = /\/([^/]+)\.report\.html$/.exec(path)![1]!;
    const verified = await verifyBundle(await openLocalBundleAt(join(dir, 'ev', runId)));
    expect(verified.ok).toBe(true);
    expect(verified.unexpected).toEqual([]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
