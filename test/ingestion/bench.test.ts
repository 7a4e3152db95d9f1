import { benchIngestion } from '../../bench/ingestion.js';

test('benchIngestion ingests every row and reports requests against the minimum the 1 MB limit allows', async () => {
  const r = await benchIngestion({ rows: 4000, rowBytes: 300 });
  expect(r.rows).toBe(4000);
  expect(r.wireRowBytes).toBeGreaterThan(300); // the log line plus the other and link columns
  expect(r.minimumRequests).toBe(Math.ceil(r.bytes / 1_000_000));
  expect(r.requests).toBeGreaterThanOrEqual(r.minimumRequests);
  expect(r.requests).toBeLessThanOrEqual(r.minimumRequests + 1);
  expect(r.compressedBytes).toBeLessThan(r.bytes);
  expect(r.rowsPerSecond).toBeGreaterThan(0);
});
