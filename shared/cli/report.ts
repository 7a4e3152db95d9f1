import { randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { relative, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { createReport } from '../report/report.js';
import { DEFAULT_MAX_TIMELINE_ITEMS } from '../report/model.js';
import type { EvidenceStore } from '../evidence/types.js';
import { InputError } from '../util/errors.js';
import { EXIT, formatCount, line, type CliIo } from './io.js';
import { TOOL_VERSION } from './version.js';
import { openExistingRun, verifyOptionsFromFlags, type VerifyCliDeps, type VerifyCliFlags } from './verify.js';

export interface ReportCliOptions extends VerifyCliFlags {
  output?: string;
  maxItems?: string;
  /** Internal: reuse an already opened store (the demo). */
  store?: EvidenceStore;
  /** Internal: print nothing (the demo prints its own lines). */
  quiet?: boolean;
}

export interface ReportOutcome {
  exitCode: number;
  /** Absolute path of the written HTML file. */
  path: string;
  verified: boolean;
}

function parseMaxItems(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InputError('--max-items', `"${text}" is not a positive whole number`);
  return n;
}

/** A local bundle is sealed: a report written into it would be a file its manifest does not list. */
function refuseInsideBundle(store: EvidenceStore, output: string): void {
  if (!store.location.startsWith('file:')) return;
  const bundle = fileURLToPath(store.location);
  const rel = relative(bundle, output);
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel))) {
    throw new InputError('-o', `${output} is inside the sealed bundle ${bundle}; write the report next to it (e.g. -o ${resolve(bundle, '..', 'report.html')})`);
  }
}

/** `aks-evidence report`: verify the bundle, describe it, write one self-contained HTML file. */
export async function runReport(bundle: string, flags: ReportCliOptions, io: CliIo, deps: VerifyCliDeps = {}): Promise<ReportOutcome> {
  const verify = await verifyOptionsFromFlags(flags, io, deps);
  const maxItems = parseMaxItems(flags.maxItems);
  const store = flags.store ?? (await openExistingRun(bundle, io));
  const { html, model } = await createReport(store, {
    generatorVersion: TOOL_VERSION,
    verify,
    ...(maxItems ? { maxTimelineItems: maxItems } : {}),
  });
  const path = resolve(io.cwd, flags.output ?? `${model.manifest.runId}.report.html`);
  refuseInsideBundle(store, path);
  // Written whole, then renamed: a reader never opens half a report.
  const temp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(temp, html, { encoding: 'utf8', flag: 'wx' });
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  const v = model.verification;
  const omitted = Object.values(model.timeline.omitted).reduce((n, x) => n + x, 0);
  if (!flags.quiet) {
    line(io.stderr, `verification: ${v.status === 'passed' ? 'passed' : 'FAILED'} — ${v.headline}`);
    line(
      io.stderr,
      `timeline: ${formatCount(model.timeline.items.length)} entries${omitted ? ` (${formatCount(omitted)} more left out: --max-items, default ${formatCount(DEFAULT_MAX_TIMELINE_ITEMS)})` : ''}`,
    );
    line(io.stdout, path);
  }
  return { exitCode: v.status === 'failed' ? EXIT.failed : EXIT.ok, path, verified: v.status === 'passed' };
}

export function registerReportCommand(program: Command, io: CliIo, setExit: (code: number) => void): void {
  program
    .command('report')
    .argument('<bundle>', 'bundle directory (<out>/<runId>) or Blob URL of a run (<container>/<caseId>/<runId>)')
    .description(
      'verify a bundle and write one self-contained HTML report (works offline): case, verification, coverage and gaps, an interactive timeline, findings, exec commands; exit 1 when verification fails (the report says why)',
    )
    .option('-o, --output <file>', 'where to write the report (default ./<runId>.report.html; never inside the bundle)')
    .option('--expect-sha256 <hex>', 'the manifest SHA-256 recorded outside the bundle (incident comment, run status): checked and shown')
    .option('--tsa-ca <file>', "the time-stamping authority's CA certificate (PEM): the manifest.json.tsr timestamp must chain to it")
    .option('--workspace <id>', 'Log Analytics workspace id: compare with the evidencecustody_CL row written at sealing')
    .option('--logs-endpoint <url>', 'Log Analytics query endpoint (sovereign clouds; default https://api.loganalytics.io)')
    .option('--max-items <n>', `timeline entries embedded in the page (default ${DEFAULT_MAX_TIMELINE_ITEMS}); past it the lowest-ranked are left out and counted`)
    .action(async (bundle: string, flags: ReportCliOptions) => {
      setExit((await runReport(bundle, flags, io)).exitCode);
    });
}
