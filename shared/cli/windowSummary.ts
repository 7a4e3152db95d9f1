import type { PreservationResult } from '../preservation/session.js';
import { formatCount, line, type CliIo } from './io.js';

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

export function printWindowSummary(result: PreservationResult, io: CliIo): void {
  const t = windowTotals(result);
  line(io.stdout, '');
  line(io.stdout, `  preservation window: ${result.ended?.reason ?? 'stopped'}; ${t.segments} segment(s) sealed under increments/`);
  line(io.stdout, `    ${formatCount(t.logLines)} log lines, ${formatCount(t.events)} events, ${formatCount(t.changes)} object changes, ${t.gaps} gap(s)`);
  for (const s of result.segments) line(io.stdout, `    increments/${String(s.seq).padStart(6, '0')}  ${s.from} → ${s.to}  sha256 ${s.manifestSha256}`);
}
