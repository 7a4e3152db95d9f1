import { collectAudit, AUDIT_SOURCE, type CollectAuditOptions } from '../audit/collect.js';
import { writeAuditEventRows } from '../audit/eventRows.js';
import { AUDIT_FINDINGS_TABLE } from '../audit/tables.js';
import type { ArtifactRef } from '../evidence/types.js';
import type { SourceDefinition } from '../sources/types.js';

export type AuditSourceOptions = Omit<CollectAuditOptions, 'start' | 'end' | 'abortSignal'>;

/**
 * The audit log as a source of the run: the kube-audit events of the since-window, read
 * from where the diagnostic settings send them (Log Analytics or a storage account), kept
 * raw as evidence, labelled by the detection rules (auditfindings_CL), and turned into one
 * compact row per event (auditevents_CL). Built inside the activity: it holds a credential.
 */
export function createAuditSource(options: AuditSourceOptions): SourceDefinition {
  return {
    name: AUDIT_SOURCE,
    table: AUDIT_FINDINGS_TABLE.name,
    description: 'Kubernetes API audit events of the window (from Log Analytics or the diagnostic storage account), labelled by detection rules',
    async *collect(ctx) {
      const end = ctx.clock();
      const start = new Date(end.getTime() - ctx.sinceSeconds * 1000);
      yield* collectAudit({ ...options, start, end, ...(ctx.abortSignal ? { abortSignal: ctx.abortSignal } : {}) });
    },
    async deriveArtifacts(store, written): Promise<ArtifactRef[]> {
      const raw = written.filter((a) => a.kind === 'raw' && /\.audit\.ndjson\.gz$/.test(a.path));
      const derived: ArtifactRef[] = [];
      for (const a of raw) derived.push({ ...(await writeAuditEventRows(store, a.path)), ...(a.shard ? { shard: a.shard } : {}) });
      return derived;
    },
  };
}
