/**
 * `aks-evidence ingest <bundle-or-blob-url> --config <file|json>`: (re-)ingest a sealed run
 * into Log Analytics. Sends only rows no earlier attempt had acknowledged; prints what was
 * delivered and what was not, and writes the attempt's receipt into the bundle.
 */
import type { TokenCredential } from '@azure/identity';
import type { LogsIngestionClientOptions } from '@azure/monitor-ingestion';
import type { Command } from 'commander';
import type { CliIo } from './io.js';
import { EXIT, formatCount, line } from './io.js';
import { readClaimIfAny } from '../evidence/claim.js';
import { collectorIdentity, CustodyLog } from '../evidence/custody.js';
import { readManifest } from '../evidence/manifest.js';
import { MANIFEST_PATH } from '../evidence/types.js';
import { EvidenceStoreError } from '../evidence/errors.js';
import { isBlobUrl } from '../evidence/blobUrl.js';
import { openEvidenceLocation, type StorageAccess } from '../evidence/openStore.js';
import { SOURCES } from '../sources/registry.js';
import { describeError, InputError } from '../util/errors.js';
import { loadIngestionTarget } from '../ingestion/config.js';
import { defaultAzureCredential } from '../util/azureCredential.js';
import { delivered, type IngestionReceipt } from '../ingestion/receipt.js';
import { maxOf } from '../util/arrays.js';

export interface IngestCliFlags {
  config: string;
  tables?: string;
  concurrency?: string;
  json?: boolean;
  quiet?: boolean;
}

/** What the command may be handed instead of its defaults (tests: the emulator's credential and CA). */
export interface IngestCliDeps {
  credential?: TokenCredential;
  /** Credential for Blob evidence locations when no connection string is set. */
  storageCredential?: TokenCredential;
  clientOptions?: LogsIngestionClientOptions;
}

function parseConcurrency(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InputError('--concurrency', `expected a whole number from 1 to 64, got "${value}"`);
  return n;
}

function parseTables(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  const tables = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  if (!tables.length) throw new InputError('--tables', 'give table names separated by commas, e.g. kubelogs_CL,kubeevents_CL');
  return tables;
}

/** A sealed preservation segment's ingestion (CollectionPhase = increment). */
export interface IncrementIngestion {
  seq: number;
  /** Absent: the segment holds no rows. */
  receipt?: IngestionReceipt;
  /** Why it was not ingested (its manifest no longer hashes as sealed, the target refused…). */
  error?: string;
}

