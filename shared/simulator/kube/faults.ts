/**
 * Fault injection on demand: which rule fires for a request, how often it fired, and how a
 * body is cut or stalled after N bytes or lines. Rules match "<METHOD> <path>" (and optionally
 * the query string), first match wins; `times` bounds how often a rule fires.
 */
import type { FaultRule } from './scenario.js';

export interface FaultHit {
  rule: FaultRule;
  /** How often it fired so far. */
  hits: number;
}

/** Rule matching and bookkeeping (the rules array is live: tests may push and splice). */
export class FaultInjector {
  private readonly hits = new Map<FaultRule, number>();
  /** Per rule and request key: when a 429 was answered and how long the client was told to wait. */
  private readonly retryAfter = new Map<string, number>();

  constructor(readonly rules: FaultRule[]) {}

  /**
   * The fault for this request, if any. A rule with `enforceRetryAfter` keeps answering 429 to
   * a client that comes back before its Retry-After elapsed (those answers do not use up `times`).
   */
  take(method: string, path: string, query: string): FaultRule | undefined {
    const key = `${method} ${path}`;
    for (const rule of this.rules) {
      const hit = typeof rule.match === 'string' ? key.includes(rule.match) : rule.match.test(key);
      if (!hit) continue;
      if (rule.query !== undefined && !(typeof rule.query === 'string' ? query.includes(rule.query) : rule.query.test(query))) continue;
      const waitKey = `${this.rules.indexOf(rule)}|${key}`;
      const until = this.retryAfter.get(waitKey);
      if (until !== undefined && performance.now() < until) {
        this.hits.set(rule, (this.hits.get(rule) ?? 0) + 1);
        return { ...rule, times: undefined, early: true } as FaultRule;
      }
      const n = this.hits.get(rule) ?? 0;
      if (rule.times !== undefined && n >= rule.times) continue;
      this.hits.set(rule, n + 1);
      if (rule.enforceRetryAfter && rule.status === 429) this.retryAfter.set(waitKey, performance.now() + (rule.retryAfterSeconds ?? 1) * 1000);
      return rule;
    }
    return undefined;
  }

  /** How often each rule fired (rules that never fired included, with 0). */
  report(): FaultHit[] {
    return this.rules.map((rule) => ({ rule, hits: this.hits.get(rule) ?? 0 }));
  }
}

/** What a cut or stall leaves of a body: pass chunks through `limit` until it says stop. */
export class BodyLimit {
  private bytes = 0;
  private lines = 0;
  stopped = false;

  constructor(private readonly rule: Pick<FaultRule, 'afterBytes' | 'afterLines'>) {}

  /** The part of `chunk` still to send; sets `stopped` once the limit is reached. */
  take(chunk: Buffer): Buffer {
    if (this.stopped) return chunk.subarray(0, 0);
    let end = chunk.length;
    if (this.rule.afterBytes !== undefined) end = Math.min(end, Math.max(0, this.rule.afterBytes - this.bytes));
    if (this.rule.afterLines !== undefined) {
      let need = this.rule.afterLines - this.lines;
      if (need <= 0) end = 0;
      else {
        let i = -1;
        while (need > 0 && (i = chunk.indexOf(0x0a, i + 1)) !== -1) need--;
        if (need === 0) end = Math.min(end, i + 1);
      }
    }
    const out = chunk.subarray(0, end);
    this.bytes += out.length;
    for (let i = out.indexOf(0x0a); i !== -1; i = out.indexOf(0x0a, i + 1)) this.lines++;
    if (
      end < chunk.length ||
      (this.rule.afterBytes !== undefined && this.bytes >= this.rule.afterBytes) ||
      (this.rule.afterLines !== undefined && this.lines >= this.rule.afterLines)
    )
      this.stopped = true;
    return out;
  }
}

/** Complete lines in a buffer. */
export function countLines(b: Buffer): number {
  let n = 0;
  for (let i = b.indexOf(0x0a); i !== -1; i = b.indexOf(0x0a, i + 1)) n++;
  return n;
}
