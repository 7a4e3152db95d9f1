/**
 * Bounded concurrency with producer backpressure: run() resolves once the task has a slot,
 * so a producer walking pod pages never gets more than `limit` tasks ahead.
 * (p-limit queues every call it is given; here the producer itself must wait.)
 * The limit can move between 1 and `concurrency` while tasks run (StreamAdmission does):
 * raising it starts waiting producers at once; lowering it lets running tasks finish and
 * starts no new one until fewer than the limit run.
 */
export class TaskPool {
  private active = 0;
  private current: number;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private firstError: { error: unknown } | undefined;
  /** Time producers spent waiting for a slot: finished waits, and the start of the one in progress. */
  private blockedTotal = 0;
  private blockedSince: number | undefined;
  /** The most tasks that ran at once. */
  peak = 0;

  /**
   * @param concurrency the most tasks ever run at once (the limit's ceiling)
   * @param initial the limit to start with (default: concurrency)
   * @param now the clock of blockedMs (default performance.now)
   */
  constructor(
    readonly concurrency: number,
    initial = concurrency,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
    this.current = clampLimit(initial, concurrency);
  }

  /** How many tasks may run at once now. */
  get limit(): number {
    return this.current;
  }

  set limit(value: number) {
    this.current = clampLimit(value, this.concurrency);
    for (let free = this.current - this.active; free > 0 && this.slotWaiters.length > 0; free--) this.slotWaiters.shift()!();
  }

  /** Tasks running now. */
  get running(): number {
    return this.active;
  }

  /** Milliseconds producers have spent waiting for a slot so far (the wait in progress included). */
  get blockedMs(): number {
    return this.blockedTotal + (this.blockedSince === undefined ? 0 : this.now() - this.blockedSince);
  }

  /** The first error a task threw (tasks should turn expected failures into data themselves). */
  get error(): unknown {
    return this.firstError?.error;
  }

  get failed(): boolean {
    return this.firstError !== undefined;
  }

  /** Wait for a free slot, start `task`, and return (without waiting for the task to finish). */
  async run(task: () => Promise<void>): Promise<void> {
    if (this.active >= this.current) {
      this.blockedSince ??= this.now();
      while (this.active >= this.current) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
      }
      if (this.slotWaiters.length === 0 && this.blockedSince !== undefined) {
        this.blockedTotal += this.now() - this.blockedSince;
        this.blockedSince = undefined;
      }
    }
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    void task()
      .catch((error: unknown) => {
        this.firstError ??= { error };
      })
      .finally(() => {
        this.active--;
        if (this.active < this.current) this.slotWaiters.shift()?.();
        if (this.active === 0) for (const wake of this.idleWaiters.splice(0)) wake();
      });
  }

  /** Wait until every started task finished; rethrows the first task error. */
  async drain(): Promise<void> {
    while (this.active > 0) {
      await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
    }
    if (this.firstError) throw this.firstError.error;
  }
}

function clampLimit(value: number, ceiling: number): number {
  return Math.min(ceiling, Math.max(1, Math.floor(value)));
}
