import { LogsIngestionClient } from '@azure/monitor-ingestion';
import { mapRow } from '../../shared/ingestion/rowMapping.js';
import { backoffMs, classifyFailure, RequestPacker, sendRequest, type UploadRequest } from '../../shared/ingestion/upload.js';
import { sampleRow } from '../../bench/rowsBundle.js';
import { startLogsIngestionEmulator } from '../../shared/simulator/logsIngestion.js';
import { buildDcrDefinitions } from '../../shared/ingestion/dcr.js';
import { SOURCES } from '../../shared/sources/registry.js';

const kubelogs = SOURCES.tables.get('kubelogs_CL');
const wireRow = (i: number) =>
  mapRow(kubelogs, sampleRow(kubelogs, i), {
    runId: 'run-u',
    caseId: 'case-u',
    clusterResourceId: 'c',
    evidenceLocation: 'file:///e',
    artifactPath: 'a.rows.ndjson.gz',
    artifactSha256: 'c'.repeat(64),
    lineNumber: i + 1,
  });

describe('RequestPacker', () => {
  test('requests serialize to exactly the bytes counted, never above the limit, rows in order', () => {
    const packer = new RequestPacker(50_000);
    const requests: UploadRequest[] = [];
    for (let i = 0; i < 2000; i++) {
      const m = wireRow(i);
      const full = packer.add(m.row, m.bytes);
      if (full) requests.push(full);
    }
    const last = packer.flush();
    if (last) requests.push(last);
    expect(packer.flush()).toBeUndefined();
    expect(requests.length).toBeGreaterThan(10);
    for (const r of requests) {
      expect(Buffer.byteLength(JSON.stringify(r.rows))).toBe(r.bytes);
      expect(r.bytes).toBeLessThanOrEqual(50_000);
    }
    // Adding the next row would have crossed the limit: requests are filled.
    for (const [k, r] of requests.slice(0, -1).entries()) {
      const next = requests[k + 1]!.rows[0]!;
      expect(r.bytes + 1 + Buffer.byteLength(JSON.stringify(next))).toBeGreaterThan(50_000);
    }
    expect(requests.flatMap((r) => r.rows.map((x) => x['RecordId']))).toEqual(Array.from({ length: 2000 }, (_, i) => wireRow(i).recordId));
    expect(() => new RequestPacker(1000).add({}, 5000)).toThrow(RangeError);
  });
});

describe('classifyFailure and backoff', () => {
  const headers = (h: Record<string, string>) => ({ get: (n: string) => h[n.toLowerCase()] });
  test('statuses and network errors', () => {
    expect(classifyFailure({ name: 'RestError', statusCode: 429, message: 'Too many', response: { headers: headers({}) } })).toMatchObject({
      reason: 'http',
      status: 429,
      retryable: true,
    });
    expect(classifyFailure({ statusCode: 429, message: 'x', response: { headers: headers({ 'retry-after': '7' }) } }).retryAfterMs).toBe(7000);
    expect(classifyFailure({ statusCode: 503, message: 'x', response: { headers: headers({ 'retry-after-ms': '250' }) } }).retryAfterMs).toBe(250);
    expect(classifyFailure({ statusCode: 500, message: 'x' }).retryable).toBe(true);
    expect(classifyFailure({ statusCode: 400, message: 'bad column' })).toMatchObject({ retryable: false, status: 400 });
    expect(classifyFailure({ statusCode: 403, message: 'forbidden' }).retryable).toBe(false);
    expect(classifyFailure({ statusCode: 413, message: 'too large' }).reason).toBe('too-large');
    expect(classifyFailure({ name: 'RestError', code: 'ECONNRESET', message: 'socket hang up' })).toMatchObject({ reason: 'network', retryable: true });
    expect(classifyFailure({ name: 'AbortError', message: 'aborted' })).toMatchObject({ reason: 'aborted', retryable: false });
    expect(classifyFailure({ message: `line1\n   line2 ${'x'.repeat(1000)}` }).message.length).toBeLessThan(310);
  });

  test('exponential with jitter, at least Retry-After, capped', () => {
    const budget = { attempts: 5, baseDelayMs: 100, maxDelayMs: 1000 };
    expect(backoffMs(1, budget, undefined, () => 0)).toBe(50);
    expect(backoffMs(1, budget, undefined, () => 0.999)).toBeCloseTo(100, 0);
    expect(backoffMs(3, budget, undefined, () => 0.999)).toBeCloseTo(400, 0);
    expect(backoffMs(10, budget, undefined, () => 0.5)).toBe(1000);
    expect(backoffMs(1, budget, 700, () => 0)).toBe(700);
    expect(backoffMs(1, budget, 7000, () => 0)).toBe(1000);
  });
});

describe('sendRequest against the emulator', () => {
  test('a service limit lower than assumed: 413 splits the request until it fits, every row acknowledged once', async () => {
    const emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables), maxRequestBytes: 120_000 });
    try {
      const client = new LogsIngestionClient(emulator.endpoint, emulator.credential, { ...emulator.clientOptions, retryOptions: { maxRetries: 0 } });
      const packer = new RequestPacker(500_000);
      let request: UploadRequest | undefined;
      for (let i = 0; i < 1000 && !request; i++) {
        const m = wireRow(i);
        request = packer.add(m.row, m.bytes);
      }
      expect(request!.bytes).toBeGreaterThan(400_000);
      const outcome = await sendRequest(request!, {
        client,
        target: { dcrImmutableId: emulator.immutableIdFor('kubelogs_CL'), streamName: 'Custom-kubelogs_CL' },
        budget: { attempts: 0, baseDelayMs: 1, maxDelayMs: 2 },
      });
      expect(outcome.failed).toEqual([]);
      expect(outcome.acknowledged.length).toBe(request!.rows.length);
      expect(new Set(outcome.acknowledged).size).toBe(request!.rows.length);
      expect(emulator.acceptedCount('kubelogs_CL')).toBe(request!.rows.length);
      expect(emulator.requests.filter((r) => r.status === 413).length).toBeGreaterThanOrEqual(1);
      expect(outcome.requests).toBe(emulator.requests.length);
    } finally {
      await emulator.stop();
    }
  });

  test('a permanent error (400) is recorded with its message, not retried', async () => {
    const emulator = await startLogsIngestionEmulator({ dcrs: buildDcrDefinitions(SOURCES.tables.tables) });
    try {
      const client = new LogsIngestionClient(emulator.endpoint, emulator.credential, { ...emulator.clientOptions, retryOptions: { maxRetries: 0 } });
      const rows = [wireRow(1).row, { ...wireRow(2).row, stray: 1 }];
      const outcome = await sendRequest(
        { rows, bytes: Buffer.byteLength(JSON.stringify(rows)) },
        { client, target: { dcrImmutableId: emulator.immutableIdFor('kubelogs_CL'), streamName: 'Custom-kubelogs_CL' }, budget: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } },
      );
      expect(outcome.acknowledged).toEqual([]);
      expect(outcome.failed).toEqual([expect.objectContaining({ status: 400, retryable: false, recordIds: rows.map((r) => r['RecordId']) })]);
      expect(outcome.failed[0]!.message).toMatch(/"stray"/);
      expect(emulator.requests.length).toBe(1);
    } finally {
      await emulator.stop();
    }
  });
});
