/**
 * Bounded concurrency with producer backpressure: run() resolves once the task has a slot,
 * so a producer walking pod pages never gets more than `concurrency` tasks ahead.
 * (p-limit queues every call it is given; here the producer itself must wait.)
 */
export class TaskPool {
  private active = 0;
  private readonly slotWaiters: (() => void)[] = [];
  private readonly idleWaiters: (() => void)[] = [];
  private firstError: { error: unknown } | undefined;

  constructor(readonly concurrency: number) {
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
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
    while (this.active >= this.concurrency) {
      await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
    }
    this.active++;
    void task()
      .catch((error: unknown) => {
        this.firstError ??= { error };
      })
      .finally(() => {
        this.active--;
        this.slotWaiters.shift()?.();
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
