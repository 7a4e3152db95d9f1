import { column as c, timeGenerated, type TableDefinition } from '../tables/table.js';

/**
 * evidencecustody_CL: one row per seal, written by the run itself right after sealing (not by
 * a data source), through the same DCE/DCR as the evidence. It is an anchor outside the
 * bundle: someone able to rewrite the bundle's manifest, its .sha256 and its custody chain
 * cannot reach back into the workspace, so `aks-evidence verify --workspace` compares the
 * bundle with what Log Analytics recorded at sealing.
 *
 * Declared here once; the source registry adds it to the table registry beside the sources'
 * tables, so the template, the DCRs, the emulator and the timeline get it like any other.
 * Link columns (RunId, CaseId, ClusterResourceId, EvidencePath = the manifest, EvidenceSha256 =
 * the manifest's SHA-256, RecordId) are added to every row as for evidence rows.
 */
export const CUSTODY_TABLE: TableDefinition = {
  name: 'evidencecustody_CL',
  source: 'custody',
  description: 'Chain-of-custody anchors: one row per sealed evidence bundle (manifest SHA-256, custody chain head, seal time).',
  columns: [
    timeGenerated('When the bundle was sealed (UTC).'),
    c('manifest_sha256', 'string', 'SHA-256 of manifest.json as sealed.'),
    c('chain_head', 'string', 'SHA-256 of the newest custody record when the manifest was built (recorded in the manifest).'),
    c('chain_head_seq', 'int', 'Number of that custody record.'),
    c('seal_record_sha256', 'string', 'SHA-256 of the manifest-sealed custody record, which carries the manifest SHA-256.'),
    c('sealed_at', 'datetime', 'Seal time (the manifest endedAt).'),
    c('seal_kind', 'string', 'complete | interrupted.'),
    c('bundle_location', 'string', 'Where the bundle lives (no SAS, no key).'),
    c('artifact_count', 'int', 'Artifacts the manifest lists.'),
    c('previous_run_id', 'string', 'The earlier attempt this run replaces, if any.'),
    c('seal_summary', 'string', 'One line for the timeline.'),
  ],
  timeline: { eventType: 'EvidenceSealed', summary: 'seal_summary' },
};
