import { ItemQueue, QueueStoppedError } from '../../shared/sources/common/itemQueue.js';
import { TaskPool } from '../../shared/sources/common/taskPool.js';
import { StreamAdmission } from '../../shared/sources/common/admission.js';

const tick = () => new Promise((r) => setImmediate(r));

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

  test('it keeps the time its consumer waited for items, and how often producers waited for room', async () => {
    let clock = 0;
    const q = new ItemQueue<number>(
      1,
      () => 1,
      () => clock,
    );
    const it = q[Symbol.asyncIterator]();
    const next = it.next();
    await tick();
    clock = 30;
    expect(q.starvedMs).toBe(30);
    q.put(1);
    await next;
    clock = 100;
    expect(q.starvedMs).toBe(30);
    q.put(2);
    expect(q.roomWaits).toBe(0);
    const room = q.room();
    expect(q.roomWaits).toBe(1);
    await it.next();
    await room;
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

describe('TaskPool limit', () => {
  /** A pool whose tasks run until released, fed by a producer of `n` tasks. */
  function harness(pool: TaskPool, n: number) {
    const releases: (() => void)[] = [];
    let started = 0;
    const producer = (async () => {
      for (let i = 0; i < n; i++) {
        await pool.run(async () => {
          started++;
          await new Promise<void>((r) => releases.push(r));
        });
      }
    })();
    return { releases, started: () => started, producer };
  }

  test('raising the limit starts waiting tasks at once; lowering it lets running tasks finish and starts none until fewer run', async () => {
    let clock = 0;
    const pool = new TaskPool(8, 2, () => clock);
    const h = harness(pool, 12);
    await tick();
    expect(h.started()).toBe(2);
    clock = 50;
    expect(pool.blockedMs).toBe(50);
    pool.limit = 6;
    await tick();
    expect(h.started()).toBe(6);
    expect(pool.running).toBe(6);
    pool.limit = 3;
    for (let i = 0; i < 3; i++) h.releases.shift()!();
    await tick();
    // Three finished, three still run: at the new limit, nothing new started.
    expect(pool.running).toBe(3);
    expect(h.started()).toBe(6);
    h.releases.shift()!();
    await tick();
    expect(h.started()).toBe(7);
    expect(pool.running).toBe(3);
    expect(pool.peak).toBe(6);
    pool.limit = 100;
    expect(pool.limit).toBe(8);
    pool.limit = 0;
    expect(pool.limit).toBe(1);
    pool.limit = 8;
    while (h.started() < 12 || h.releases.length > 0) {
      h.releases.shift()?.();
      await tick();
    }
    await h.producer;
    await pool.drain();
    expect(h.started()).toBe(12);
  });
});

describe('StreamAdmission', () => {
  function setup(concurrency: number) {
    let clock = 0;
    const gauge = { starvedMs: 0, roomWaits: 0 };
    const pool = new TaskPool(concurrency, concurrency, () => clock);
    const admission = new StreamAdmission(pool, gauge, { now: () => clock });
    const blocked = { ms: 0 };
    Object.defineProperty(pool, 'blockedMs', { get: () => blocked.ms });
    /** One window (`ms` long): the consumer waited `starved` ms, producers were held back by the limit `held` ms, and waited for room `roomWaits` times. */
    const window = (starved: number, held: number, roomWaits: number, ms = 200) => {
      clock += ms;
      gauge.starvedMs += starved;
      blocked.ms += held;
      gauge.roomWaits += roomWaits;
      admission.tick();
      return pool.limit;
    };
    return { pool, admission, window };
  }

  test('a few streams first; the limit doubles while the consumer waits for items and producers wait for the limit, up to the share', () => {
    const { pool, window } = setup(32);
    expect(pool.limit).toBe(4);
    expect(window(150, 150, 0)).toBe(8);
    expect(window(40, 180, 100)).toBe(16);
    expect(window(40, 180, 100)).toBe(32);
    expect(window(40, 180, 100)).toBe(32);
  });

  test('it does not rise when more streams would not help: the consumer is busy, or nothing waits for a slot', () => {
    const { window } = setup(32);
    // The consumer is the bottleneck: it never waits.
    expect(window(0, 200, 0)).toBe(4);
    // The consumer waits, but not for the streams (the pod list is being read): no producer waits for a slot.
    expect(window(200, 0, 0)).toBe(4);
  });

  test('while the process is the bottleneck (the consumer never waits, producers wait for room) it comes down one at a time, never under the floor', () => {
    const { window } = setup(32);
    window(150, 150, 0);
    window(150, 150, 0);
    expect(window(150, 150, 0)).toBe(32);
    expect(window(0, 200, 50)).toBe(31);
    expect(window(1, 200, 50)).toBe(30);
    // A window with no room waits (the streams are quiet): kept.
    expect(window(0, 200, 0)).toBe(30);
    for (let i = 0; i < 40; i++) window(0, 200, 50);
    expect(window(0, 200, 50)).toBe(4);
  });

  test('a rise does not wait for the window: 20 ms starved while producers wait is enough (high latency climbs in tens of ms); a fall does', () => {
    const { window } = setup(32);
    expect(window(10, 10, 0, 30)).toBe(4);
    expect(window(15, 15, 0, 30)).toBe(8);
    expect(window(25, 25, 0, 30)).toBe(16);
    expect(window(25, 25, 0, 30)).toBe(32);
    // Falling needs a whole window without starvation.
    expect(window(0, 30, 50, 100)).toBe(32);
    expect(window(0, 30, 50, 100)).toBe(31);
  });

  test('a share under the floor is the floor; nothing changes within a window', () => {
    const small = setup(2);
    expect(small.pool.limit).toBe(2);
    expect(small.window(200, 200, 0)).toBe(2);
    const { pool, admission } = setup(32);
    admission.tick();
    expect(pool.limit).toBe(4);
  });
});
