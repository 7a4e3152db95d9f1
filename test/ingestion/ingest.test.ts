/**
 * End to end: a sealed bundle of all eight KubeForenSys tables, written with the real local
 * evidence store, ingested through the real LogsIngestionClient into the HTTPS emulator that
 * validates against the DCR definitions. Every row is acknowledged or recorded as not
 * delivered; a re-ingest sends only what is missing; nothing lands twice.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { readSmallArtifact } from '../../shared/evidence/manifest.js';
import type { ArtifactRef } from '../../shared/evidence/types.js';
import { parseIngestionTarget, type IngestionTarget } from '../../shared/ingestion/config.js';
import { ingestBundle, ingestTable, type IngestBundleOptions } from '../../shared/ingestion/ingest.js';
import { delivered, type IngestionReceipt } from '../../shared/ingestion/receipt.js';
import { UnknownColumnError } from '../../shared/ingestion/rowMapping.js';
import { sampleRow, sampleRows, writeRowsBundle, type RowsBundle, type SourceRow } from '../../bench/rowsBundle.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { KUBEFORENSYS_SOURCES, SOURCES } from '../../shared/sources/registry.js';

const KUBEFORENSYS_TABLES = KUBEFORENSYS_SOURCES.map((name) => SOURCES.get(name).tables[0]!);

const ROWS: Record<string, number> = {
  kubelogs_CL: 6000,
  kubeevents_CL: 700,
  commandhistory_CL: 120,
  serviceaccounts_CL: 60,
  suspiciouspods_CL: 45,
  rbacbindings_CL: 300,
  cronjobs_CL: 12,
  networkpolicies_CL: 20,
};
const TOTAL = Object.values(ROWS).reduce((a, b) => a + b, 0);
const HUGE_LINE = 1234; // this kubelogs row carries a 3 MB message

let emulator: LogsIngestionEmulator;
let config: IngestionTarget;
let dir: string;

beforeAll(async () => {
  emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
  config = parseIngestionTarget(emulator.targetDocument);
  dir = await mkdtemp(join(tmpdir(), 'ingest-e2e-'));
});
afterAll(async () => {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
});

function* kubelogs(count: number): Generator<SourceRow> {
  for (let i = 0; i < count; i++) {
    const row = sampleRow('kubelogs_CL', i);
    if (i === HUGE_LINE) row['message'] = `BEGIN ${'Z'.repeat(3 * 1024 * 1024)} END`;
    yield row;
  }
}

let bundles = 0;
async function bundle(extra?: Parameters<typeof writeRowsBundle>[0]['extraArtifacts']): Promise<RowsBundle> {
  bundles++;
  const tables: Record<string, Iterable<SourceRow>> = {};
  for (const t of KUBEFORENSYS_TABLES) tables[t.name] = t.name === 'kubelogs_CL' ? kubelogs(ROWS[t.name]!) : sampleRows(t.name, ROWS[t.name]!);
  return writeRowsBundle({ dir, runId: `run-e2e-${bundles}`, tables, artifactsPerTable: 2, ...(extra ? { extraArtifacts: extra } : {}) });
}

function options(b: RowsBundle, extra: Partial<IngestBundleOptions> = {}): IngestBundleOptions {
  return {
    store: b.store,
    manifest: b.manifest,
    config,
    tables: SOURCES.tables,
    credential: emulator.credential,
    clientOptions: { ...emulator.clientOptions, retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 4 } },
    retryBudget: { attempts: 4, baseDelayMs: 2, maxDelayMs: 20 },
    mapping: { unknownColumns: 'error' },
    concurrency: 3,
    ...extra,
  };
}

/** Accepted rows of this run, per table, and how many distinct record ids. */
function landed(runId: string): Record<string, { rows: number; distinct: number }> {
  const out: Record<string, { rows: number; distinct: number }> = {};
  for (const t of KUBEFORENSYS_TABLES) {
    const rows = emulator.accepted(t.name).filter((r) => r['RunId'] === runId);
    out[t.name] = { rows: rows.length, distinct: new Set(rows.map((r) => r['RecordId'])).size };
  }
  return out;
}

