import { WORKLOAD_FINDINGS_TABLE, workloadFindingRow } from '../../findings/tables.js';
import type { AnalysisNote, Severity } from '../../findings/types.js';
import { analyzeWorkloads, type AnalyzeWorkloadsOptions } from '../../findings/workloads.js';
import { toRfc3339 } from '../../util/time.js';
import { countBySeverity, listAllTypes, notesCoverage } from '../common/listTypes.js';
import { WORKLOAD_ACCESS, WORKLOAD_LISTINGS, workloadReadPermissions } from '../common/workloadListings.js';
import type { SourceContext, SourceDefinition, SourceItem } from '../types.js';

/**
 * Workload findings as a collection source: every workload kind listed (paginated, 403 → gap),
 * kept raw as evidence, and analyzed one object at a time by the same pure analyzer
 * `aks-evidence analyze` runs on files.
 */

const SOURCE = 'workloadfindings';

/** Options of the workload findings source (the registry allow-list). */
export type WorkloadFindingsSourceOptions = AnalyzeWorkloadsOptions;

export function createWorkloadFindingsSource(options: WorkloadFindingsSourceOptions = {}): SourceDefinition {
  async function* collect(ctx: SourceContext): AsyncGenerator<SourceItem> {
    const unavailable = new Set<string>();
    const collectedAt = toRfc3339(ctx.clock());
    let records = 0;
    const analyzed: Record<string, number> = {};
    const severities: { severity: Severity }[] = [];
    for await (const item of listAllTypes(ctx, SOURCE, WORKLOAD_LISTINGS, unavailable)) {
      if (item.kind !== 'object') {
        yield item;
        continue;
      }
      yield { kind: 'raw', object: item.object };
      // One object at a time: memory does not grow with the number of pods.
      const analysis = analyzeWorkloads([item.object], options);
      for (const [kind, n] of Object.entries(analysis.analyzed)) analyzed[kind] = (analyzed[kind] ?? 0) + n;
      for (const finding of analysis.findings) {
        yield { kind: 'row', row: workloadFindingRow(finding, collectedAt) };
        severities.push({ severity: finding.severity });
        records++;
      }
      ctx.progress?.({ source: SOURCE, records });
    }
    const notes: AnalysisNote[] = [...unavailable].map((t) => ({ code: 'unavailable-type', message: `${t} could not be read: their findings are missing` }));
    yield notesCoverage(SOURCE, { findings: records, bySeverity: countBySeverity(severities), analyzed }, notes, unavailable);
  }
  return {
    name: SOURCE,
    description:
      'Dangerous settings of every workload kind (privileged, host namespaces, hostPath, sockets, capabilities, root, suspicious commands/registries), with field paths.',
    tables: [WORKLOAD_FINDINGS_TABLE],
    kubernetesAccess: WORKLOAD_ACCESS,
    azurePermissions: workloadReadPermissions('list every workload kind for workload findings'),
    collect,
  };
}

export const workloadFindingsSource: SourceDefinition = createWorkloadFindingsSource();
