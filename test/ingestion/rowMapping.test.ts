import { createHash } from 'node:crypto';
import { mapRow, recordIdFor, toWireDateTime, truncateUtf8, truncationMarker, UnknownColumnError, type RowLinkContext } from '../../shared/ingestion/rowMapping.js';
import { SOURCES } from '../../shared/sources/registry.js';
import { streamColumns } from '../../shared/tables/table.js';
import { sampleRow } from '../../bench/rowsBundle.js';

const link: RowLinkContext = {
  runId: 'run-1',
  caseId: 'case-1',
  clusterResourceId: '/subscriptions/s/resourceGroups/g/providers/Microsoft.ContainerService/managedClusters/c',
  evidenceLocation: 'file:///evidence/run-1/',
  artifactPath: 'sources/containerlogs/kubelogs_CL-1.rows.ndjson.gz',
  artifactSha256: 'a'.repeat(64),
  lineNumber: 7,
  fallbackTime: '2026-03-14T09:30:00.000Z',
};
const kubelogs = SOURCES.tables.get('kubelogs_CL');

describe('mapRow', () => {
  test('link columns: EventTime = TimeGenerated, stable RecordId, EvidencePath = location/path', () => {
    const m = mapRow(kubelogs, { TimeGenerated: '2026-03-14T09:26:53.123456789Z', message: 'hello', pod_name: 'web-1' }, link);
    const expectedId = createHash('sha256').update('run-1\nsources/containerlogs/kubelogs_CL-1.rows.ndjson.gz\n7').digest('hex').slice(0, 32);
    expect(m.recordId).toBe(expectedId);
    expect(recordIdFor('run-1', link.artifactPath, 7)).toBe(expectedId);
    expect(recordIdFor('run-1', link.artifactPath, 8)).not.toBe(expectedId);
    expect(m.row).toEqual({
      TimeGenerated: '2026-03-14T09:26:53.1234567Z',
      message: 'hello',
      pod_name: 'web-1',
      EventTime: '2026-03-14T09:26:53.1234567Z',
      RunId: 'run-1',
      CaseId: 'case-1',
      ClusterResourceId: link.clusterResourceId,
      EvidencePath: 'file:///evidence/run-1/sources/containerlogs/kubelogs_CL-1.rows.ndjson.gz',
      EvidenceSha256: 'a'.repeat(64),
      RecordId: expectedId,
      TruncatedColumns: '',
      CollectionPhase: 'initial',
    });
    expect(m.bytes).toBe(Buffer.byteLength(JSON.stringify(m.row)));
  });

  test('types: datetime to UTC RFC 3339 (sub-ms kept), numbers, booleans, objects stringified for string columns', () => {
    const m = mapRow(
      kubelogs,
      {
        TimeGenerated: '2026-03-14T11:26:53.5+02:00',
        labels: { app: 'web' },
        containerimages: ['nginx:1'],
        previous: 'true',
        timestamp_present: false,
        line_number: '42',
        message: 12,
      },
      link,
    );
    expect(m.row['TimeGenerated']).toBe('2026-03-14T09:26:53.500Z');
    expect(m.row['labels']).toBe('{"app":"web"}');
    expect(m.row['containerimages']).toBe('["nginx:1"]');
    expect(m.row['previous']).toBe(true);
    expect(m.row['timestamp_present']).toBe(false);
    expect(m.row['line_number']).toBe(42);
    expect(m.row['message']).toBe('12');
    expect(m.invalidColumns).toEqual([]);

    const events = SOURCES.tables.get('kubeevents_CL');
    const bad = mapRow(events, { TimeGenerated: 'yesterday-ish', count: 3.5, first_timestamp: new Date('2026-03-14T00:00:00Z') }, link);
    expect(bad.invalidColumns.sort()).toEqual(['TimeGenerated', 'count']);
    expect(bad.row['TimeGenerated']).toBe('2026-03-14T09:30:00.000Z'); // collection time stands in
    expect(bad.row['EventTime']).toBeUndefined();
    expect(bad.row['first_timestamp']).toBe('2026-03-14T00:00:00.000Z');
    expect('count' in bad.row).toBe(false);
    expect(toWireDateTime(1_700_000_000_000)).toBe('2023-11-14T22:13:20.000Z');
    expect(toWireDateTime('not a time')).toBeUndefined();
  });

  test('unknown columns: an error in strict mode (tests), dropped and reported otherwise', () => {
    const row = { TimeGenerated: '2026-03-14T09:26:53Z', message: 'x', podName: 'drifted' };
    expect(() => mapRow(kubelogs, row, link, { unknownColumns: 'error' })).toThrow(UnknownColumnError);
    expect(() => mapRow(kubelogs, row, link, { unknownColumns: 'error' })).toThrow(/kubelogs_CL has column "podName".*tableRegistry/);
    const m = mapRow(kubelogs, row, link);
    expect(m.droppedColumns).toEqual(['podName']);
    expect('podName' in m.row).toBe(false);
    // A source must not set link columns itself.
    expect(() => mapRow(kubelogs, { RunId: 'forged' }, link, { unknownColumns: 'error' })).toThrow(/"RunId"/);
    expect(mapRow(kubelogs, { RunId: 'forged' }, link).row['RunId']).toBe('run-1');
  });

  test('a 3 MB log line is truncated to 32 KB with the marker, the column named in TruncatedColumns', () => {
    const message = 'A'.repeat(3 * 1024 * 1024);
    const m = mapRow(kubelogs, { TimeGenerated: '2026-03-14T09:26:53Z', message }, link);
    const sent = m.row['message'] as string;
    expect(Buffer.byteLength(sent)).toBeLessThanOrEqual(32 * 1024);
    const removed = message.length - sent.indexOf('…');
    expect(sent.endsWith(truncationMarker(removed))).toBe(true);
    expect(sent).toMatch(/…\[truncated \d+ bytes; full value in evidence artifact\]$/);
    expect(m.truncatedColumns).toEqual(['message']);
    expect(m.row['TruncatedColumns']).toBe('message');
    expect(m.bytes).toBeLessThan(40 * 1024);
  });

  test('truncation never splits a UTF-8 character', () => {
    const value = '€'.repeat(1000); // 3 bytes each
    for (const max of [100, 101, 102, 103, 500]) {
      const t = truncateUtf8(value, max);
      expect(Buffer.byteLength(t.value)).toBeLessThanOrEqual(max);
      expect(t.value).not.toContain('\uFFFD');
      expect(t.removedBytes % 3).toBe(0);
    }
    expect(truncateUtf8('short', 10)).toEqual({ value: 'short', removedBytes: 0 });
  });

  test('a row still too large after field truncation is shrunk under maxRowBytes', () => {
    const many = SOURCES.tables.get('suspiciouspods_CL');
    const big = 'x'.repeat(100_000);
    const source = Object.fromEntries(many.columns.filter((c) => c.type === 'string').map((c) => [c.name, big]));
    const m = mapRow(many, { ...source, TimeGenerated: '2026-03-14T09:26:53Z' }, link, { maxFieldBytes: 64 * 1024, maxRowBytes: 200_000 });
    expect(m.bytes).toBeLessThanOrEqual(200_000);
    expect(m.truncatedColumns.length).toBeGreaterThan(3);
    expect(m.row['TruncatedColumns']).toBe(m.truncatedColumns.join(','));
    // Control characters expand 6x when JSON-escaped: the limit is on the serialized row.
    const escaped = mapRow(kubelogs, { message: '\u0001'.repeat(30_000) }, link, { maxRowBytes: 50_000 });
    expect(escaped.bytes).toBeLessThanOrEqual(50_000);
  });

  test('every registry table: a row with every column maps to exactly the stream columns', () => {
    for (const table of SOURCES.tables.tables) {
      const m = mapRow(table, sampleRow(table, 3), link, { unknownColumns: 'error' });
      expect(Object.keys(m.row).sort()).toEqual(
        streamColumns(table)
          .map((c) => c.name)
          .sort(),
      );
      expect(m.invalidColumns).toEqual([]);
    }
  });
});
