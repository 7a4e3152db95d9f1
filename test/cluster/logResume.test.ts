/**
 * The resume point of a delivered log and the filter that drops what a resumed stream repeats:
 * exact matching in order, lines sharing one timestamp, a server that starts later or earlier
 * than asked, a second with more lines than the remembered tail holds.
 */
import { BoundaryFilter, DeliveredTail, timeKey } from '../../shared/cluster/logResume.js';
import { ByteLineSplitter } from '../../shared/util/lines.js';

const at = (second: number, fraction: string, text: string): string => `2026-03-01T10:00:${String(second).padStart(2, '0')}${fraction}Z ${text}`;

test('timeKey orders kubelet timestamps whatever their fraction digits', () => {
  const keys = ['2026-03-01T10:00:00Z', '2026-03-01T10:00:00.000000001Z', '2026-03-01T10:00:00.5Z', '2026-03-01T10:00:00.123456789Z'].map(timeKey);
  expect([...keys].sort()).toEqual([keys[0], keys[1], keys[3], keys[2]]);
});

test('the resume point: the last timestamped line, and every delivered line since the start of its second', () => {
  const tail = new DeliveredTail();
  expect(tail.resumePoint()).toBeUndefined();
  tail.note([at(1, '.1', 'a'), at(1, '.9', 'b')]);
  tail.note([at(2, '.0', 'c'), 'continued without a timestamp', at(3, '.2', 'd')]);
  tail.note([at(3, '.2', 'e'), 'more']);
  expect(tail.resumePoint()).toEqual({ sinceTime: '2026-03-01T10:00:03.2Z', delivered: [at(3, '.2', 'd'), at(3, '.2', 'e'), 'more'] });
});

test('byte batches (the container-log path) give the same resume point as strings, lines split across chunks included', () => {
  const text = [
    at(1, '.1', 'a'),
    at(1, '.9', 'b'),
    at(2, '.0', 'c'),
    'continued without a timestamp',
    at(3, '.2', 'd'),
    at(3, '.2', 'é, split mid-character'),
    at(3, '.4', 'more'),
    '',
  ].join('\n');
  const bytes = Buffer.from(text);
  for (const cut of [1, 7, 33, 60, 120, bytes.indexOf(0xc3) + 1]) {
    const strings = new DeliveredTail();
    const fromBytes = new DeliveredTail();
    const splitter = new ByteLineSplitter();
    for (const chunk of [bytes.subarray(0, cut), bytes.subarray(cut)]) {
      const batch = splitter.push(chunk);
      strings.note(batch.texts());
      fromBytes.noteBytes(batch);
    }
    expect(fromBytes.resumePoint()).toEqual(strings.resumePoint());
    expect(fromBytes.resumePoint()?.delivered).toEqual([at(3, '.2', 'd'), at(3, '.2', 'é, split mid-character'), at(3, '.4', 'more')]);
  }
});

test('BoundaryFilter.keep names the kept lines by index, and LineBatch.select keeps exactly their bytes', () => {
  const f = new BoundaryFilter({ sinceTime: '2026-03-01T10:00:05.5Z', delivered: [at(5, '.1', 'x'), at(5, '.5', 'y')] });
  const batch = new ByteLineSplitter().push(Buffer.from([at(5, '.1', 'x'), 'untimed new line', at(5, '.5', 'y'), at(6, '.0', 'next'), ''].join('\n')));
  const kept = f.keep(batch.texts());
  expect(kept).toEqual([1, 3]);
  expect(batch.select(kept).texts()).toEqual(['untimed new line', at(6, '.0', 'next')]);
});

test('a line never timestamped gives no resume point', () => {
  const tail = new DeliveredTail();
  tail.note(['plain', 'lines']);
  expect(tail.resumePoint()).toBeUndefined();
});

describe('BoundaryFilter', () => {
  const delivered = [at(5, '.1', 'x'), at(5, '.5', 'same'), at(5, '.5', 'same again')];
  const point = { sinceTime: '2026-03-01T10:00:05.5Z', delivered };

  test('the resumed stream from the start of the second: the delivered lines dropped, then everything passes', () => {
    const f = new BoundaryFilter(point);
    expect(f.filter([at(5, '.1', 'x'), at(5, '.5', 'same')])).toEqual([]);
    expect(f.filter([at(5, '.5', 'same again'), at(5, '.5', 'third at the same time'), at(6, '.0', 'next')])).toEqual([at(5, '.5', 'third at the same time'), at(6, '.0', 'next')]);
    expect(f.matched).toBe(true);
    expect(f.dropped).toBe(3);
    // Once matched, a line equal to a delivered one is new (it is written again).
    expect(f.filter([at(5, '.1', 'x')])).toEqual([at(5, '.1', 'x')]);
  });

  test('a server that starts at the exact time (fraction kept): the lines before it are skipped over', () => {
    const f = new BoundaryFilter(point);
    expect(f.filter([at(5, '.5', 'same'), at(5, '.5', 'same again'), at(5, '.7', 'new')])).toEqual([at(5, '.7', 'new')]);
    expect(f.dropped).toBe(2);
  });

  test('a server that ignores sinceTime: everything older than the remembered tail is dropped by time', () => {
    const f = new BoundaryFilter(point);
    expect(f.filter([at(0, '', 'old'), 'old continuation', at(4, '.9', 'older'), ...delivered, at(7, '', 'new')])).toEqual(['old continuation', at(7, '', 'new')]);
  });

  test('a line inside the remembered second that was not delivered is kept, and matching goes on', () => {
    const f = new BoundaryFilter(point);
    expect(f.filter([at(5, '.1', 'x'), at(5, '.3', 'never delivered'), at(5, '.5', 'same'), at(5, '.5', 'same again')])).toEqual([at(5, '.3', 'never delivered')]);
    expect(f.matched).toBe(true);
  });

  test('a second with more lines than the tail keeps: the older ones are recognized by time', () => {
    const tail = new DeliveredTail(40);
    const lines = Array.from({ length: 20 }, (_, i) => at(9, `.${String(i).padStart(2, '0')}`, `line ${i}`));
    for (const line of lines) tail.note([line]);
    const p = tail.resumePoint()!;
    expect(p.delivered.length).toBeLessThan(20);
    const f = new BoundaryFilter(p);
    expect(f.filter([...lines, at(10, '', 'after')])).toEqual([at(10, '', 'after')]);
  });
});
