/**
 * Ingestion from a Blob Storage bundle (Azurite): receipts and acknowledgement parts written
 * write-once next to the evidence, and `aks-evidence ingest <blob url>` re-ingesting from them.
 */
import { Command } from 'commander';
import { PassThrough } from 'node:stream';
import { openEvidenceLocation } from '../../shared/evidence/openStore.js';
import { registerIngestCommand } from '../../shared/cli/ingest.js';
import { parseIngestionTarget } from '../../shared/ingestion/config.js';
import { ingestBundle } from '../../shared/ingestion/ingest.js';
import type { IngestionReceipt } from '../../shared/ingestion/receipt.js';
import { startAzurite, type AzuriteBlob } from '../../shared/simulator/azurite.js';
import { sampleRows, writeRowsBundle } from '../../bench/rowsBundle.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';

let azurite: AzuriteBlob;
let emulator: LogsIngestionEmulator;

beforeAll(async () => {
  [azurite, emulator] = await Promise.all([startAzurite(), startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) })]);
});
afterAll(async () => {
  await Promise.all([azurite?.stop(), emulator?.stop()]);
});

test('a Blob bundle: ingest, failures recorded, CLI re-ingest from the Blob URL completes without duplicates', async () => {
  const containerUrl = azurite.containerUrl('evidence');
  const store = await openEvidenceLocation(containerUrl, { runId: 'run-blob-1', caseId: 'INC-42', storage: { connectionString: azurite.connectionString } });
  const b = await writeRowsBundle({
    dir: '',
    store,
    runId: 'run-blob-1',
    caseId: 'INC-42',
    tables: { kubelogs_CL: sampleRows('kubelogs_CL', 2500), kubeevents_CL: sampleRows('kubeevents_CL', 80), cronjobs_CL: sampleRows('cronjobs_CL', 5) },
    artifactsPerTable: 2,
  });
  emulator.faults = [{ status: 503, table: 'kubeevents_CL' }];
  const first = await ingestBundle({
    store,
    manifest: b.manifest,
    config: parseIngestionTarget(emulator.targetDocument),
    tables: SOURCES.tables,
    credential: emulator.credential,
    clientOptions: { ...emulator.clientOptions, retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 2 } },
    retryBudget: { attempts: 1, baseDelayMs: 1, maxDelayMs: 2 },
    maxRequestBytes: 250_000,
  });
  emulator.faults = [];
  expect(first).toMatchObject({ status: 'partial', rowsAcknowledged: 2505, rowsFailed: 80 });
  // Acknowledgements are written as each request is accepted (one part per request), not at the end.
  const parts = first.tables['kubelogs_CL']!.acknowledgements.map((p) => p.records);
  expect(parts.length).toBeGreaterThanOrEqual(2);
  expect(parts.length).toBe(first.tables['kubelogs_CL']!.requests);
  expect(parts.reduce((a, n) => a + n, 0)).toBe(2500);
  const written: string[] = [];
  for await (const info of store.list('ingestion/')) written.push(info.path);
  expect(written).toEqual(
    expect.arrayContaining([
      'ingestion/attempt-0001.json',
      'ingestion/receipt-0001.json',
      'ingestion/acked-0001-kubelogs_CL-0001.ndjson.gz',
      'ingestion/acked-0001-kubelogs_CL-0002.ndjson.gz',
    ]),
  );

  const stdout = new PassThrough();
  let out = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  let code = -1;
  const program = new Command().exitOverride();
  registerIngestCommand(program, { stdout, stderr: new PassThrough(), env: { AZURE_STORAGE_CONNECTION_STRING: azurite.connectionString }, cwd: '/' }, (c) => (code = c), {
    credential: emulator.credential,
    clientOptions: emulator.clientOptions,
  });
  await program.parseAsync(['ingest', store.location, '--config', JSON.stringify(emulator.targetDocument), '--json'], { from: 'user' });
  expect(code).toBe(0);
  const second = JSON.parse(out) as IngestionReceipt;
  expect(second).toMatchObject({ attempt: 2, status: 'complete', rowsAcknowledged: 80, rowsSkipped: 2505, location: store.location });
  expect(JSON.stringify(second)).not.toMatch(/AccountKey|Eby8|sig=/);
  for (const [table, n] of Object.entries({ kubelogs_CL: 2500, kubeevents_CL: 80, cronjobs_CL: 5 })) {
    const rows = emulator.accepted(table).filter((r) => r['RunId'] === 'run-blob-1');
    expect(rows.length).toBe(n);
    expect(new Set(rows.map((r) => r['RecordId'])).size).toBe(n);
  }
});
