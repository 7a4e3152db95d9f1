import type { TaskPool } from './taskPool.js';

/**
 * How many streams a source keeps open at once, adapted to what bounds the run, between a
 * floor and the pool's concurrency (the source's share of the load budget).
 *
 * - The consumer (row encoding, compression, the store) waits for items while producers are
 *   held back by the limit: the streams, not the process, are the bottleneck (API server or
 *   kubelet latency, a slow network). The limit doubles as soon as that adds up to a tenth of
 *   a window (20 ms): 4 → 32 within about a tenth of a second at 50 ms per request.
 * - The consumer never waits and producers wait for room in the queue: the process is the
 *   bottleneck. Another open stream adds nothing but its buffers, so the limit comes down by
 *   one (running streams finish; the next one is not started).
 *
 * Why: on 1 GB of logs (`npm run bench -- --stages memory`, CPU-bound on this machine), 32
 * open streams peaked at ~20 MB more RSS than 4 for the same throughput: each paused stream
 * holds socket and body buffers, and chunks waiting behind 31 others outlive young-generation
 * collections. On a cluster with request latency, 4 streams would starve the consumer; the
 * collect stage (thousands of short logs, 5 ms per request) climbs to the full budget.
 */
export interface AdmissionOptions {
  /** The limit to start with and never go under (default 4, at most the pool's concurrency). */
  floor?: number;
  /** The window over which a fall is decided, in ms of the clock (default 200); a rise needs a tenth of it starved. */
  windowMs?: number;
  /** Share of a window the consumer must have waited for the limit to rise (default 0.1). */
  starvedShare?: number;
  now?: () => number;
}

/** What admission reads of the queue: the consumer's waiting time and the producers' waits for room. */
export interface QueueGauge {
  readonly starvedMs: number;
  readonly roomWaits: number;
}

export class StreamAdmission {
  private readonly floor: number;
  private readonly windowMs: number;
  private readonly starvedShare: number;
  private readonly now: () => number;
  private windowStart: number;
  private starvedAt: number;
  private blockedAt: number;
  private roomWaitsAt: number;
  /** Times the limit went up and down. */
  raised = 0;
  lowered = 0;

  constructor(
    private readonly pool: TaskPool,
    private readonly queue: QueueGauge,
    options: AdmissionOptions = {},
  ) {
    this.floor = Math.max(1, Math.min(pool.concurrency, options.floor ?? 4));
    this.windowMs = options.windowMs ?? 200;
    this.starvedShare = options.starvedShare ?? 0.1;
    this.now = options.now ?? (() => performance.now());
    pool.limit = this.floor;
    this.windowStart = this.now();
    this.starvedAt = queue.starvedMs;
    this.blockedAt = pool.blockedMs;
    this.roomWaitsAt = queue.roomWaits;
  }

  /**
   * Reconsider the limit (call it often: after each item consumed). It rises as soon as the
   * consumer has waited, and producers have been held back, for the starved share of a window
   * since the last change — at high latency that is tens of ms, not a whole window; it comes
   * down only after a whole window in which the consumer never waited.
   */
  tick(): void {
    const now = this.now();
    const elapsed = now - this.windowStart;
    const starved = this.queue.starvedMs - this.starvedAt;
    const blocked = this.pool.blockedMs - this.blockedAt;
    const limit = this.pool.limit;
    const enough = this.starvedShare * this.windowMs;
    if (starved >= enough && blocked >= enough && limit < this.pool.concurrency) {
      this.pool.limit = limit * 2;
      this.raised++;
      this.restart(now);
      return;
    }
    if (elapsed < this.windowMs) return;
    if (starved < 0.02 * elapsed && this.queue.roomWaits - this.roomWaitsAt > 0 && limit > this.floor) {
      this.pool.limit = limit - 1;
      this.lowered++;
    }
    this.restart(now);
  }

  private restart(now: number): void {
    this.windowStart = now;
    this.starvedAt = this.queue.starvedMs;
    this.blockedAt = this.pool.blockedMs;
    this.roomWaitsAt = this.queue.roomWaits;
  }
}
