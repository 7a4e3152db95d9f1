/**
 * What a Log Analytics custom table is: its columns, its place on the timeline, and the link
 * columns every row carries. Sources declare their tables with these types (each in its own
 * folder); the table registry is assembled from the source registry and handed to ingestion,
 * infra and the timeline — nothing here knows which tables exist.
 */

/** Log Analytics custom-table column types. */
export type ColumnType = 'string' | 'int' | 'long' | 'real' | 'boolean' | 'datetime' | 'dynamic' | 'guid';

export interface ColumnDefinition {
  name: string;
  type: ColumnType;
  description: string;
}

export interface TableDefinition {
  /** Custom table name, ends with _CL. */
  name: string;
  /** The source (or analyzer) whose rows fill it. */
  source: string;
  description: string;
  /** Source-filled columns, TimeGenerated first. */
  columns: ColumnDefinition[];
  /** For the KQL timeline: which columns hold namespace, pod, a one-line summary and an event type. */
  timeline: { eventType: string; namespace?: string; pod?: string; summary: string };
}

/** One Log Analytics row, keyed by its table's column names. */
export type Row = Record<string, unknown>;

/** One column of a table. */
export function column(name: string, type: ColumnType, description: string): ColumnDefinition {
  return { name, type, description };
}

/** The TimeGenerated column, described for a table whose rows are events or objects. */
export function timeGenerated(description = 'Time of the event or object creation (UTC).'): ColumnDefinition {
  return column('TimeGenerated', 'datetime', description);
}

/** Columns the ingestion step adds to every row: they tie the row to its run and evidence. */
export const LINK_COLUMNS: readonly ColumnDefinition[] = [
  { name: 'EventTime', type: 'datetime', description: "The event's own time (TimeGenerated is replaced by the service when older than 2 days)." },
  { name: 'RunId', type: 'string', description: 'Collection run id.' },
  { name: 'CaseId', type: 'string', description: 'Case / incident id the run was collected for.' },
  { name: 'ClusterResourceId', type: 'string', description: 'AKS managed cluster ARM id (or API server URL when collected from a kubeconfig).' },
  { name: 'EvidencePath', type: 'string', description: 'Bundle location and path of the artifact holding this row.' },
  { name: 'EvidenceSha256', type: 'string', description: 'SHA-256 of that artifact, as sealed in the manifest.' },
  { name: 'RecordId', type: 'string', description: 'Stable record id: sha256(runId, artifact path, line number).' },
  { name: 'TruncatedColumns', type: 'string', description: 'Columns shortened to fit ingestion limits (full value in the artifact), comma-separated; empty when none.' },
  {
    name: 'CollectionPhase',
    type: 'string',
    description: 'initial: the first collection of the run; increment: kept afterwards by its preservation window (EvidencePath names the segment).',
  },
];

/** Which part of a run a row comes from: the first collection, or a preservation window's increment. */
export type CollectionPhase = 'initial' | 'increment';

/** Source columns followed by the link columns: what the DCR stream declares. */
export function streamColumns(table: TableDefinition): ColumnDefinition[] {
  return [...table.columns, ...LINK_COLUMNS];
}

/** DCR input stream name for a table. */
export function streamName(table: TableDefinition | string): string {
  return `Custom-${typeof table === 'string' ? table : table.name}`;
}
