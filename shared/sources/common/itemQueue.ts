/**
 * A bounded queue between concurrent producers (log streams, execs) and the one consumer
 * (the source's async generator). Producers put items and, when the queue is full, wait
 * for room before reading more from the network: backpressure reaches the HTTP body.
 * Hand-written because the producers need "wait until there is room" and the consumer
 * needs end/fail/stop semantics; no small library offers both.
 */

export class QueueStoppedError extends Error {
  override name = 'QueueStoppedError';
  constructor() {
    super('the consumer stopped reading');
  }
}

export class ItemQueue<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private head = 0;
  /** Sum of the queued items' weights. */
  private weight = 0;
  private ended = false;
  private stopped = false;
  private failure: { error: unknown } | undefined;
  private consumerWake: (() => void) | undefined;
  private roomWaiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  /** Time the consumer spent waiting on an empty queue: finished waits, and the start of the one in progress. */
  private starvedTotal = 0;
  private starvedSince: number | undefined;
  /** Times a producer had to wait for room (the queue was full). */
  roomWaits = 0;

  /**
   * @param capacity weight held before producers are asked to wait (soft bound: a put never fails for fullness).
   * @param weigh an item's weight (default 1; e.g. the number of rows in a batch).
   */
  constructor(
    readonly capacity: number,
    private readonly weigh: (item: T) => number = () => 1,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Milliseconds the consumer has spent waiting for an item so far (the wait in progress included). */
  get starvedMs(): number {
    return this.starvedTotal + (this.starvedSince === undefined ? 0 : this.now() - this.starvedSince);
  }

  /** Items queued. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** True when producers should wait for room() before producing more. */
  get full(): boolean {
    return this.weight >= this.capacity;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** Add an item. Throws QueueStoppedError once the consumer stopped. */
  put(item: T): void {
    if (this.stopped) throw new QueueStoppedError();
    if (this.ended) throw new Error('put after end');
    this.items.push(item);
    this.weight += this.weigh(item);
    this.wakeConsumer();
  }

  /** Resolves when the queue has room; rejects with QueueStoppedError if the consumer stops meanwhile. */
  room(): Promise<void> {
    if (this.stopped) return Promise.reject(new QueueStoppedError());
    if (!this.full) return Promise.resolve();
    this.roomWaits++;
    return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  /** put, then wait for room if the queue is full. */
  async putAndWait(item: T): Promise<void> {
    this.put(item);
    if (this.full) await this.room();
  }

  /** No more items: the consumer finishes after draining. */
  end(): void {
    this.ended = true;
    this.wakeConsumer();
  }

  /** The producers failed: the consumer throws `error` after draining what was queued. */
  fail(error: unknown): void {
    if (this.ended) return;
    this.failure = { error };
    this.ended = true;
    this.wakeConsumer();
  }

  /** The consumer is gone: waiting and future producers get QueueStoppedError; queued items are dropped. */
  stop(): void {
    this.stopped = true;
    this.items.length = 0;
    this.head = 0;
    this.weight = 0;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w.reject(new QueueStoppedError());
  }

  private wakeConsumer(): void {
    const wake = this.consumerWake;
    this.consumerWake = undefined;
    wake?.();
  }

  private releaseRoom(): void {
    while (this.roomWaiters.length > 0 && !this.full) this.roomWaiters.shift()!.resolve();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    try {
      for (;;) {
        if (this.size > 0) {
          const item = this.items[this.head] as T;
          this.items[this.head] = undefined as T;
          this.head++;
          this.weight -= this.weigh(item);
          if (this.head > 1024 && this.head * 2 > this.items.length) {
            this.items.splice(0, this.head);
            this.head = 0;
          }
          this.releaseRoom();
          yield item;
          continue;
        }
        if (this.ended) {
          if (this.failure) throw this.failure.error;
          return;
        }
        this.starvedSince = this.now();
        await new Promise<void>((resolve) => {
          this.consumerWake = resolve;
        });
        this.starvedTotal += this.now() - this.starvedSince;
        this.starvedSince = undefined;
      }
    } finally {
      if (!this.ended || this.size > 0) this.stop();
    }
  }
}

/**
 * Run `produce` (which puts into `queue`) and yield what it queues, in order. However the
 * consumer leaves — done, error, or stopping early — the producers are stopped (`stop`) and
 * awaited, so no request outlives the source. `onItem` runs after each yielded item.
 */
export async function* consumeProduced<T>(queue: ItemQueue<T>, produce: () => Promise<void>, stop: AbortController, onItem?: () => void): AsyncGenerator<T> {
  const producer = produce().then(
    () => queue.end(),
    (error: unknown) => queue.fail(error),
  );
  try {
    for await (const item of queue) {
      yield item;
      onItem?.();
    }
  } finally {
    stop.abort();
    queue.stop();
    await producer;
  }
}
