import type { Sleeper } from '../../shared/util/time.js';

/**
 * A clock the test moves: `now` for every component that reads time (the simulated cluster, the
 * window), `sleep` for those that wait on it. Nothing waits on real time.
 */
export class ManualClock {
  private t: number;
  private readonly sleepers = new Set<{ at: number; resolve: () => void }>();

  constructor(start: string | number) {
    this.t = typeof start === 'string' ? Date.parse(start) : start;
  }

  readonly now = (): Date => new Date(this.t);

  readonly sleep: Sleeper = (until, abortSignal) =>
    new Promise<void>((resolve) => {
      if (abortSignal?.aborted || until.getTime() <= this.t) return resolve();
      const entry = { at: until.getTime(), resolve: () => undefined as void };
      entry.resolve = () => {
        this.sleepers.delete(entry);
        resolve();
      };
      this.sleepers.add(entry);
      abortSignal?.addEventListener('abort', () => entry.resolve(), { once: true });
    });

  /** Move time forward; wakes every sleeper whose time has come. */
  advance(ms: number): void {
    this.t += ms;
    for (const s of [...this.sleepers]) if (s.at <= this.t) s.resolve();
  }

  /** Sleepers waiting now (to know the window is idle before moving time). */
  get waiting(): number {
    return this.sleepers.size;
  }
}

/** Collects progress events and resolves waits on them (no timers, no polling). */
export class Recorder<E> {
  readonly events: E[] = [];
  private readonly waits: { pred: (events: E[]) => boolean; resolve: () => void }[] = [];

  readonly push = (event: E): void => {
    this.events.push(event);
    for (const w of [...this.waits])
      if (w.pred(this.events)) {
        this.waits.splice(this.waits.indexOf(w), 1);
        w.resolve();
      }
  };

  until(pred: (events: E[]) => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (pred(this.events)) return resolve();
      this.waits.push({ pred, resolve });
    });
  }
}
