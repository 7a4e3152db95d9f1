/**
 * The Logs Ingestion emulator against the real LogsIngestionClient: the DCR contract from
 * infra/dcr.ts holds for every registry table, and the emulator refuses what the service refuses.
 */
import { isAggregateLogsUploadError, LogsIngestionClient } from '@azure/monitor-ingestion';
import { request } from 'node:https';
import { gzipSync } from 'node:zlib';
import { mapRow } from '../../shared/ingestion/rowMapping.js';
import { streamName } from '../../shared/tables/table.js';
import { sampleRow } from '../../bench/rowsBundle.js';
import { EMULATOR_TOKEN, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';

let emulator: LogsIngestionEmulator;
let client: LogsIngestionClient;

beforeAll(async () => {
  emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
  client = new LogsIngestionClient(emulator.endpoint, emulator.credential, {
    ...emulator.clientOptions,
    retryOptions: { maxRetries: 0 },
  });
});
afterAll(() => emulator.stop());
beforeEach(() => {
  emulator.faults = [];
});

const link = (table: string, line: number) => ({
  runId: 'run-e',
  caseId: 'case-e',
  clusterResourceId: 'https://127.0.0.1:6443',
  evidenceLocation: 'file:///tmp/run-e',
  artifactPath: `sources/x/${table}.rows.ndjson.gz`,
  artifactSha256: 'b'.repeat(64),
  lineNumber: line,
});

/** Raw POST, for what the SDK would never send. */
function post(path: string, body: Buffer, headers: Record<string, string>): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(`${emulator.endpoint}${path}`, { method: 'POST', ca: emulator.caPem, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function uploadError(rule: string, stream: string, rows: Record<string, unknown>[]): Promise<{ status?: number; message: string }> {
  try {
    await client.upload(rule, stream, rows);
  } catch (error) {
    if (!isAggregateLogsUploadError(error)) throw error;
    const cause = error.errors[0]?.cause as { statusCode?: number; message: string };
    return { status: cause.statusCode, message: cause.message };
  }
  throw new Error('upload succeeded');
}

describe('Logs Ingestion emulator with the real LogsIngestionClient', () => {
  test('every registry table: a mapped row with every column is accepted (204) and lands in its table', async () => {
    for (const table of SOURCES.tables.tables) {
      const rows = [0, 1, 2].map((i) => mapRow(table, sampleRow(table, i), link(table.name, i + 1), { unknownColumns: 'error' }).row);
      await client.upload(emulator.immutableIdFor(table.name), streamName(table), rows);
      expect(emulator.accepted(table.name)).toEqual(rows);
      const last = emulator.requests.at(-1);
      expect(last).toMatchObject({ status: 204, table: table.name, rows: 3, contentEncoding: 'gzip' });
    }
    expect((emulator.credential as unknown as { scopesRequested: string[] }).scopesRequested).toContain('https://monitor.azure.com/.default');
  });

  test('every registry table: a column the DCR does not declare is a 400 naming it', async () => {
    for (const table of SOURCES.tables.tables) {
      const row = { ...mapRow(table, sampleRow(table, 0), link(table.name, 1)).row, notDeclared_s: 'x' };
      const before = emulator.acceptedCount(table.name);
      const error = await uploadError(emulator.immutableIdFor(table.name), streamName(table), [row]);
      expect(error.status).toBe(400);
      expect(error.message).toMatch(new RegExp(`column "notDeclared_s" is not declared in stream Custom-${table.name}`));
      expect(emulator.acceptedCount(table.name)).toBe(before);
    }
  });

  test('column types are checked against the stream declaration', async () => {
    const row = mapRow(SOURCES.tables.tables[0]!, sampleRow(SOURCES.tables.tables[0]!, 0), link('kubelogs_CL', 1)).row;
    const id = emulator.immutableIdFor('kubelogs_CL');
    expect(await uploadError(id, 'Custom-kubelogs_CL', [{ ...row, TimeGenerated: 'last tuesday' }])).toMatchObject({
      status: 400,
      message: expect.stringMatching(/"TimeGenerated" \(datetime\)/),
    });
    expect(await uploadError(id, 'Custom-kubelogs_CL', [{ ...row, previous: 'yes' }])).toMatchObject({ status: 400, message: expect.stringMatching(/"previous" \(boolean\)/) });
    expect(await uploadError(id, 'Custom-kubelogs_CL', [{ ...row, line_number: 1.5 }])).toMatchObject({ status: 400, message: expect.stringMatching(/"line_number" \(long\)/) });
    expect(await uploadError(id, 'Custom-kubelogs_CL', [{ ...row, message: { nested: true } }])).toMatchObject({
      status: 400,
      message: expect.stringMatching(/"message" \(string\)/),
    });
  });

  test('unknown DCR or stream: 404; no or wrong token: 401; wrong api-version: 400', async () => {
    const id = emulator.immutableIdFor('kubelogs_CL');
    expect((await uploadError('dcr-00000000000000000000000000000000', 'Custom-kubelogs_CL', [{}])).status).toBe(404);
    expect((await uploadError(id, 'Custom-nosuch_CL', [{}])).status).toBe(404);
    const body = gzipSync('[]');
    const path = `/dataCollectionRules/${id}/streams/Custom-kubelogs_CL`;
    expect((await post(`${path}?api-version=2023-01-01`, body, { 'content-encoding': 'gzip' })).status).toBe(401);
    expect((await post(`${path}?api-version=2023-01-01`, body, { 'content-encoding': 'gzip', authorization: 'Bearer wrong' })).status).toBe(401);
    const wrongVersion = await post(`${path}?api-version=2021-11-01-preview`, body, { 'content-encoding': 'gzip', authorization: `Bearer ${EMULATOR_TOKEN}` });
    expect(wrongVersion.status).toBe(400);
    expect(wrongVersion.body).toMatch(/2023-01-01/);
    expect((await post(`${path}?api-version=2023-01-01`, body, { 'content-encoding': 'gzip', authorization: `Bearer ${EMULATOR_TOKEN}` })).status).toBe(204);
    const wrongSdkVersion = new LogsIngestionClient(emulator.endpoint, emulator.credential, {
      ...emulator.clientOptions,
      apiVersion: '2022-01-01',
      retryOptions: { maxRetries: 0 },
    });
    await expect(wrongSdkVersion.upload(id, 'Custom-kubelogs_CL', [{}])).rejects.toThrow();
    expect(emulator.requests.at(-1)?.status).toBe(400);
  });

  test('1 MB per request, compressed and uncompressed: 413', async () => {
    const id = emulator.immutableIdFor('kubelogs_CL');
    const path = `/dataCollectionRules/${id}/streams/Custom-kubelogs_CL?api-version=2023-01-01`;
    const auth = { authorization: `Bearer ${EMULATOR_TOKEN}` };
    const rows = (n: number) => Buffer.from(JSON.stringify(Array.from({ length: n }, () => ({ message: 'x'.repeat(990) }))));
    const small = rows(900); // ~0.9 MB uncompressed, tiny compressed
    expect((await post(path, gzipSync(small), { ...auth, 'content-encoding': 'gzip' })).status).toBe(204);
    const large = rows(1100); // ~1.1 MB uncompressed, tiny compressed: refused after gunzip
    const zipped = gzipSync(large);
    expect(zipped.length).toBeLessThan(100_000);
    const r = await post(path, zipped, { ...auth, 'content-encoding': 'gzip' });
    expect(r.status).toBe(413);
    expect(r.body).toMatch(/uncompressed/);
    expect((await post(path, large, auth)).status).toBe(413);
    // The SDK sends a single record over 1 MB alone: 413, reported in failedLogs.
    expect((await uploadError(id, 'Custom-kubelogs_CL', [{ message: 'y'.repeat(1_100_000) }])).status).toBe(413);
  });

  test('faults fire as configured: 429 with and without Retry-After, 500, dropped connections', async () => {
    const id = emulator.immutableIdFor('kubelogs_CL');
    const row = mapRow(SOURCES.tables.tables[0]!, sampleRow(SOURCES.tables.tables[0]!, 0), link('kubelogs_CL', 1)).row;
    emulator.faults.push({ status: 429, times: 1 });
    const e429 = await uploadError(id, 'Custom-kubelogs_CL', [row]);
    expect(e429.status).toBe(429);
    emulator.faults.push({ status: 429, retryAfterSeconds: 7, times: 1 }, { status: 500, times: 1 }, { status: 'drop', times: 1 });
    expect((await uploadError(id, 'Custom-kubelogs_CL', [row])).status).toBe(429);
    expect(emulator.requests.at(-1)).toMatchObject({ status: 429, fault: '429' });
    expect((await uploadError(id, 'Custom-kubelogs_CL', [row])).status).toBe(500);
    const dropped = await uploadError(id, 'Custom-kubelogs_CL', [row]);
    expect(dropped.status).toBeUndefined();
    expect(emulator.requests.at(-1)).toMatchObject({ status: 'dropped', fault: 'drop' });
    // Faults scoped to another table do not fire here; exhausted faults stay exhausted.
    emulator.faults.push({ status: 500, table: 'kubeevents_CL' });
    const before = emulator.acceptedCount('kubelogs_CL');
    await client.upload(id, 'Custom-kubelogs_CL', [row]);
    expect(emulator.acceptedCount('kubelogs_CL')).toBe(before + 1);
  });
});
