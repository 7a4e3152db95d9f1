import { abortReason } from './retry.js';

/**
 * The load budget: at most `limit` Kubernetes API requests in flight at once, whoever sends
 * them (lists, log streams, execs, access reviews). One budget per cluster connection
 * (KubeApi), shared by every source of the process: a request holds a permit from the moment
 * it is sent until its response is read to the end (a log stream: until it ends; an exec:
 * until its socket closes), and waits in line (first come, first served) while the budget is
 * spent. Retry back-off waits hold no permit.
 *
 * Across Function instances the orchestrator splits the cluster's budget into per-activity
 * shares so the shares of the activities running at once never add up to more than the
 * budget (docs/architecture.md, "The load budget").
 * Hand-written: p-limit queues functions, but a log stream's permit must outlive the call that
 * opened it (it is released when the body ends), which needs an explicit acquire/release.
 */

/** Concurrent Kubernetes API requests per cluster unless configured otherwise. */
export const DEFAULT_CLUSTER_REQUEST_BUDGET = 32;

/** Gives the permit back; calling it again does nothing. */
export type ReleasePermit = () => void;

export interface RequestBudgetStats {
  /** Requests allowed in flight at once. */
  limit: number;
  /** Requests in flight now. */
  inFlight: number;
  /** The most requests in flight at once so far. */
  peak: number;
  /** Permits given out so far. */
  granted: number;
  /** Of those, how many had to wait for a free permit. */
  waited: number;
}

interface Waiter {
  grant: (release: ReleasePermit) => void;
  detach: () => void;
}

export class RequestBudget {
  private current = 0;
  private peakInFlight = 0;
  private granted = 0;
  private waited = 0;
  private readonly waiters: Waiter[] = [];
  private head = 0;
  private idleWaiters: (() => void)[] = [];
  /** Waiters by the abort signal they wait under. */
  private readonly waitingOn = new WeakMap<AbortSignal, Map<Waiter, (error: unknown) => void>>();
  private max: number;

  /** @param limit requests in flight at once (default {@link DEFAULT_CLUSTER_REQUEST_BUDGET}). */
  constructor(limit: number = DEFAULT_CLUSTER_REQUEST_BUDGET) {
    this.max = checkLimit(limit);
  }

  get limit(): number {
    return this.max;
  }

  /** Change the limit; a raised limit lets waiting requests go at once, a lowered one applies as permits come back. */
  set limit(value: number) {
    this.max = checkLimit(value);
    this.wake();
  }

  stats(): RequestBudgetStats {
    return { limit: this.max, inFlight: this.current, peak: this.peakInFlight, granted: this.granted, waited: this.waited };
  }

  /**
   * Resolves once no permit is out (every request's connection has finished), or after
   * `timeoutInMs` (default 5000) whatever is still out: a host ending an activity waits here so
   * that its last exec's socket is closed before the next wave's requests start.
   */
  whenIdle(timeoutInMs = 5000): Promise<void> {
    if (this.current === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutInMs);
      timer.unref();
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  /** Wait for a permit (in arrival order). Rejects with the signal's reason when it aborts first. */
  acquire(abortSignal?: AbortSignal): Promise<ReleasePermit> {
    if (abortSignal?.aborted) return Promise.reject(abortReason(abortSignal));
    if (this.current < this.max && this.head === this.waiters.length) return Promise.resolve(this.take());
    this.waited++;
    return new Promise<ReleasePermit>((resolve, reject) => {
      const waiter: Waiter = { grant: resolve, detach: () => undefined };
      if (abortSignal) {
        // One listener per signal however many requests wait on it (a run's signal is shared by every stream).
        let waiting = this.waitingOn.get(abortSignal);
        if (!waiting) {
          const set = new Map<Waiter, (error: unknown) => void>();
          waiting = set;
          this.waitingOn.set(abortSignal, set);
          abortSignal.addEventListener(
            'abort',
            () => {
              this.waitingOn.delete(abortSignal);
              for (const [w, fail] of set) {
                const index = this.waiters.indexOf(w, this.head);
                if (index >= 0) this.waiters.splice(index, 1);
                fail(abortReason(abortSignal));
              }
            },
            { once: true },
          );
        }
        waiting.set(waiter, reject);
        const set = waiting;
        waiter.detach = () => set.delete(waiter);
      }
      this.waiters.push(waiter);
    });
  }

  private take(): ReleasePermit {
    this.current++;
    this.granted++;
    if (this.current > this.peakInFlight) this.peakInFlight = this.current;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.current--;
      this.wake();
      if (this.current === 0 && this.idleWaiters.length > 0) for (const done of this.idleWaiters.splice(0)) done();
    };
  }

  private wake(): void {
    while (this.current < this.max && this.head < this.waiters.length) {
      const waiter = this.waiters[this.head]!;
      this.waiters[this.head] = undefined as unknown as Waiter;
      this.head++;
      waiter.detach();
      waiter.grant(this.take());
    }
    if (this.head > 1024 && this.head * 2 > this.waiters.length) {
      this.waiters.splice(0, this.head);
      this.head = 0;
    }
  }
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`the request budget must be a whole number of at least 1, got ${limit}`);
  return limit;
}
