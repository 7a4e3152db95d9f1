import type { TokenCredential } from '@azure/core-auth';
import type { LogsQueryClientOptions } from '@azure/monitor-query-logs';
import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { isBlobUrl } from '../evidence/blobUrl.js';
import { EvidenceStoreError } from '../evidence/errors.js';
import { exportBundle } from '../evidence/export.js';
import { openEvidenceLocation } from '../evidence/openStore.js';
import type { EvidenceStore } from '../evidence/types.js';
import { verifyBundle, type ExternalAnchor, type VerifyReport } from '../evidence/verify.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import { InputError } from '../util/errors.js';
import { EXIT, line, type CliIo } from './io.js';
import { cliStorageAccess } from './storageAccess.js';

/** Open an existing run (bundle directory, or Blob URL of <container>/<caseId>/<runId>). A location that cannot be opened is bad input. */
export async function openExistingRun(location: string, io: CliIo): Promise<EvidenceStore> {
  try {
    return await openEvidenceLocation(location, { cwd: io.cwd, ...(isBlobUrl(location) ? { storage: await cliStorageAccess(io) } : {}) });
  } catch (error) {
    if (error instanceof EvidenceStoreError) throw new InputError('<bundle>', error.message, { cause: error });
    throw error;
  }
}

export interface VerifyCliFlags {
  json?: boolean;
  expectSha256?: string;
  tsaCa?: string;
  workspace?: string;
  logsEndpoint?: string;
}

/** What the command may be handed instead of its defaults (tests: the Log Analytics stub's credential and CA). */
export interface VerifyCliDeps {
  credential?: TokenCredential;
  logsClientOptions?: LogsQueryClientOptions;
}

/** Validate verify's flags before anything is read (bad input: exit 2). */
export async function verifyOptionsFromFlags(flags: VerifyCliFlags, io: CliIo, deps: VerifyCliDeps = {}) {
  const expected = flags.expectSha256?.trim().toLowerCase();
  if (expected !== undefined && !/^[0-9a-f]{64}$/.test(expected)) throw new InputError('--expect-sha256', `"${flags.expectSha256}" is not a SHA-256 (64 hex digits)`);
  let tsaCaPem: string | undefined;
  if (flags.tsaCa) {
    const file = resolve(io.cwd, flags.tsaCa);
    try {
      tsaCaPem = await readFile(file, 'utf8');
    } catch (error) {
      throw new InputError('--tsa-ca', `cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give the TSA's CA certificate as a PEM file`, {
        cause: error,
      });
    }
    if (!tsaCaPem.includes('-----BEGIN CERTIFICATE-----')) throw new InputError('--tsa-ca', `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  const anchors: ExternalAnchor[] = [];
  if (flags.workspace) {
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(flags.workspace)) {
      throw new InputError('--workspace', `"${flags.workspace}" is not a Log Analytics workspace id (a GUID: the workspace's Overview shows it)`);
    }
    const { logAnalyticsAnchor } = await import('../ingestion/custodyAnchor.js');
    anchors.push(
      logAnalyticsAnchor({
        workspaceId: flags.workspace,
        credential: deps.credential ?? (await defaultAzureCredential()),
        ...(flags.logsEndpoint ? { endpoint: flags.logsEndpoint } : {}),
        ...(deps.logsClientOptions ? { clientOptions: deps.logsClientOptions } : {}),
      }),
    );
  }
  return { ...(expected ? { expectedManifestSha256: expected } : {}), ...(tsaCaPem ? { tsaCaPem } : {}), anchors };
}

const MARK = { passed: 'passed', failed: 'FAILED', 'not-configured': 'not configured', unknown: 'unknown' } as const;

/** Human output. It says VERIFIED only when nothing failed, and FAILED with every reason otherwise. */
export function printVerifyReport(report: VerifyReport, location: string, io: CliIo): void {
  const out = (text: string) => line(io.stdout, text);
  if (report.ok) {
    out(`VERIFIED: ${location}`);
    out(
      `  run ${report.runId ?? '?'} (case ${report.caseId ?? '?'})${report.interrupted ? `, sealed as INTERRUPTED (${report.interrupted.reason}; ${report.interrupted.unfinishedTasks.length} task(s) never finished)` : ''}`,
    );
    out(`  ${report.artifacts.length} artifact(s) match the manifest; manifest sha256 ${report.manifestSha256}`);
  } else {
    out(`FAILED: ${location}`);
    for (const p of report.problems) out(`  ${p}`);
  }
  const c = report.custody;
  out(
    `  custody chain: ${c.records} record(s), ${c.chainIntact ? 'every link holds' : 'BROKEN'}${c.sealRecord ? `; record ${c.sealRecord.seq} seals the manifest` : ''}${c.head ? `; newest: ${c.head.step} at ${c.head.at}` : ''}`,
  );
  out('  anchors outside the bundle:');
  for (const a of report.anchors) out(`    ${a.anchor.padEnd(18)} ${MARK[a.status].padEnd(15)} ${a.detail}`);
  for (const e of report.excluded) out(`  excluded: ${e.path}: ${e.why}`);
  for (const w of report.warnings) out(`  note: ${w}`);
}

export async function runVerify(bundle: string, flags: VerifyCliFlags, io: CliIo, deps: VerifyCliDeps = {}): Promise<{ report: VerifyReport; location: string }> {
  const options = await verifyOptionsFromFlags(flags, io, deps);
  const store = await openExistingRun(bundle, io);
  return { report: await verifyBundle(store, options), location: store.location };
}

export function registerVerifyCommands(program: Command, io: CliIo, setExit: (code: number) => void, deps: VerifyCliDeps = {}): void {
  program
    .command('verify')
    .argument('<bundle>', 'bundle directory (<out>/<runId>) or Blob URL of a run (<container>/<caseId>/<runId>)')
    .description(
      'walk the custody chain, re-hash every artifact, account for every file, and check the anchors outside the bundle. Exit 0 verified; 1 verification failed (every reason named); 2 bad input',
    )
    .option('--expect-sha256 <hex>', 'the manifest SHA-256 you kept (collect output, Sentinel incident comment, run status)')
    .option('--tsa-ca <file>', "the time-stamping authority's CA certificate (PEM): the manifest.json.tsr timestamp must chain to it")
    .option('--workspace <id>', 'Log Analytics workspace id: compare with the evidencecustody_CL row written at sealing')
    .option('--logs-endpoint <url>', 'Log Analytics query endpoint (sovereign clouds; default https://api.loganalytics.io)')
    .option('--json', 'print the verify report as JSON')
    .action(async (bundle: string, flags: VerifyCliFlags) => {
      const { report, location } = await runVerify(bundle, flags, io, deps);
      if (flags.json) line(io.stdout, JSON.stringify(report, null, 2));
      else printVerifyReport(report, location, io);
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
