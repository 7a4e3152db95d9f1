import type { TimelineEntry, TimelineFormat } from './types.js';

/**
 * Render timeline entries as an aligned table, CSV or a JSON array, line by line to a
 * writable (nothing is joined into one big string).
 */

export const TIMELINE_CSV_COLUMNS = [
  'time',
  'approximate_time',
  'source',
  'type',
  'actor',
  'namespace',
  'pod',
  'object',
  'summary',
  'severity',
  'labels',
  'collector',
  'collector_reason',
  'evidence_path',
  'evidence_line',
  'audit_id',
  'incident_target',
] as const;

/** CSV field: quoted when needed; a leading = + - @ is neutralized (spreadsheet formula injection from attacker-written text). */
export function csvField(value: unknown): string {
  let s = value === undefined || value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function csvRow(e: TimelineEntry): string {
  const values: Record<(typeof TIMELINE_CSV_COLUMNS)[number], unknown> = {
    time: e.time,
    approximate_time: e.approximateTime ? 'true' : 'false',
    source: e.source,
    type: e.type,
    actor: e.actor,
    namespace: e.namespace,
    pod: e.pod,
    object: e.object,
    summary: e.summary,
    severity: e.severity,
    labels: (e.labels ?? []).map((l) => l.ruleId).join(' '),
    collector: e.collector ? 'true' : 'false',
    collector_reason: e.collectorReason,
    evidence_path: e.evidence.path,
    evidence_line: e.evidence.line,
    audit_id: e.evidence.auditID,
    incident_target: e.target ? 'true' : 'false',
  };
  return TIMELINE_CSV_COLUMNS.map((k) => csvField(values[k])).join(',');
}

function pad(s: string, width: number): string {
  const t = s.length > width ? `${s.slice(0, width - 1)}…` : s;
  return t.padEnd(width);
}

const TABLE_HEADER = `${pad('TIME (UTC)', 27)} ${pad('C', 1)} ${pad('T', 1)} ${pad('SEVERITY', 8)} ${pad('SOURCE', 14)} ${pad('ACTOR', 36)} ${pad('NAMESPACE/POD', 32)} WHAT`;

function tableRow(e: TimelineEntry): string {
  const where = e.namespace ? `${e.namespace}${e.pod ? `/${e.pod}` : ''}` : (e.pod ?? '');
  const labels = e.labels?.length ? `  [${e.labels.map((l) => `${l.ruleId}${l.outcome === 'attempt' ? ' (attempt)' : ''}`).join(', ')}]` : '';
  const time = `${e.approximateTime ? '~' : ''}${e.time}`;
  return `${pad(time, 27)} ${e.collector ? '*' : ' '} ${e.target ? '>' : ' '} ${pad(e.severity ?? '', 8)} ${pad(e.source, 14)} ${pad(e.actor ?? '', 36)} ${pad(where, 32)} ${e.summary}${labels}`;
}

async function put(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
}

/**
 * Write the timeline, then the entries without a time (`untimed`): in a section of their own in
 * the table, as the last rows (empty time) in CSV and JSON.
 */
export async function writeTimeline(entries: Iterable<TimelineEntry>, format: TimelineFormat, out: NodeJS.WritableStream, untimed: readonly TimelineEntry[] = []): Promise<void> {
  if (format === 'csv') {
    await put(out, `${TIMELINE_CSV_COLUMNS.join(',')}\n`);
    for (const e of entries) await put(out, `${csvRow(e)}\n`);
    for (const e of untimed) await put(out, `${csvRow(e)}\n`);
    return;
  }
  if (format === 'json') {
    let first = true;
    await put(out, '[');
    for (const e of [entries, untimed]) {
      for (const x of e) {
        await put(out, `${first ? '\n' : ',\n'}${JSON.stringify(x)}`);
        first = false;
      }
    }
    await put(out, first ? ']\n' : '\n]\n');
    return;
  }
  await put(out, `${TABLE_HEADER}\n`);
  for (const e of entries) await put(out, `${tableRow(e)}\n`);
  if (untimed.length) {
    await put(out, `\nWithout a time of their own (cut or incomplete audit records), not placed on the timeline:\n`);
    for (const e of untimed) await put(out, `${tableRow({ ...e, time: '(no time)' })}\n`);
  }
  await put(
    out,
    "\n* = the collector's own action (not the attacker's); > = about a pod, namespace or node the incident named (collected first); ~ = time not recorded by the source (collection time)\n",
  );
}
