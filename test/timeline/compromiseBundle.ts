/**
 * A sealed evidence bundle of the compromise scenario, written the way the pipeline writes one
 * (sources/<source>/all.rows.ndjson.gz with its table, sources/audit/all.audit.ndjson.gz raw,
 * a summary per task, manifest.json sealed last), from the scenario files themselves: the
 * audit log (compromise.audit.ndjson) labelled by the built-in rules, Kubernetes events and
 * shell histories from compromise.yaml, and the collector's own history exec.
 */
import { auditItems } from '../../shared/sources/audit/source.js';
import { createAuditLabeler } from '../../shared/audit/label.js';
import { normalizeAuditRecord } from '../../shared/audit/parse.js';
import { loadAuditRules } from '../../shared/audit/rules.js';
import type { AuditEvent } from '../../shared/audit/types.js';
import { eventTimeMs } from '../../shared/audit/types.js';
import { openLocalBundle } from '../../shared/evidence/localStore.js';
import { buildManifest, writeManifest } from '../../shared/evidence/manifest.js';
import { createNdjsonArtifact } from '../../shared/evidence/ndjson.js';
import type { ArtifactRef, CollectorAction, EvidenceStore, Manifest, SourceSummary } from '../../shared/evidence/types.js';
import type { Row, SourceItem } from '../../shared/sources/types.js';
import { historyCommand } from '../../shared/sources/commandhistory/historyScript.js';
import { loadScenario } from '../../shared/simulator/kube/loadScenario.js';
import type { KubeObject } from '../../shared/simulator/kube/scenario.js';

export const COLLECTOR_USER = 'system:serviceaccount:forensics:aks-evidence';
export const RUN_STARTED = '2024-06-01T12:00:00.000Z';
export const RUN_ENDED = '2024-06-01T12:05:00.000Z';

/** The collector's history exec, as collectTask records it in the summary and the manifest. */
export const COLLECTOR_ACTION: CollectorAction = {
  kind: 'exec',
  at: '2024-06-01T12:01:10.000Z',
  namespace: 'prod',
  pod: 'api-5f6d7c8b9-klmno',
  container: 'api',
  command: historyCommand('/bin/sh'),
  outcome: 'ok',
  exitCode: 0,
};

interface Written {
  refs: ArtifactRef[];
  summary: SourceSummary;
}

async function writeSource(
  store: EvidenceStore,
  source: string,
  table: string,
  items: AsyncIterable<SourceItem> | Iterable<SourceItem>,
  actions: CollectorAction[] = [],
): Promise<Written> {
  const rows = await createNdjsonArtifact(store, `sources/${source}/all.rows.ndjson.gz`, { gzip: true, metadata: { source, table } });
  const raws = new Map<string, Awaited<ReturnType<typeof createNdjsonArtifact>>>();
  for await (const item of items) {
    if (item.kind === 'row') await rows.write(item.row);
    if (item.kind === 'rows') await rows.writeMany(item.rows);
    if (item.kind === 'rowsJson') await rows.writeSerialized(item.json);
    if (item.kind === 'rowsNdjson') await rows.writeNdjson(item.bytes, item.rows, item.release);
    if (item.kind === 'raw') {
      const stream = item.stream ?? 'raw';
      let w = raws.get(stream);
      if (!w) {
        w = await createNdjsonArtifact(store, `sources/${source}/all.${stream}.ndjson.gz`, { gzip: true, metadata: { source, stream } });
        raws.set(stream, w);
      }
      await w.write(item.object);
    }
  }
  const refs: ArtifactRef[] = [];
  const r = await rows.close();
  refs.push({ path: r.path, source, kind: 'rows', sha256: r.sha256, bytes: r.bytes, records: r.records, contentType: 'application/x-ndjson', contentEncoding: 'gzip', table });
  for (const w of raws.values()) {
    const x = await w.close();
    refs.push({ path: x.path, source, kind: 'raw', sha256: x.sha256, bytes: x.bytes, records: x.records, contentType: 'application/x-ndjson', contentEncoding: 'gzip' });
  }
  const summaryText = JSON.stringify({ schemaVersion: 1, source, status: 'complete', gaps: [], actions, artifacts: refs }, null, 2);
  const s = await store.writeArtifact(`sources/${source}/all.summary.json`, summaryText, { contentType: 'application/json' });
  refs.push({ path: s.path, source, kind: 'other', sha256: s.sha256, bytes: s.bytes, records: 1, contentType: 'application/json' });
  return {
    refs,
    summary: {
      status: 'complete',
      records: r.records,
      rawObjects: refs.filter((a) => a.kind === 'raw').reduce((n, a) => n + a.records, 0),
      gaps: [],
      artifacts: refs.map((a) => a.path),
    },
  };
}

