import type { PreservationResult } from '../preservation/session.js';
import { EXIT, formatCount, line, type CliIo } from './io.js';

/** A window as the CLI ran it: what it sealed, and how many sealed segments failed to ingest (--ingest). */
export interface WindowOutcome extends PreservationResult {
  notIngested: number;
}

/** 0 when every segment is gap-free (and ingested when asked); 3 otherwise (io.ts EXIT). */
export function windowExitCode(outcome: WindowOutcome): number {
  return outcome.notIngested > 0 || outcome.segments.some((s) => s.gaps > 0) ? EXIT.gaps : EXIT.ok;
}

/** What a preservation window kept, summed over its segments. */
export function windowTotals(result: PreservationResult): { segments: number; logLines: number; events: number; changes: number; gaps: number } {
  const t = { segments: result.segments.length, logLines: 0, events: 0, changes: 0, gaps: 0 };
  for (const s of result.segments) {
    t.logLines += s.counts.logLines;
    t.events += s.counts.events;
    t.changes += s.counts.changes;
    t.gaps += s.gaps;
  }
  return t;
}

export function printWindowSummary(result: WindowOutcome, io: CliIo): void {
  const t = windowTotals(result);
  line(io.stdout, '');
  line(io.stdout, `  preservation window: ${result.ended?.reason ?? 'stopped'}; ${t.segments} segment(s) sealed under increments/`);
  line(io.stdout, `    ${formatCount(t.logLines)} log lines, ${formatCount(t.events)} events, ${formatCount(t.changes)} object changes, ${t.gaps} gap(s)`);
  if (result.notIngested) line(io.stdout, `    ${result.notIngested} sealed segment(s) not ingested: deliver them with aks-evidence ingest <bundle>`);
  for (const s of result.segments) line(io.stdout, `    increments/${String(s.seq).padStart(6, '0')}  ${s.from} → ${s.to}  sha256 ${s.manifestSha256}`);
}
