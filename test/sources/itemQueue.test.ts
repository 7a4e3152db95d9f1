import { ItemQueue, QueueStoppedError } from '../../shared/sources/common/itemQueue.js';
import { TaskPool } from '../../shared/sources/common/taskPool.js';

describe('ItemQueue', () => {
  test('producers wait for room; the consumer frees it', async () => {
    const q = new ItemQueue<number>(2);
    q.put(1);
    expect(q.full).toBe(false);
    q.put(2);
    expect(q.full).toBe(true);
    let roomed = false;
    const room = q.room().then(() => (roomed = true));
    await new Promise((r) => setImmediate(r));
    expect(roomed).toBe(false);
    const it = q[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: 1, done: false });
    await room;
    expect(roomed).toBe(true);
    q.put(3);
    q.end();
    const rest: number[] = [];
    for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value);
    expect(rest).toEqual([2, 3]);
  });

  test('capacity counts weight: a batch of rows fills the queue by its size, and leaving frees that much', async () => {
    const q = new ItemQueue<number[]>(10, (batch) => batch.length);
    q.put([1, 2, 3, 4]);
    expect(q.full).toBe(false);
    q.put([5, 6, 7, 8, 9, 10]);
    expect(q.full).toBe(true);
    expect(q.size).toBe(2);
    let roomed = false;
    const room = q.room().then(() => (roomed = true));
    const it = q[Symbol.asyncIterator]();
    expect(await it.next()).toEqual({ value: [1, 2, 3, 4], done: false });
    await room;
    expect(roomed).toBe(true);
    expect(q.full).toBe(false);
    // A single batch larger than the capacity still goes in whole (the bound is soft).
    q.put(Array.from({ length: 25 }, (_, i) => i));
    expect(q.full).toBe(true);
    q.end();
    const rest: number[][] = [];
    for (let n = await it.next(); !n.done; n = await it.next()) rest.push(n.value);
    expect(rest.map((b) => b.length)).toEqual([6, 25]);
    expect(q.full).toBe(false);
  });

  test('a failure reaches the consumer after the queued items', async () => {
    const q = new ItemQueue<string>(10);
    q.put('a');
    q.fail(new Error('list failed'));
    const seen: string[] = [];
    await expect(
      (async () => {
        for await (const x of q) seen.push(x);
      })(),
    ).rejects.toThrow('list failed');
    expect(seen).toEqual(['a']);
  });

  test('a consumer that stops releases waiting producers with QueueStoppedError', async () => {
    const q = new ItemQueue<number>(1);
    q.put(1);
    q.put(2);
    const waiting = q.room();
    for await (const _ of q) break;
    await expect(waiting).rejects.toBeInstanceOf(QueueStoppedError);
    expect(() => q.put(3)).toThrow(QueueStoppedError);
  });
});

describe('TaskPool', () => {
  test('never runs more than its concurrency, and run() waits for a slot', async () => {
    const pool = new TaskPool(3);
    let active = 0;
    let peak = 0;
    const releases: (() => void)[] = [];
    const started: number[] = [];
    const producer = (async () => {
      for (let i = 0; i < 10; i++) {
        await pool.run(async () => {
          started.push(i);
          active++;
          peak = Math.max(peak, active);
          await new Promise<void>((r) => releases.push(r));
          active--;
        });
      }
    })();
    await new Promise((r) => setImmediate(r));
    expect(started).toEqual([0, 1, 2]);
    while (started.length < 10 || releases.length > 0) {
      releases.shift()?.();
      await new Promise((r) => setImmediate(r));
    }
    await producer;
    await pool.drain();
    expect(peak).toBe(3);
    expect(started).toHaveLength(10);
  });

  test('drain rethrows the first task error', async () => {
    const pool = new TaskPool(2);
    await pool.run(() => Promise.reject(new Error('first')));
    await pool.run(() => Promise.reject(new Error('second')));
    await expect(pool.drain()).rejects.toThrow('first');
    expect(pool.failed).toBe(true);
  });
});
