import { ByteLineSplitter, LineSplitter, logTimestampAt, NO_TIMESTAMP, splitLogLine, UNDECIDED_TIMESTAMP } from '../../shared/util/lines.js';

describe('ByteLineSplitter', () => {
  test('splits like LineSplitter whatever the chunk boundaries, including inside a multi-byte character', () => {
    const text = 'first line\nsecond é line\n\nno newline at the end 漢字';
    const bytes = Buffer.from(text);
    for (let size = 1; size <= bytes.length; size++) {
      const strings = new LineSplitter();
      const ranges = new ByteLineSplitter();
      const want: string[] = [];
      const got: string[] = [];
      for (let i = 0; i < bytes.length; i += size) {
        const chunk = bytes.subarray(i, i + size);
        want.push(...strings.push(chunk));
        got.push(...ranges.push(chunk).texts());
      }
      const last = strings.end();
      if (last !== undefined) want.push(last);
      got.push(...ranges.end().texts());
      expect(got).toEqual(want);
      expect(got).toEqual(text.split('\n'));
    }
  });

  test('ranges point into the chunk; a line begun earlier is joined', () => {
    const splitter = new ByteLineSplitter();
    expect(splitter.push(Buffer.from('ab')).count).toBe(0);
    const batch = splitter.push(Buffer.from('c\nde\n'));
    expect(batch.count).toBe(2);
    expect(batch.bytesOf(0).toString('utf8', batch.startOf(0), batch.endOf(0))).toBe('abc');
    expect(batch.bytesOf(1)).toBe(batch.chunk);
    expect(batch.text(1)).toBe('de');
    expect(splitter.end().count).toBe(0);
  });

  test('a chunk of thousands of lines grows the batch', () => {
    const splitter = new ByteLineSplitter();
    const batch = splitter.push(Buffer.from('x\n'.repeat(5000)));
    expect(batch.count).toBe(5000);
    expect(batch.text(4999)).toBe('x');
  });
});

describe('logTimestampAt decides as splitLogLine does', () => {
  const cases = [
    '2026-11-22T10:00:00.123456789Z message',
    '2026-11-22T10:00:00Z message',
    '2026-11-22T10:00:00Z',
    '2026-11-22T10:00:00.Z bad fraction',
    '2026-11-22T10:00:00.1234567890Z ten digits',
    '2026-11-22T10:00:00+02:00 offset',
    '2026-11-22T10:00:00-05:30',
    '2026-13-01T00:00:00Z month 13',
    '2026-02-31T00:00:00Z February 31',
    '2026-01-01T24:00:00Z hour 24',
    '2026-01-01T23:59:60Z leap second',
    '2026-00-01T00:00:00Z',
    '2026-11-22t10:00:00Z lower-case t',
    '2026-11-22T10:00:00z lower-case z',
    'no timestamp here',
    '',
    ' leading space',
    '12345678901234567890 digits',
    `${'x'.repeat(40)} long first word`,
    '2026-11-22T10:00:00.123456789Zmessage-without-space',
  ];
  test.each(cases)('%j', (line) => {
    const bytes = Buffer.from(`pre${line}post`, 'utf8');
    const start = 3;
    const end = bytes.length - 4;
    const at = logTimestampAt(bytes, start, end);
    const expected = splitLogLine(line);
    if (at === UNDECIDED_TIMESTAMP) return; // splitLogLine decides: nothing to compare
    if (at === NO_TIMESTAMP) {
      expect(expected.timestamp).toBeUndefined();
      return;
    }
    expect(expected.timestamp).toBe(bytes.toString('utf8', start, at));
    expect(expected.message).toBe(bytes.toString('utf8', Math.min(at + 1, end), end));
  });

  test('offsets and edge values are left to splitLogLine; kubelet times are decided on bytes', () => {
    expect(logTimestampAt(Buffer.from('2026-11-22T10:00:00+02:00 x'), 0, 27)).toBe(UNDECIDED_TIMESTAMP);
    expect(logTimestampAt(Buffer.from('2026-01-01T24:00:00Z x'), 0, 22)).toBe(UNDECIDED_TIMESTAMP);
    expect(logTimestampAt(Buffer.from('2026-11-22T10:00:00.123456789Z x'), 0, 32)).toBe(30);
  });
});