function expectAccounted(receipt: IngestionReceipt): void {
  for (const t of Object.values(receipt.tables)) {
    expect(t.rowsAcknowledged + t.rowsSkipped + t.rowsFailed + t.rowsInvalid + t.rowsNotSent).toBe(t.rowsExpected);
    expect(t.failures.reduce((n, f) => n + f.rows, 0)).toBe(t.rowsFailed + t.rowsInvalid + t.rowsNotSent);
  }
  expect(receipt.rowsAcknowledged + receipt.rowsSkipped + receipt.rowsFailed + receipt.rowsInvalid + receipt.rowsNotSent).toBe(receipt.rowsExpected);
}

async function storedReceipt(b: RowsBundle, receipt: IngestionReceipt): Promise<IngestionReceipt> {
  return JSON.parse((await readSmallArtifact(b.store, receipt.path, 10_000_000)).toString('utf8')) as IngestionReceipt;
}

describe('ingestBundle into the Logs Ingestion emulator', () => {
  test('all eight tables: every row acknowledged once, requests under 1 MB, the 3 MB line truncated; re-ingest sends nothing', async () => {
    const b = await bundle();
    const before = emulator.requests.length;
    const progress: number[] = [];
    const receipt = await ingestBundle(options(b, { progress: (e) => progress.push(e.rowsAcknowledged) }));

    expect(receipt.status).toBe('complete');
    expect(receipt.attempt).toBe(1);
    expect(receipt.rowsExpected).toBe(TOTAL);
    expect(receipt.rowsRead).toBe(TOTAL);
    expect(receipt.rowsAcknowledged).toBe(TOTAL);
    expect(receipt.truncatedRows).toBe(1);
    expectAccounted(receipt);
    for (const t of KUBEFORENSYS_TABLES) {
      expect(receipt.tables[t.name]).toMatchObject({ status: 'complete', rowsAcknowledged: ROWS[t.name], rowsFailed: 0 });
      for (const a of receipt.tables[t.name]!.artifacts) expect(a.sha256Matches).toBe(true);
    }
    expect(landed(b.manifest.runId)).toEqual(Object.fromEntries(Object.entries(ROWS).map(([k, n]) => [k, { rows: n, distinct: n }])));
    expect(progress.length).toBeGreaterThan(5);

    // The wire: no request over 1 MB compressed or uncompressed, none refused, and requests well filled.
    const mine = emulator.requests.slice(before);
    expect(mine.every((r) => r.status === 204)).toBe(true);
    expect(Math.max(...mine.map((r) => r.bytes))).toBeLessThanOrEqual(1_000_000);
    expect(Math.max(...mine.map((r) => r.uncompressedBytes))).toBeLessThanOrEqual(1_000_000);
    expect(Math.max(...mine.map((r) => r.uncompressedBytes))).toBeGreaterThan(900_000);
    expect(mine.length).toBe(receipt.requests);

    // The oversized line: truncated with the marker, column named, full value still in the artifact.
    const huge = emulator.accepted('kubelogs_CL').find((r) => r['RunId'] === b.manifest.runId && String(r['message']).startsWith('BEGIN ZZZ'));
    expect(huge?.['TruncatedColumns']).toBe('message');
    expect(String(huge?.['message'])).toMatch(/…\[truncated \d+ bytes; full value in evidence artifact\]$/);
    expect(Buffer.byteLength(String(huge?.['message']))).toBeLessThanOrEqual(32 * 1024);
    expect(String(huge?.['EvidencePath'])).toBe(
      `${b.store.location}/${b.manifest.artifacts.find((a) => a.path === String(huge?.['EvidencePath']).slice(b.store.location.length + 1))?.path}`,
    );

    // The receipt is in the bundle, write-once, and says the same.
    expect(await storedReceipt(b, receipt)).toEqual(JSON.parse(JSON.stringify(receipt)));
    const ackParts = receipt.tables['kubelogs_CL']!.acknowledgements;
    expect(ackParts.reduce((n, p) => n + p.records, 0)).toBe(ROWS['kubelogs_CL']);

    // Re-ingest: everything already acknowledged, nothing sent.
    const again = await ingestBundle(options(b));
    expect(again).toMatchObject({ attempt: 2, status: 'complete', rowsSkipped: TOTAL, rowsAcknowledged: 0, requests: 0 });
    expect(again.tables['kubelogs_CL']?.previousAttempts).toEqual([1]);
    expect(landed(b.manifest.runId)['kubelogs_CL']).toEqual({ rows: ROWS['kubelogs_CL'], distinct: ROWS['kubelogs_CL'] });
  });

  test('transient faults (429 with and without Retry-After, 500s, dropped connections) end acknowledged, once, each HTTP attempt ours', async () => {
    const b = await bundle();
    emulator.faults = [
      { status: 429, table: 'kubelogs_CL', times: 3 }, // no Retry-After: we back off and re-send
      { status: 429, table: 'kubeevents_CL', retryAfterSeconds: 1, times: 1 }, // Retry-After honoured
      { status: 500, table: 'rbacbindings_CL', times: 3 },
      { status: 'drop', table: 'commandhistory_CL', times: 3 },
      { status: 503, table: 'cronjobs_CL', times: 1 },
    ];
    const requestsBefore = emulator.requests.length;
    const receipt = await ingestBundle(options(b));
    expect(emulator.faults.every((f) => f.times === 0)).toBe(true);
    // One retry loop: the client's own retries are off, so every HTTP attempt is one of our requests.
    expect(emulator.requests.length - requestsBefore).toBe(receipt.requests);
    emulator.faults = [];
    expect(receipt.status).toBe('complete');
    expect(receipt.rowsAcknowledged).toBe(TOTAL);
    expect(receipt.resends).toBeGreaterThan(0);
    expect(receipt.tables['kubelogs_CL']!.resends).toBeGreaterThanOrEqual(1);
    expect(receipt.tables['rbacbindings_CL']!.resends).toBeGreaterThanOrEqual(1);
    expectAccounted(receipt);
    const got = landed(b.manifest.runId);
    for (const t of KUBEFORENSYS_TABLES) expect(got[t.name]).toEqual({ rows: ROWS[t.name], distinct: ROWS[t.name] });
  });

  test('failures beyond the budget are recorded with reasons; a re-ingest delivers exactly the missing rows', async () => {
    const b = await bundle();
    emulator.faults = [
      { status: 500, table: 'kubeevents_CL' },
      { status: 429, table: 'networkpolicies_CL' },
    ];
    const first = await ingestBundle(options(b, { retryBudget: { attempts: 1, baseDelayMs: 1, maxDelayMs: 5 } }));
    emulator.faults = [];
    expect(first.status).toBe('partial');
    expectAccounted(first);
    const events = first.tables['kubeevents_CL']!;
    expect(events).toMatchObject({ status: 'failed', rowsAcknowledged: 0, rowsFailed: ROWS['kubeevents_CL'] });
    expect(events.failures).toEqual([expect.objectContaining({ reason: 'http', status: 500, rows: ROWS['kubeevents_CL'] })]);
    expect(events.failures[0]!.recordIds).toHaveLength(20);
    expect(first.tables['networkpolicies_CL']!.failures[0]).toMatchObject({ status: 429, rows: ROWS['networkpolicies_CL'] });
    expect(first.rowsAcknowledged + first.rowsFailed).toBe(TOTAL);
    const stored = await storedReceipt(b, first);
    expect(stored.tables['kubeevents_CL']?.rowsFailed).toBe(ROWS['kubeevents_CL']);

    const second = await ingestBundle(options(b));
    expect(second.status).toBe('complete');
    expect(second.rowsAcknowledged).toBe(first.rowsFailed);
    expect(second.rowsSkipped).toBe(first.rowsAcknowledged);
    expect(second.tables['kubeevents_CL']!.rowsAcknowledged).toBe(ROWS['kubeevents_CL']);
    expect(delivered(second)).toBe(TOTAL);
    const got = landed(b.manifest.runId);
    for (const t of KUBEFORENSYS_TABLES) expect(got[t.name]).toEqual({ rows: ROWS[t.name], distinct: ROWS[t.name] });
  });

  test('a connection dropped after the service accepted the rows: re-sent (at least once), duplicates share their RecordId', async () => {
    const b = await bundle();
    emulator.faults = [{ status: 'drop-after-accept', table: 'cronjobs_CL', times: 1 }];
    const receipt = await ingestTable({ ...options(b), table: 'cronjobs_CL', clientOptions: { ...emulator.clientOptions, retryOptions: { maxRetries: 0 } } });
    emulator.faults = [];
    expect(receipt.status).toBe('complete');
    expect(Object.keys(receipt.tables)).toEqual(['cronjobs_CL']);
    const got = landed(b.manifest.runId)['cronjobs_CL'];
    expect(got).toEqual({ rows: 2 * ROWS['cronjobs_CL']!, distinct: ROWS['cronjobs_CL'] });
  });

  test('unknown columns: strict mapping stops with UnknownColumnError and a receipt; runtime mapping drops and counts them', async () => {
    const b = await bundle(async (store) => {
      const body = [JSON.stringify({ ...sampleRow('cronjobs_CL', 900), schedule_tz: 'UTC' }), '{ this is not json', JSON.stringify(sampleRow('cronjobs_CL', 901))].join('\n');
      const path = 'sources/cronjobs/cronjobs_CL-extra.rows.ndjson.gz';
      const w = await store.writeArtifact(path, gzipSync(body + '\n'), { contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
      const ref: ArtifactRef = {
        path,
        source: 'cronjobs',
        kind: 'rows',
        sha256: w.sha256,
        bytes: w.bytes,
        records: 3,
        contentType: 'application/x-ndjson',
        contentEncoding: 'gzip',
        table: 'cronjobs_CL',
      };
      return [ref];
    });
    await expect(ingestTable({ ...options(b), table: 'cronjobs_CL' })).rejects.toThrow(UnknownColumnError);
    const receipts: string[] = [];
    for await (const info of b.store.list('ingestion/')) if (info.path.includes('receipt-')) receipts.push(info.path);
    expect(receipts).toEqual(['ingestion/receipt-0001.json']);
    const failed = JSON.parse((await readSmallArtifact(b.store, receipts[0]!, 1e7)).toString()) as IngestionReceipt;
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatch(/schedule_tz/);
    expectAccounted(failed);

    const lenient = await ingestTable({ ...options(b), table: 'cronjobs_CL', mapping: { unknownColumns: 'drop' } });
    const t = lenient.tables['cronjobs_CL']!;
    expect(t.droppedColumns).toEqual({ schedule_tz: 1 });
    expect(t.rowsInvalid).toBe(1);
    expect(t.failures).toEqual([expect.objectContaining({ reason: 'invalid-json', rows: 1, recordIds: ['sources/cronjobs/cronjobs_CL-extra.rows.ndjson.gz#2'] })]);
    expect(t.rowsExpected).toBe(ROWS['cronjobs_CL']! + 3);
    expect(t.rowsAcknowledged + t.rowsSkipped).toBe(ROWS['cronjobs_CL']! + 2);
    expect(lenient.status).toBe('partial');
    expectAccounted(lenient);
  });

  test('a table the target does not configure is recorded as not sent; parallel attempts get their own numbers', async () => {
    const b = await bundle();
    const { networkpolicies_CL: _omit, ...rest } = emulator.targetDocument.tables;
    const partial = parseIngestionTarget({ ...emulator.targetDocument, tables: rest });
    const [a, c] = await Promise.all([ingestTable({ ...options(b), config: partial, table: 'networkpolicies_CL' }), ingestTable({ ...options(b), table: 'serviceaccounts_CL' })]);
    expect(new Set([a.attempt, c.attempt])).toEqual(new Set([1, 2]));
    expect(a.tables['networkpolicies_CL']).toMatchObject({ status: 'not-configured', rowsNotSent: ROWS['networkpolicies_CL'], rowsRead: 0 });
    expect(a.tables['networkpolicies_CL']!.failures[0]!.message).toMatch(/add it to the ingestion target document/);
    expect(a.status).toBe('failed');
    expect(c.status).toBe('complete');
    expectAccounted(a);
  });

  test('403 (role not yet assigned) stops the table after the first answers; the rest is kept for a re-ingest, with the fix named', async () => {
    const b = await bundle();
    emulator.faults = [{ status: 403, table: 'kubelogs_CL' }];
    const before = emulator.requests.length;
    const first = await ingestTable({ ...options(b), table: 'kubelogs_CL', concurrency: 2 });
    emulator.faults = [];
    const t = first.tables['kubelogs_CL']!;
    expectAccounted(first);
    expect(t.rowsAcknowledged).toBe(0);
    expect(t.rowsFailed).toBeGreaterThan(0);
    expect(t.rowsNotSent).toBeGreaterThan(ROWS['kubelogs_CL']! / 2);
    expect(emulator.requests.length - before).toBeLessThanOrEqual(3);
    expect(t.failures).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ reason: 'http', status: 403, rows: t.rowsFailed }),
        expect.objectContaining({ reason: 'not-sent', status: 403, rows: t.rowsNotSent, message: expect.stringMatching(/Monitoring Metrics Publisher on the DCR/) }),
      ]),
    );
    const second = await ingestTable({ ...options(b), table: 'kubelogs_CL' });
    expect(second).toMatchObject({ status: 'complete', rowsAcknowledged: ROWS['kubelogs_CL'] });
    expect(landed(b.manifest.runId)['kubelogs_CL']).toEqual({ rows: ROWS['kubelogs_CL'], distinct: ROWS['kubelogs_CL'] });
  });

  test('a large table fanned out by artifact: parallel attempts, one artifact each, every row once', async () => {
    const b = await bundle();
    const paths = b.manifest.artifacts.filter((a) => a.table === 'kubelogs_CL').map((a) => a.path);
    expect(paths).toHaveLength(2);
    const receipts = await Promise.all(paths.map((p) => ingestBundle(options(b, { artifactPaths: [p] }))));
    expect(receipts.map((r) => Object.keys(r.tables))).toEqual([['kubelogs_CL'], ['kubelogs_CL']]);
    expect(receipts.reduce((n, r) => n + r.rowsAcknowledged, 0)).toBe(ROWS['kubelogs_CL']);
    for (const r of receipts) expectAccounted(r);
    expect(landed(b.manifest.runId)['kubelogs_CL']).toEqual({ rows: ROWS['kubelogs_CL'], distinct: ROWS['kubelogs_CL'] });
    const all = await ingestTable({ ...options(b), table: 'kubelogs_CL' });
    expect(all).toMatchObject({ rowsSkipped: ROWS['kubelogs_CL'], rowsAcknowledged: 0 });
    await expect(ingestBundle(options(b, { artifactPaths: ['sources/nope.rows.ndjson.gz'] }))).rejects.toThrow(/artifactPaths: not rows artifacts/);
  });

  test('abort mid-ingest: receipt says aborted, rows still accounted for, a later attempt completes without duplicates', async () => {
    const b = await bundle();
    const controller = new AbortController();
    const receipt = await ingestBundle(
      options(b, {
        concurrency: 1,
        progress: (e) => {
          if (e.table === 'kubelogs_CL' && e.rowsAcknowledged > 1500) controller.abort();
        },
        abortSignal: controller.signal,
      }),
    );
    expect(receipt.status).toBe('aborted');
    expectAccounted(receipt);
    expect(receipt.rowsAcknowledged).toBeGreaterThan(1500);
    expect(receipt.rowsAcknowledged).toBeLessThan(TOTAL);
    expect(receipt.tables['kubeevents_CL']).toMatchObject({ rowsNotSent: ROWS['kubeevents_CL'], rowsRead: 0 });

    const rest = await ingestBundle(options(b));
    expect(rest.status).toBe('complete');
    expect(rest.rowsSkipped).toBe(receipt.rowsAcknowledged);
    const got = landed(b.manifest.runId);
    for (const t of KUBEFORENSYS_TABLES) expect(got[t.name]).toEqual({ rows: ROWS[t.name], distinct: ROWS[t.name] });
  });
});
