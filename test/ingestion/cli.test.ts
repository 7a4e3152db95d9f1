import { Command } from 'commander';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import type { CliIo } from '../../shared/cli/io.js';
import { registerIngestCommand } from '../../shared/cli/ingest.js';
import type { IngestionReceipt } from '../../shared/ingestion/receipt.js';
import { InputError } from '../../shared/util/errors.js';
import { sampleRows, writeRowsBundle } from '../../bench/rowsBundle.js';
import { startLogsIngestionEmulator, type LogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';

let emulator: LogsIngestionEmulator;
let dir: string;

beforeAll(async () => {
  emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
  dir = await mkdtemp(join(tmpdir(), 'ingest-cli-'));
});
afterAll(async () => {
  await emulator.stop();
  await rm(dir, { recursive: true, force: true });
});

function capture(): { io: CliIo; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c: Buffer) => (out += c.toString()));
  stderr.on('data', (c: Buffer) => (err += c.toString()));
  return { io: { stdout, stderr, env: {}, cwd: dir }, out: () => out, err: () => err };
}

async function run(args: string[], io: CliIo): Promise<number> {
  let code = -1;
  const program = new Command().exitOverride();
  registerIngestCommand(program, io, (c) => (code = c), {
    credential: emulator.credential,
    clientOptions: { ...emulator.clientOptions, retryOptions: { retryDelayInMs: 1, maxRetryDelayInMs: 2 } },
  });
  await program.parseAsync(args, { from: 'user' });
  return code;
}

test('aks-evidence ingest: a bundle directory and a config file; partial, then complete on re-run', async () => {
  const b = await writeRowsBundle({ dir, runId: 'run-cli-1', tables: { kubelogs_CL: sampleRows('kubelogs_CL', 400), rbacbindings_CL: sampleRows('rbacbindings_CL', 30) } });
  await writeFile(join(dir, 'target.json'), JSON.stringify({ ...emulator.targetDocument, retry: { attempts: 0, baseDelayMs: 1 } }));
  emulator.faults = [{ status: 500, table: 'rbacbindings_CL' }];
  const first = capture();
  expect(await run(['ingest', 'run-cli-1', '--config', 'target.json', '--concurrency', '2'], first.io)).toBe(3);
  emulator.faults = [];
  expect(first.out()).toMatch(/ingestion attempt 1 of run run-cli-1 .*: PARTIAL/);
  expect(first.out()).toMatch(/kubelogs_CL\s+400\s+400\s+0\s+0/);
  expect(first.out()).toMatch(/rbacbindings_CL: 30 row\(s\) not delivered: HTTP 500 InjectedFault/);
  expect(first.out()).toContain(`receipt: ${b.store.location}/ingestion/receipt-0001.json`);
  expect(first.err()).toMatch(/ingesting run run-cli-1/);

  const second = capture();
  expect(await run(['ingest', join(dir, 'run-cli-1'), '--config', JSON.stringify(emulator.targetDocument), '--json'], second.io)).toBe(0);
  const receipt = JSON.parse(second.out()) as IngestionReceipt;
  expect(receipt).toMatchObject({ attempt: 2, status: 'complete', rowsAcknowledged: 30, rowsSkipped: 400 });
  expect(second.err()).toBe('');
  expect(emulator.accepted('rbacbindings_CL').filter((r) => r['RunId'] === 'run-cli-1')).toHaveLength(30);
});

test('bad flags and config are InputErrors naming the flag', async () => {
  await writeRowsBundle({ dir, runId: 'run-cli-2', tables: { cronjobs_CL: sampleRows('cronjobs_CL', 3) } });
  const c = capture();
  await expect(run(['ingest', 'run-cli-2', '--config', '{"endpoint":"http://x","tables":{}}'], c.io)).rejects.toThrow(/--config endpoint/);
  await expect(run(['ingest', 'run-cli-2', '--config', JSON.stringify(emulator.targetDocument), '--concurrency', '0'], c.io)).rejects.toThrow(InputError);
  await expect(run(['ingest', 'run-cli-2', '--config', JSON.stringify(emulator.targetDocument), '--tables', 'nosuch_CL'], c.io)).rejects.toThrow(/unknown table\(s\) nosuch_CL/);
});
