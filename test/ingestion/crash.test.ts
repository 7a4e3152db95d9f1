/**
 * kill -9 during `ingest`, then ingest again: acknowledgements are durable per accepted request,
 * so the second run re-sends at most what was in flight when the first died — counted at the
 * Logs Ingestion emulator as rows accepted twice (same RecordId), at most one request's worth per
 * request in flight — and nothing is missing. `ingest` runs as a real child process.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { EMULATOR_TOKEN, startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { sampleRows, writeRowsBundle } from '../../bench/rowsBundle.js';
import { runTypeScriptChild } from '../fixtures/child/run.js';

const INGEST_CHILD = fileURLToPath(new URL('../fixtures/child/ingestCli.ts', import.meta.url));
const ROWS = 12_000;
const CONCURRENCY = 3;

let emulator: LogsIngestionEmulator;
let dir: string;

beforeAll(async () => {
  emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
  dir = await mkdtemp(join(tmpdir(), 'aks-evidence-crash-'));
  await writeFile(join(dir, 'ca.pem'), emulator.caPem);
  await writeFile(join(dir, 'target.json'), JSON.stringify(emulator.targetDocument));
});
afterAll(async () => {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
});

/** Wait until `predicate` holds, checking on every turn of the event loop (the emulator answers in this process). */
async function until(predicate: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

test('killed mid-run and re-run: every row delivered; rows sent twice at most one request per request in flight', async () => {
  const b = await writeRowsBundle({ dir, runId: 'run-crash', tables: { kubelogs_CL: sampleRows('kubelogs_CL', ROWS) } });
  const env = { EMULATOR_CA_FILE: join(dir, 'ca.pem'), EMULATOR_TOKEN };
  const args = [join(dir, 'run-crash'), '--config', join(dir, 'target.json'), '--concurrency', String(CONCURRENCY), '--quiet'];
  const mine = (): number => emulator.accepted('kubelogs_CL').filter((r) => r['RunId'] === 'run-crash').length;

  const first = runTypeScriptChild(INGEST_CHILD, args, env, dir);
  // Kill right after the service accepted a request, somewhere past a third of the rows: the
  // moment its acknowledgement is being written is the worst one to die in.
  await until(() => mine() > ROWS / 3, 120_000);
  first.child.kill('SIGKILL');
  const died = await first.exited;
  expect(died.signal).toBe('SIGKILL');
  const beforeRerun = mine();
  expect(beforeRerun).toBeLessThan(ROWS);

  const second = runTypeScriptChild(INGEST_CHILD, args, env, dir);
  const done = await second.exited;
  expect([done.code, second.stderr()]).toEqual([0, '']);

  const accepted = emulator.accepted('kubelogs_CL').filter((r) => r['RunId'] === 'run-crash');
  const distinct = new Set(accepted.map((r) => String(r['RecordId'])));
  expect(distinct.size).toBe(ROWS);
  const requests = emulator.requests.filter((r) => r.table === 'kubelogs_CL' && r.status === 204);
  const perRequest = Math.max(...requests.map((r) => r.rows));
  const duplicates = accepted.length - distinct.size;
  expect(duplicates).toBeLessThanOrEqual(CONCURRENCY * perRequest);
  // What flushing every 10,000 acknowledgements used to cost: the whole third sent again.
  expect(duplicates).toBeLessThan(ROWS / 3);
  // The second run skipped what the first had written down as acknowledged.
  expect(second.stdout()).toMatch(/COMPLETE/);
  expect(b.manifest.runId).toBe('run-crash');
}, 180_000);
