/**
 * Ingestion throughput: a sealed bundle of container-log rows (real local evidence store,
 * gzip NDJSON) ingested through the real LogsIngestionClient into the HTTPS Logs Ingestion
 * emulator, which gunzips and validates every record against the DCR. Figures only.
 *
 * The emulator runs in the same process (one event loop for client and server), so the
 * figures are a floor for the client side, not a prediction of the service's speed.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseIngestionTarget } from '../shared/ingestion/config.js';
import { ingestBundle } from '../shared/ingestion/ingest.js';
import { MAX_REQUEST_BYTES } from '../shared/ingestion/upload.js';
import { writeRowsBundle, type SourceRow } from './rowsBundle.js';
import { startLogsIngestionEmulator } from '../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../shared/ingestion/dcr.js';
import { SOURCES } from '../shared/sources/registry.js';

export interface BenchIngestionOptions {
  /** Rows to ingest (kubelogs_CL). */
  rows: number;
  /** Length of each log line (the message column) in bytes; the wire row adds the other columns and the link columns. */
  rowBytes: number;
  /** Requests in flight. Default 4 (the ingestion default). */
  concurrency?: number;
}

export interface BenchIngestionResult {
  rows: number;
  /** Uncompressed JSON request bytes sent (what the 1 MB limit counts). */
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
  /** Uncompressed MB (10^6 bytes) per second. */
  mbPerSecond: number;
  /** HTTP requests the emulator received. */
  requests: number;
  /**
   * ceil(uncompressed bytes / 1,000,000): the fewest requests the limit allows. The limit
   * applies to compressed and uncompressed bodies alike, and JSON is always larger
   * uncompressed, so the uncompressed size is the binding one.
   */
  minimumRequests: number;
  /** gzip bytes on the wire, and what a compressed-only limit would have allowed (for comparison). */
  compressedBytes: number;
  minimumRequestsIfCompressedOnly: number;
  /** Average wire row size (uncompressed JSON). */
  wireRowBytes: number;
  concurrency: number;
}

function* logRows(count: number, rowBytes: number): Generator<SourceRow> {
  const base = Date.parse('2026-03-14T09:00:00.000Z');
  const filler = 'abcdefghijklmnopqrstuvwxyz0123456789 '.repeat(Math.ceil(rowBytes / 37) + 1);
  for (let i = 0; i < count; i++) {
    const prefix = `${i} GET /api/orders/${i % 9973} 200 `;
    yield {
      TimeGenerated: new Date(base + i).toISOString(),
      message: (prefix + filler).slice(0, Math.max(prefix.length, rowBytes)),
      container_name: 'web',
      namespace: `team-${i % 20}`,
      pod_name: `web-${i % 500}-5d9c8b7f6-x2x9q`,
      container_type: 'container',
      previous: false,
      timestamp_present: true,
      line_number: i + 1,
      node_name: `aks-nodepool1-1234567-vmss00000${i % 8}`,
      image: 'registry.example.com/web:1.4.2',
    };
  }
}

export async function benchIngestion(options: BenchIngestionOptions): Promise<BenchIngestionResult> {
  const concurrency = options.concurrency ?? 4;
  const dir = await mkdtemp(join(tmpdir(), 'aks-evidence-bench-ingest-'));
  const emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables), keepRows: false });
  try {
    const bundle = await writeRowsBundle({ dir, runId: 'run-bench-ingestion', tables: { kubelogs_CL: logRows(options.rows, options.rowBytes) } });
    const started = process.hrtime.bigint();
    const receipt = await ingestBundle({
      store: bundle.store,
      manifest: bundle.manifest,
      config: parseIngestionTarget(emulator.targetDocument),
      tables: SOURCES.tables,
      credential: emulator.credential,
      clientOptions: emulator.clientOptions,
      concurrency,
    });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    if (receipt.status !== 'complete' || receipt.rowsAcknowledged !== options.rows || emulator.acceptedCount('kubelogs_CL') !== options.rows) {
      throw new Error(
        `ingestion bench: ${receipt.rowsAcknowledged} of ${options.rows} rows acknowledged (status ${receipt.status}); emulator accepted ${emulator.acceptedCount('kubelogs_CL')}`,
      );
    }
    const bytes = receipt.bytesSent;
    const compressedBytes = emulator.requests.reduce((n, r) => n + r.bytes, 0);
    return {
      rows: options.rows,
      bytes,
      seconds,
      rowsPerSecond: options.rows / seconds,
      mbPerSecond: bytes / 1e6 / seconds,
      requests: emulator.requests.length,
      minimumRequests: Math.ceil(bytes / MAX_REQUEST_BYTES),
      compressedBytes,
      minimumRequestsIfCompressedOnly: Math.ceil(compressedBytes / MAX_REQUEST_BYTES),
      wireRowBytes: Math.round(bytes / Math.max(1, options.rows)),
      concurrency,
    };
  } finally {
    await emulator.stop();
    await rm(dir, { recursive: true, force: true });
  }
}
