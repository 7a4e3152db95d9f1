import { randomBytes } from 'node:crypto';
import { logRowColumns, logRowSerializer, podColumns } from '../../shared/sources/containerlogs/source.js';
import { LogRowEncoder, SlabPool } from '../../shared/sources/containerlogs/rowBytes.js';
import { ByteLineSplitter } from '../../shared/util/lines.js';

const pod = podColumns({
  metadata: { namespace: 'prod', name: 'web-1', uid: 'u-1', labels: { app: 'web', 'quote"d': 'x\\y' }, annotations: { note: 'ünïcode' } },
  spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'repo/app:1' }] },
});
const container = { name: 'app', type: 'container' as const, image: 'repo/app:1' };
const collectedAt = '2026-11-22T10:00:00.000Z';

/** Every line through the byte encoder, chunked as given; the rows as text. */
function encode(lines: Buffer, chunkSize: number, pool = new SlabPool(4096)): { text: string; rows: number; released: number; items: number } {
  const encoder = new LogRowEncoder(logRowColumns(pod, container, true), logRowSerializer(pod, container, true), pool);
  const splitter = new ByteLineSplitter();
  const parts: Buffer[] = [];
  let rows = 0;
  let lineNumber = 1;
  let released = 0;
  let items = 0;
  const take = (batch: ReturnType<ByteLineSplitter['push']>): void => {
    for (const out of encoder.encode(batch, lineNumber, collectedAt)) {
      parts.push(Buffer.from(out.bytes));
      rows += out.rows;
      items++;
      out.release();
      out.release();
      released++;
    }
    lineNumber += batch.count;
  };
  for (let i = 0; i < lines.length; i += chunkSize) take(splitter.push(lines.subarray(i, i + chunkSize)));
  take(splitter.end());
  return { text: Buffer.concat(parts).toString('utf8'), rows, released, items };
}

/** The reference: logRowSerializer over the decoded lines. */
function reference(lines: Buffer): string {
  const serialize = logRowSerializer(pod, container, true);
  const text = lines.toString('utf8');
  const list = text.split('\n');
  if (list[list.length - 1] === '') list.pop();
  return list.map((line, i) => `${serialize(i + 1, line, collectedAt)}\n`).join('');
}

describe('LogRowEncoder: kubelogs_CL rows from bytes', () => {
  const kinds = [
    '2026-11-22T10:00:00.123456789Z plain message',
    '2026-11-22T10:00:00Z',
    'no timestamp at all',
    '',
    '2026-11-22T10:00:00+02:00 a numeric offset (the string path)',
    '2026-01-01T24:00:00Z hour 24 (the string path)',
    '2026-13-01T00:00:00Z not a date',
    '2026-11-22T10:00:00.5Z say "hi" \\ back\tslash\r',
    '2026-11-22T10:00:00.5Z \u0001\u001f control',
    '2026-11-22T10:00:00.5Z é 漢字 🚀 \u2028',
    `2026-11-22T10:00:00.5Z ${'long '.repeat(2000)}`,
  ];

  test('byte for byte what logRowSerializer writes, for every kind of line and every chunk size', () => {
    const lines = Buffer.from(`${kinds.join('\n')}\n`);
    const want = reference(lines);
    for (const size of [1, 7, 64, 1000, lines.length]) {
      const got = encode(lines, size);
      expect(got.text).toBe(want);
      expect(got.rows).toBe(kinds.length);
    }
  });

  test('invalid UTF-8 goes the string path (replacement characters as Buffer#toString makes them)', () => {
    const lines = Buffer.concat([Buffer.from('2026-11-22T10:00:00Z bad '), Buffer.from([0xc3, 0x28, 0xff, 0xe2, 0x82]), Buffer.from(' end\nnext\n')]);
    expect(encode(lines, 5).text).toBe(reference(lines));
  });

  test('random lines of random bytes', () => {
    for (let n = 0; n < 50; n++) {
      const parts: Buffer[] = [];
      for (let i = 0; i < 20; i++) {
        parts.push(
          Buffer.from(i % 2 ? '2026-11-22T10:00:00.1Z ' : ''),
          Buffer.from(randomBytes(Math.floor(Math.random() * 60)).map((b) => (b === 0x0a ? 0x20 : b))),
          Buffer.from('\n'),
        );
      }
      const lines = Buffer.concat(parts);
      expect(encode(lines, 33).text).toBe(reference(lines));
    }
  });

  test('a last line without a newline is a row too; every item released once', () => {
    const pool = new SlabPool(4096);
    const lines = Buffer.from(Array.from({ length: 200 }, (_, i) => `2026-11-22T10:00:00Z line ${i}`).join('\n'));
    const got = encode(lines, 500, pool);
    expect(got.text).toBe(reference(Buffer.concat([lines, Buffer.from('\n')])));
    expect(got.rows).toBe(200);
    expect(got.items).toBeGreaterThan(1);
    expect(got.released).toBe(got.items);
  });

  test('streams share the slabs, packed; a slab is reused once every range of it is released', () => {
    const pool = new SlabPool(64 * 1024);
    const a = new LogRowEncoder(logRowColumns(pod, container, false), logRowSerializer(pod, container, false), pool);
    const b = new LogRowEncoder(logRowColumns(pod, container, true), logRowSerializer(pod, container, true), pool);
    const batch = (text: string) => new ByteLineSplitter().push(Buffer.from(text));
    const [first] = a.encode(batch('2026-11-22T10:00:00Z from a\n'), 1, collectedAt);
    const [second] = b.encode(batch('2026-11-22T10:00:00Z from b\n'), 1, collectedAt);
    expect(first!.bytes.buffer).toBe(second!.bytes.buffer);
    expect(second!.bytes.byteOffset).toBe(first!.bytes.byteOffset + first!.bytes.length);
    // Fill the slab until the pool moves on, then release everything: the first slab comes back.
    const slab = first!.bytes.buffer;
    const held = [first!, second!];
    while (held[held.length - 1]!.bytes.buffer === slab) held.push(...a.encode(batch(`2026-11-22T10:00:00Z ${'x'.repeat(500)}\n`), 1, collectedAt));
    for (const h of held) h.release();
    const fresh: ArrayBufferLike[] = [];
    for (let i = 0; i < 400; i++) {
      for (const r of b.encode(batch(`2026-11-22T10:00:00Z ${'y'.repeat(500)}\n`), 1, collectedAt)) {
        fresh.push(r.bytes.buffer);
        r.release();
      }
    }
    // Released slabs are used again: never more slabs than were ever in flight at once.
    expect(new Set(fresh).size).toBeLessThanOrEqual(3);
    expect(pool.allocated).toBeLessThanOrEqual(3);
  });
});