/** The ingest command's work; returns the run's receipt, with its sealed increments' (preservation windows). */
export async function runIngest(location: string, flags: IngestCliFlags, io: CliIo, deps: IngestCliDeps = {}): Promise<IngestionReceipt & { increments?: IncrementIngestion[] }> {
  const config = await loadIngestionTarget(flags.config, { cwd: io.cwd, origin: '--config' });
  const tables = parseTables(flags.tables);
  const concurrency = parseConcurrency(flags.concurrency);
  let credential: TokenCredential | undefined = deps.credential;
  const azureCredential = async (): Promise<TokenCredential> => (credential ??= await defaultAzureCredential());

  const connectionString = io.env.AZURE_STORAGE_CONNECTION_STRING;
  const storage: StorageAccess = connectionString ? { connectionString } : { credential: deps.storageCredential ?? (await azureCredential()) };
  let store;
  try {
    store = await openEvidenceLocation(location, { cwd: io.cwd, ...(isBlobUrl(location) ? { storage } : {}) });
  } catch (error) {
    // A local path that is not a directory is bad input; a Blob location that fails is not.
    if (error instanceof EvidenceStoreError && !isBlobUrl(location)) throw new InputError('<bundle>', `${error.message}`, { cause: error });
    throw error;
  }
  if (!(await store.stat(MANIFEST_PATH))) {
    throw new InputError(
      '<bundle>',
      `${store.location} holds no ${MANIFEST_PATH}: give a sealed run, a bundle directory (<out>/<runId>) or the Blob URL of a run (<container>/<caseId>/<runId>)`,
    );
  }
  const manifest = await readManifest(store);
  // Each attempt's receipt goes into the run's custody chain, so verify can tell it from a forged
  // one. A bundle without a claim (sealed by an earlier version) has no chain to record it in.
  const claim = await readClaimIfAny(store);
  const custody = claim
    ? new CustodyLog(store, {
        runId: manifest.runId,
        caseId: manifest.caseId,
        claim,
        collector: collectorIdentity({ runtime: 'cli', ...(io.env.USER ? { identity: io.env.USER } : {}) }),
      })
    : undefined;

  const quiet = flags.quiet === true || flags.json === true;
  if (!quiet) line(io.stderr, `[aks-evidence] ingesting run ${manifest.runId} (case ${manifest.caseId}) from ${store.location} into ${config.endpoint}`);
  let lastLine = 0;
  // The Logs Ingestion SDK loads only when a bundle is ingested.
  const { ingestBundle } = await import('../ingestion/ingest.js');
  const receipt = await ingestBundle({
    store,
    manifest,
    config,
    credential: await azureCredential(),
    tables: SOURCES.tables,
    ...(custody ? { custody } : {}),
    ...(tables ? { only: tables } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(deps.clientOptions ? { clientOptions: deps.clientOptions } : {}),
    ...(quiet
      ? {}
      : {
          progress: (e) => {
            const now = Date.now();
            if (now - lastLine < 2000) return;
            lastLine = now;
            line(
              io.stderr,
              `[aks-evidence] ${e.table}: ${formatCount(e.rowsAcknowledged)} acknowledged, ${formatCount(e.rowsSkipped)} already in, ${formatCount(e.rowsFailed)} failed`,
            );
          },
        }),
  });
  // The segments a preservation window sealed go into the same tables, marked as increments.
  const { ingestIncrement, sealedIncrements } = await import('../preservation/ingestIncrement.js');
  const sealed = claim ? await sealedIncrements(store) : [];
  if (!sealed.length) return receipt;
  const increments: IncrementIngestion[] = [];
  for (const { seq, manifestSha256 } of sealed) {
    try {
      const r = await ingestIncrement({
        store,
        seq,
        manifestSha256,
        config,
        credential: await azureCredential(),
        tables: SOURCES.tables,
        ...(custody ? { custody } : {}),
        ...(tables ? { only: tables } : {}),
        ...(concurrency !== undefined ? { concurrency } : {}),
        ...(deps.clientOptions ? { clientOptions: deps.clientOptions } : {}),
      });
      increments.push({ seq, ...(r ? { receipt: r } : {}) });
      if (!quiet && r) line(io.stderr, `[aks-evidence] increment ${seq}: ${r.status}, ${formatCount(r.rowsAcknowledged)} acknowledged, ${formatCount(r.rowsSkipped)} already in`);
    } catch (error) {
      increments.push({ seq, error: describeError(error) });
      if (!quiet) line(io.stderr, `[aks-evidence] increment ${seq} not ingested: ${describeError(error)}`);
    }
  }
  return { ...receipt, increments };
}

/** Human summary of a receipt. */
export function printReceipt(receipt: IngestionReceipt & { increments?: IncrementIngestion[] }, io: CliIo): void {
  line(io.stdout, `ingestion attempt ${receipt.attempt} of run ${receipt.runId} → ${receipt.endpoint}: ${receipt.status.toUpperCase()}`);
  const header = ['table', 'rows', 'acknowledged', 'already in', 'failed', 'invalid', 'not sent', 'truncated'];
  const rows = Object.values(receipt.tables).map((t) =>
    [t.table, t.rowsExpected, t.rowsAcknowledged, t.rowsSkipped, t.rowsFailed, t.rowsInvalid, t.rowsNotSent, t.truncatedRows].map((v) =>
      typeof v === 'number' ? formatCount(v) : v,
    ),
  );
  rows.push(
    ['total', receipt.rowsExpected, receipt.rowsAcknowledged, receipt.rowsSkipped, receipt.rowsFailed, receipt.rowsInvalid, receipt.rowsNotSent, receipt.truncatedRows].map((v) =>
      typeof v === 'number' ? formatCount(v) : v,
    ),
  );
  const widths = header.map((h, i) =>
    maxOf(
      rows.map((r) => String(r[i]).length),
      h.length,
    ),
  );
  const fmt = (r: (string | number)[]) => r.map((v, i) => (i === 0 ? String(v).padEnd(widths[i] ?? 0) : String(v).padStart(widths[i] ?? 0))).join('  ');
  line(io.stdout, fmt(header));
  for (const r of rows) line(io.stdout, fmt(r));
  for (const t of Object.values(receipt.tables)) {
    for (const f of t.failures) {
      const what = f.status !== undefined ? `HTTP ${f.status}${f.code ? ` ${f.code}` : ''}` : f.reason;
      const sample = f.recordIds.length ? ` (e.g. ${f.recordIds.slice(0, 3).join(', ')})` : '';
      line(io.stdout, `  ${t.table}: ${formatCount(f.rows)} row(s) not delivered: ${what}: ${f.message}${sample}`);
    }
    for (const a of t.artifacts) {
      if (a.sha256Matches === false) line(io.stdout, `  ${t.table}: WARNING ${a.path} no longer matches its sealed sha256 (run aks-evidence verify)`);
    }
  }
  if (receipt.error) line(io.stdout, `  attempt ended early: ${receipt.error}`);
  line(io.stdout, `receipt: ${receipt.location.replace(/\/+$/, '')}/${receipt.path}`);
  for (const i of receipt.increments ?? []) {
    const r = i.receipt;
    line(
      io.stdout,
      `increment ${i.seq}: ${i.error ? `NOT INGESTED: ${i.error}` : r ? `${r.status.toUpperCase()}: ${formatCount(r.rowsAcknowledged)} acknowledged, ${formatCount(r.rowsSkipped)} already in, ${formatCount(r.rowsExpected - r.rowsAcknowledged - r.rowsSkipped)} not delivered` : 'no rows'}`,
    );
  }
  const incomplete = (receipt.increments ?? []).some((i) => i.error || (i.receipt && i.receipt.status !== 'complete'));
  if (receipt.status !== 'complete' || incomplete) line(io.stdout, 'Run the same command again to send what was not delivered; acknowledged rows are not sent twice.');
}

/**
 * The exit code of an ingestion attempt (io.ts EXIT): 0 every row delivered (now or before);
 * 3 some delivered, some not (failed, unreadable or not sent: re-run to send the rest);
 * 1 nothing delivered.
 */
export function ingestExitCode(receipt: IngestionReceipt & { increments?: IncrementIngestion[] }): number {
  const increments = receipt.increments ?? [];
  const incrementsComplete = increments.every((i) => !i.error && (!i.receipt || i.receipt.status === 'complete'));
  if (receipt.status === 'complete' && incrementsComplete) return EXIT.ok;
  const some = delivered(receipt) + increments.reduce((n, i) => n + (i.receipt ? delivered(i.receipt) : 0), 0);
  return some > 0 ? EXIT.gaps : EXIT.failed;
}

/** Mount `ingest` on the CLI. Exit code: ingestExitCode, or 2 for bad input (flags, config, not a bundle). */
export function registerIngestCommand(program: Command, io: CliIo, setExit: (code: number) => void, deps: IngestCliDeps = {}): void {
  program
    .command('ingest')
    .argument('<bundle>', 'bundle directory (<out>/<runId>) or Blob URL of a run (<container>/<caseId>/<runId>)')
    .description('(re-)ingest a sealed run into Log Analytics through the DCE; sends only rows not yet acknowledged and writes a receipt')
    .requiredOption('--config <file|json>', 'ingestion target document (as output by the infra deployment): a file or inline JSON')
    .option('--tables <list>', 'only these tables, comma-separated (default: every table with rows)')
    .option('--concurrency <n>', "requests in flight per table (default: the document's maxConcurrency, else 4)")
    .option('--json', 'print the receipt as JSON')
    .option('--quiet', 'no progress on stderr')
    .action(async (bundle: string, flags: IngestCliFlags) => {
      const receipt = await runIngest(bundle, flags, io, deps);
      if (flags.json) line(io.stdout, JSON.stringify(receipt, null, 2));
      else printReceipt(receipt, io);
      setExit(ingestExitCode(receipt));
    });
}