function eventRows(objects: KubeObject[]): SourceItem[] {
  return objects
    .filter((o) => o.kind === 'Event')
    .map((o) => {
      const e = o as KubeObject & {
        involvedObject: Record<string, string>;
        reason: string;
        message: string;
        type: string;
        firstTimestamp: string;
        lastTimestamp: string;
        count: number;
      };
      const row: Row = {
        TimeGenerated: e.lastTimestamp,
        first_timestamp: e.firstTimestamp,
        last_timestamp: e.lastTimestamp,
        involved_object_name: e.involvedObject.name,
        involved_object_kind: e.involvedObject.kind,
        involved_object_namespace: e.involvedObject.namespace ?? '',
        message: e.message,
        reason: e.reason,
        type: e.type,
        namespace: o.metadata.namespace ?? '',
        name: o.metadata.name,
        count: e.count,
      };
      return { kind: 'row' as const, row };
    });
}

/** Shell history rows the way commandhistory writes them: bash "#<epoch>" lines give command_time. */
function historyRows(containers: Record<string, { files?: Record<string, string> }>): SourceItem[] {
  const out: SourceItem[] = [];
  for (const [key, rt] of Object.entries(containers)) {
    const [namespace, pod, container] = key.split('/');
    for (const [file, content] of Object.entries(rt.files ?? {})) {
      if (!/history$/.test(file)) continue;
      let stamp: string | undefined;
      let n = 0;
      for (const line of content.split('\n')) {
        if (line === '') continue;
        const m = /^#(\d{9,})$/.exec(line);
        if (m) {
          stamp = new Date(Number(m[1]) * 1000).toISOString();
          continue;
        }
        n++;
        out.push({
          kind: 'row',
          row: {
            TimeGenerated: stamp ?? COLLECTOR_ACTION.at,
            namespace,
            pod_name: pod,
            container_name: container,
            command: line,
            history_file: file,
            shell: file.includes('bash') ? 'bash' : file.includes('ash') ? 'ash' : 'other',
            user: file.startsWith('/root') ? 'root' : (file.split('/')[2] ?? ''),
            line_number: n,
            ...(stamp ? { command_time: stamp } : {}),
          },
        });
        stamp = undefined;
      }
    }
  }
  return out;
}

export interface CompromiseBundle {
  store: EvidenceStore;
  dir: string;
  manifest: Manifest;
  events: AuditEvent[];
}

/** Write the bundle under `outDir`/<runId>. `identity` is the manifest's collector identity (undefined: unknown). */
export async function writeCompromiseBundle(outDir: string, options: { identity?: string; runId?: string } = {}): Promise<CompromiseBundle> {
  const scenario = await loadScenario('compromise', { shift: false });
  if (!scenario.audit?.length) throw new Error('compromise scenario has no audit log attached (compromise.audit.ndjson)');
  const events = scenario.audit.flatMap((r) => normalizeAuditRecord(r)).sort((a, b) => eventTimeMs(a) - eventTimeMs(b));
  const runId = options.runId ?? 'run-compromise';
  const store = await openLocalBundle(outDir, runId);

  const labeler = createAuditLabeler(await loadAuditRules());
  const audit = await writeSource(store, 'audit', 'auditfindings_CL', auditItems(events, labeler));
  const kubeEvents = await writeSource(store, 'events', 'kubeevents_CL', eventRows(scenario.objects));
  const history = await writeSource(store, 'commandhistory', 'commandhistory_CL', historyRows(scenario.containers ?? {}), [COLLECTOR_ACTION]);

  const manifest = buildManifest({
    runId,
    caseId: 'case-compromise',
    cluster: { server: 'https://aks-prod-dns.hcp.westeurope.azmk8s.io:443', name: 'aks-prod' },
    collector: { tool: 'aks-evidence', version: '0.1.0', host: 'test', runtime: 'cli', ...(options.identity ? { identity: options.identity } : {}) },
    request: { caseId: 'case-compromise', sources: ['audit', 'events', 'commandhistory'], sinceSeconds: 86400 },
    startedAt: RUN_STARTED,
    endedAt: RUN_ENDED,
    artifacts: [...audit.refs, ...kubeEvents.refs, ...history.refs],
    sources: { audit: audit.summary, events: kubeEvents.summary, commandhistory: history.summary },
    gaps: [],
    actions: [COLLECTOR_ACTION],
    protection: await store.protection(),
  });
  await writeManifest(store, manifest);
  return { store, dir: `${outDir}/${runId}`, manifest, events };
}
