import type { Command } from 'commander';
import { exportBundle } from '../evidence/export.js';
import { openEvidenceLocation } from '../evidence/openStore.js';
import type { EvidenceStore } from '../evidence/types.js';
import { verifyBundle } from '../evidence/verify.js';
import { EXIT, line, type CliIo } from './io.js';
import { cliStorageAccess } from './storageAccess.js';
import { isBlobUrl } from '../evidence/blobUrl.js';
import { resolve } from 'node:path';

/** Open an existing run (bundle directory, or Blob URL of <container>/<caseId>/<runId>). */
export async function openExistingRun(location: string, io: CliIo): Promise<EvidenceStore> {
  return openEvidenceLocation(location, { cwd: io.cwd, ...(isBlobUrl(location) ? { storage: await cliStorageAccess(io) } : {}) });
}

type Report = Awaited<ReturnType<typeof verifyBundle>>;

export function printVerifyReport(report: Report, location: string, io: CliIo): void {
  const bad = report.artifacts.filter((a) => a.status !== 'ok');
  if (report.ok) {
    line(io.stdout, `OK: ${report.artifacts.length} artifact(s) match the manifest; manifest sha256 ${report.manifestSha256} (${location})`);
    return;
  }
  line(io.stdout, `FAILED: ${location}`);
  if (!report.manifestHashMatches) line(io.stdout, `  manifest.json does not match manifest.json.sha256`);
  for (const a of bad) {
    line(io.stdout, `  ${a.status.toUpperCase()}: ${a.path} (expected sha256 ${a.expectedSha256}${a.actualSha256 ? `, found ${a.actualSha256}` : ''})`);
  }
  for (const u of report.unexpected) line(io.stdout, `  UNEXPECTED: ${u} is not in the manifest`);
}

export function registerVerifyCommands(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('verify')
    .argument('<bundle>', 'bundle directory (<out>/<runId>) or Blob URL of a run (<container>/<caseId>/<runId>)')
    .description('re-hash every artifact against the manifest; exit 0 when all match, 1 naming every missing or altered artifact')
    .option('--json', 'print the verify report as JSON')
    .action(async (bundle: string, flags: { json?: boolean }) => {
      const store = await openExistingRun(bundle, io);
      const report = await verifyBundle(store);
      if (flags.json) line(io.stdout, JSON.stringify(report, null, 2));
      else printVerifyReport(report, store.location, io);
      setExit(report.ok ? EXIT.ok : EXIT.failed);
    });

  program
    .command('export')
    .argument('<run>', 'Blob URL (or directory) of a run')
    .argument('<dir>', 'destination directory (the run is copied to <dir>/<runId>)')
    .description('copy a run byte for byte to a local directory, then verify the copy')
    .action(async (run: string, dir: string) => {
      const store = await openExistingRun(run, io);
      const report = await exportBundle(store, resolve(io.cwd, dir));
      printVerifyReport(report, resolve(io.cwd, dir), io);
      setExit(report.ok ? EXIT.ok : EXIT.failed);
    });
}
